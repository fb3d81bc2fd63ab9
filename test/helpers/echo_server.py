"""Peer process for the DDS interface test: echoes every rldg_msgs message, answers every rldg_msgs service.

Message X arrives on ``echo/X/in`` and goes back unchanged on ``echo/X/out``. Service X at ``echo/X`` answers
``success=True`` and ``message=repr(request)`` so the caller can check the request arrived intact.
"""

import signal
import sys
from pathlib import Path

import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

sys.path.insert(0, str(Path(__file__).parent))
from msgfill import all_types  # noqa: E402

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)


def main() -> int:
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = Node("rldg_echo_server")
    keep = []
    for cls in all_types("rldg_msgs.msg"):
        pub = node.create_publisher(cls, f"echo/{cls.__name__}/out", QOS)
        keep.append(node.create_subscription(cls, f"echo/{cls.__name__}/in", lambda m, p=pub: p.publish(m), QOS))
        keep.append(pub)

    def answer(request, response):
        response.success = True
        response.message = repr(request)
        return response

    for cls in all_types("rldg_msgs.srv"):
        keep.append(node.create_service(cls, f"echo/{cls.__name__}", answer))

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    print("ready", flush=True)
    while not stop:
        ex.spin_once(timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
