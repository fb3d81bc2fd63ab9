"""reward_classifier latency at 10 Hz: wrist image published -> Reward (same stamp) received, in another process.

The node runs the default architecture (128x128 input) from a freshly initialised checkpoint: latency depends on the
architecture, not on the trained weights. Also reports the bare jitted forward pass in this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stamped import paced_latency, stamp_ns


def measure(seconds: float = 30.0) -> dict:
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from rldg_msgs.msg import Reward
    from rldg_ros import topics
    from rldg_ros.nodes.convert import image_msg
    from rldg_ros.qos import RELIABLE_10, SENSOR
    from rldg_ros.reward.model import ArchConfig, CheckpointInfo, SuccessClassifier, init_params, save_checkpoint

    tmp = tempfile.TemporaryDirectory()
    arch = ArchConfig()
    _, params = init_params(arch)
    save_checkpoint(tmp.name, CheckpointInfo(arch=arch, threshold=0.5, tasks=["bench"]), params)
    clf = SuccessClassifier.load(tmp.name)
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    clf.probabilities(img[None])
    fwd = []
    for _ in range(200):
        t = time.perf_counter()
        clf.probabilities(img[None])
        fwd.append((time.perf_counter() - t) * 1e3)

    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "93"),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "reward_classifier"), "--ros-args", "-p",
                             f"model:={tmp.name}"], env=env, stderr=subprocess.DEVNULL)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    rclpy.init()
    node = Node("bench_reward")
    clock = node.get_clock()
    received: dict[int, int] = {}

    node.create_subscription(Reward, topics.REWARD.name,
                             lambda m: received.setdefault(stamp_ns(m), clock.now().nanoseconds), RELIABLE_10)
    pub = node.create_publisher(Image, topics.POLICY_IMAGE.name, SENSOR)

    def publish() -> int:
        m = image_msg(img, clock.now().to_msg(), "camera")
        pub.publish(m)
        return stamp_ns(m)

    try:
        sent, lat = paced_latency(node, publish, received, seconds)
        return {"rate_hz": 10.0, "seconds": seconds, "image": [128, 128, 3], "results": {
            "images_sent": len(sent), "rewards_received": int(lat.size),
            "latency_ms_median": float(np.median(lat)), "latency_ms_p99": float(np.percentile(lat, 99)),
            "latency_ms_max": float(lat.max()),
            "forward_ms_median": float(np.median(fwd)), "forward_ms_p99": float(np.percentile(fwd, 99)),
        }}
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        proc.wait(timeout=20)
        tmp.cleanup()


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
