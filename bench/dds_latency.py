"""DDS round trip of a 128x128 rgb8 sensor_msgs/Image between two processes, at 10 Hz and 100 Hz.

The pinger stamps and publishes images on ``bench/ping``; the echo process (this file with ``--echo``) sends
each one back unchanged on ``bench/pong``; the round trip is measured on one clock. Reports median/p99/max and
drops per rate.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image

QOS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
SIZE = 128


def echo() -> int:
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    node = Node("bench_echo")
    pub = node.create_publisher(Image, "bench/pong", QOS)
    node.create_subscription(Image, "bench/ping", pub.publish, QOS)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    print("ready", flush=True)
    while not stop.is_set():
        ex.spin_once(timeout_sec=0.1)
    node.destroy_node()
    rclpy.shutdown()
    return 0


def _image(seq: int, rng: np.random.Generator) -> Image:
    msg = Image()
    msg.height = msg.width = SIZE
    msg.encoding = "rgb8"
    msg.step = SIZE * 3
    msg.data = rng.integers(0, 256, SIZE * SIZE * 3, dtype=np.uint8).tobytes()
    msg.header.frame_id = str(seq)
    return msg


def measure(rates=(10.0, 100.0), seconds: float = 10.0) -> dict:
    env = dict(os.environ, ROS_AUTOMATIC_DISCOVERY_RANGE=os.environ.get("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST"))
    peer = subprocess.Popen([sys.executable, __file__, "--echo"], env=env, stdout=subprocess.PIPE, text=True)
    assert peer.stdout.readline().strip() == "ready"
    rclpy.init()
    node = Node("bench_ping")
    pub = node.create_publisher(Image, "bench/ping", QOS)
    sent: dict[int, int] = {}
    rtts: dict[int, float] = {}

    def on_pong(msg: Image) -> None:
        seq = int(msg.header.frame_id)
        rtts[seq] = (time.perf_counter_ns() - sent[seq]) / 1e6

    node.create_subscription(Image, "bench/pong", on_pong, QOS)
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    spinner = threading.Thread(target=ex.spin, daemon=True)
    spinner.start()
    try:
        deadline = time.monotonic() + 20
        while pub.get_subscription_count() == 0 or node.count_publishers("bench/pong") == 0:
            assert time.monotonic() < deadline, "echo peer not discovered"
            time.sleep(0.05)
        time.sleep(1.0)
        rng = np.random.default_rng(0)
        results = {}
        seq = 0
        for rate in rates:
            n = int(rate * seconds)
            first = seq
            period = 1.0 / rate
            t0 = time.perf_counter()
            for k in range(n):
                msg = _image(seq, rng)
                target = t0 + k * period
                while (now := time.perf_counter()) < target:
                    time.sleep(min(0.001, target - now))
                sent[seq] = time.perf_counter_ns()
                pub.publish(msg)
                seq += 1
            elapsed = time.perf_counter() - t0
            time.sleep(1.0)
            got = np.array([rtts[s] for s in range(first, seq) if s in rtts])
            results[f"{rate:g}Hz"] = {
                "messages": n,
                "received": int(got.size),
                "dropped": int(n - got.size),
                "achieved_rate_hz": n / elapsed,
                "rtt_ms_median": float(np.median(got)),
                "rtt_ms_p99": float(np.percentile(got, 99)),
                "rtt_ms_max": float(got.max()),
            }
        return {"image": f"{SIZE}x{SIZE} rgb8", "transport": "Fast DDS (rmw_fastrtps_cpp), reliable, 2 processes",
                "seconds_per_rate": seconds, "results": results}
    finally:
        ex.shutdown()
        node.destroy_node()
        rclpy.shutdown()
        peer.terminate()
        peer.wait(timeout=10)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--echo", action="store_true")
    if ap.parse_args().echo:
        sys.exit(echo())
    import json

    print(json.dumps(measure(), indent=2))
