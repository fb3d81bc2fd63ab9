"""Spinning an rclpy executor until told to stop, with a drain phase: shared by ``rldg up`` (every node in one
process) and the one-node process runner (``rldg_ros.nodes.base.run_node``). Imports nothing of ROS itself."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


def spin_until_stopped(executor, should_stop, poll_s: float = 0.05, drain: Callable[[], bool] | None = None,
                       drain_timeout_s: float = 0.0) -> bool:
    """Spin ``executor`` on a worker thread until ``should_stop()``; then, if given, keep spinning until ``drain()``
    returns True (called each poll; at most ``drain_timeout_s``), and shut the executor down.

    Returns False when spinning ended by itself (a callback raised and killed the executor thread).
    (Calling ``spin_once`` in a loop on a MultiThreadedExecutor starves timers: 50 Hz timers fired ~5 Hz.)
    """
    worker = threading.Thread(target=executor.spin, name="rldg-executor", daemon=True)
    worker.start()
    while not should_stop() and worker.is_alive():
        time.sleep(poll_s)
    if drain is not None and worker.is_alive():
        until = time.monotonic() + drain_timeout_s
        while not drain() and worker.is_alive() and time.monotonic() < until:
            time.sleep(poll_s)
    healthy = worker.is_alive()
    executor.shutdown()
    worker.join(timeout=10)
    return healthy
