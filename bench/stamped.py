"""Shared by benchmarks that time a message through a node by its header stamp (the node keeps the stamp)."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def stamp_ns(msg) -> int:
    return msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec


def paced_latency(node, publish: Callable[[], int], received: dict[int, int], seconds: float,
                  rate_hz: float = 10.0, warmup_s: float = 60.0) -> tuple[list[int], np.ndarray]:
    """Publish (``publish()`` sends one stamped message and returns its stamp in ns) until the node under test
    answers, then at ``rate_hz`` for ``seconds``. ``received`` maps stamp -> receive time (ns), filled by the
    caller's subscription. Returns (sent stamps, latencies in ms of those received)."""
    import rclpy

    deadline = time.monotonic() + warmup_s
    while not received and time.monotonic() < deadline:
        publish()
        rclpy.spin_once(node, timeout_sec=0.1)
    if not received:
        raise RuntimeError(f"no answer from the node under test within {warmup_s:.0f} s")
    received.clear()
    sent = []
    end, nxt = time.monotonic() + seconds, time.monotonic()
    while time.monotonic() < end:
        if time.monotonic() >= nxt:
            sent.append(publish())
            nxt += 1.0 / rate_hz
        rclpy.spin_once(node, timeout_sec=0.002)
    for _ in range(100):
        rclpy.spin_once(node, timeout_sec=0.01)
    return sent, np.array([(received[s] - s) / 1e6 for s in sent if s in received])
