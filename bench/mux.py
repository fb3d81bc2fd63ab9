"""Latency the intervention_mux adds at 10 Hz: policy action -> mux process -> command, versus the direct hop.

The mux keeps the policy action's header stamp on the command, so both paths are timed from the same stamp.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from stamped import paced_latency, stamp_ns


def measure(seconds: float = 30.0) -> dict:
    import rclpy
    from rclpy.node import Node

    from rldg_msgs.msg import Action
    from rldg_ros import topics
    from rldg_ros.qos import RELIABLE_10

    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "92"),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "intervention_mux"), "--ros-args", "-p",
                             "input:=spacemouse"], env=env, stderr=subprocess.DEVNULL)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    rclpy.init()
    node = Node("bench_mux")
    clock = node.get_clock()
    direct, through = {}, {}

    node.create_subscription(Action, topics.POLICY_ACTION.name,
                             lambda m: direct.setdefault(stamp_ns(m), clock.now().nanoseconds), RELIABLE_10)
    node.create_subscription(Action, topics.COMMAND.name,
                             lambda m: through.setdefault(stamp_ns(m), clock.now().nanoseconds), RELIABLE_10)
    pub = node.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)

    def publish() -> int:
        m = Action()
        m.header.stamp = clock.now().to_msg()
        m.action = [0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
        pub.publish(m)
        return stamp_ns(m)

    try:
        sent, t = paced_latency(node, publish, through, seconds)
        d = np.array([(direct[s] - s) / 1e6 for s in sent if s in direct])
        t = np.array([(through[s] - s) / 1e6 for s in sent if s in through])
        return {"rate_hz": 10.0, "seconds": seconds, "results": {
            "actions_sent": len(sent), "commands_received": int(t.size),
            "direct_hop_ms_median": float(np.median(d)), "direct_hop_ms_p99": float(np.percentile(d, 99)),
            "through_mux_ms_median": float(np.median(t)), "through_mux_ms_p99": float(np.percentile(t, 99)),
            "added_by_mux_ms_median": float(np.median(t) - np.median(d)),
            "added_by_mux_ms_p99": float(np.percentile(t, 99) - np.percentile(d, 99)),
        }}
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        proc.wait(timeout=20)


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
