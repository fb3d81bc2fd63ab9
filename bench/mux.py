"""Latency the intervention_mux adds at 10 Hz: policy action -> mux process -> command, versus the direct hop.

The mux keeps the policy action's header stamp on the command, so both paths are timed from the same stamp.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


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

    def stamp_of(m) -> int:
        return m.header.stamp.sec * 1_000_000_000 + m.header.stamp.nanosec

    node.create_subscription(Action, topics.POLICY_ACTION.name,
                             lambda m: direct.setdefault(stamp_of(m), clock.now().nanoseconds), RELIABLE_10)
    node.create_subscription(Action, topics.COMMAND.name,
                             lambda m: through.setdefault(stamp_of(m), clock.now().nanoseconds), RELIABLE_10)
    pub = node.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
    sent = []
    try:
        deadline = time.monotonic() + 30
        while not through and time.monotonic() < deadline:  # warm up until the mux answers
            m = Action()
            m.header.stamp = clock.now().to_msg()
            pub.publish(m)
            rclpy.spin_once(node, timeout_sec=0.1)
        direct.clear()
        through.clear()
        end, nxt = time.monotonic() + seconds, time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= nxt:
                m = Action()
                m.header.stamp = clock.now().to_msg()
                m.action = [0.3, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]
                sent.append(stamp_of(m))
                pub.publish(m)
                nxt += 0.1
            rclpy.spin_once(node, timeout_sec=0.002)
        time.sleep(0.5)
        for _ in range(50):
            rclpy.spin_once(node, timeout_sec=0.01)
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
