"""``rldg up GRAPH key:=value``: run a graph of the graph spec without ``ros2 launch``.

Default: every node in this process on a multi-threaded executor (like a component container).
``processes=True``: every node as its own process, started with the same ``--ros-args`` a launch file gives.
SIGINT/SIGTERM (or ``duration``) stop the graph; every node gets its ``shutdown()`` and is destroyed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rldg_ros.graphs import ResolvedNode, check_available, get_graph, resolve
from rldg_ros.spinning import spin_until_stopped

#: discovery stays on this host unless the user says otherwise (actor/learner across hosts: set SUBNET)
DEFAULT_ENV = {"ROS_AUTOMATIC_DISCOVERY_RANGE": "LOCALHOST"}


def apply_default_env() -> None:
    for key, value in DEFAULT_ENV.items():
        os.environ.setdefault(key, value)


def parse_launch_args(items: list[str]) -> dict[str, str]:
    """``["task:=pick_place/train", ...]`` -> dict; anything else is an error naming the item."""
    out = {}
    for item in items:
        if ":=" not in item:
            raise ValueError(f"expected key:=value, got {item!r}")
        key, value = item.split(":=", 1)
        out[key] = value
    return out


def find_executable(name: str) -> str:
    """A node's executable: ament layout (``<prefix>/lib/rldg_ros/``) first, then next to this Python."""
    prefix = Path(sys.prefix)
    for candidate in (prefix / "lib" / "rldg_ros" / name, Path(sys.executable).parent / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    raise FileNotFoundError(f"executable {name!r} not found (is rldg_ros installed in this environment?)")


class _Stopper:
    """Turns SIGINT/SIGTERM and an optional deadline into one event."""

    def __init__(self, duration: float | None) -> None:
        self.event = threading.Event()
        self.deadline = None if duration is None else time.monotonic() + duration
        self._old = {sig: signal.signal(sig, self._handle) for sig in (signal.SIGINT, signal.SIGTERM)}

    def _handle(self, signum, frame) -> None:  # noqa: ARG002
        self.event.set()

    def should_stop(self) -> bool:
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.event.set()
        return self.event.is_set()

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def run_in_process(nodes: list[ResolvedNode], duration: float | None, log=print) -> int:
    import rclpy
    from rclpy.executors import MultiThreadedExecutor

    from rldg_ros.nodes.base import drain_of, freeze_heap, node_class

    stopper = _Stopper(duration)
    rclpy.init(signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    executor = MultiThreadedExecutor()
    started = []
    try:
        for n in nodes:
            node = node_class(n.spec.executable)(n.spec.name, cli_args=n.ros_args(), use_global_arguments=False)
            started.append(node)
            executor.add_node(node)
        freeze_heap()
        log(f"up: {len(started)} node(s) in one process: {', '.join(x.get_name() for x in started)}", flush=True)
        drain, drain_timeout = drain_of(started)
        healthy = spin_until_stopped(executor, lambda: stopper.should_stop() or any(
            n.fatal_error or n.finished for n in started), drain=drain, drain_timeout_s=drain_timeout)
        for n in started:
            if n.finished:
                log(f"up: {n.get_name()} finished; stopping the graph", flush=True)
        failed = [f"{n.get_name()}: {n.fatal_error}" for n in started if n.fatal_error]
        if failed or not healthy:
            log(f"up: graph failed: {'; '.join(failed) or 'a callback raised (see above)'}", flush=True)
            return 1
        return 0
    finally:
        executor.shutdown()
        for node in reversed(started):
            try:
                node.shutdown()
            finally:
                executor.remove_node(node)
                node.destroy_node()
        rclpy.shutdown()
        stopper.restore()
        log("up: stopped", flush=True)


@dataclass
class _Proc:
    node: ResolvedNode
    popen: subprocess.Popen | None = None
    crashes: list[float] = field(default_factory=list)  # monotonic times of its crashes
    restart_at: float | None = None  # a respawn waiting for its back-off


def run_processes(nodes: list[ResolvedNode], duration: float | None, log=print, grace_s: float = 20.0,
                  max_restarts: int = 5, restart_window_s: float = 600.0, backoff_s: float = 1.0,
                  backoff_max_s: float = 30.0) -> int:
    """One process per node (as a launch file starts them). A node that exits 0 has finished: the graph stops. One
    that crashes is restarted if its spec says ``respawn`` (back-off 1, 2, 4 ... 30 s; more than ``max_restarts``
    crashes within ``restart_window_s`` stops the graph), else the graph stops with an error. Stopping goes by the
    specs' ``stop_stage``: each stage gets SIGINT and ``grace_s`` to exit (then SIGKILL) before the next one."""
    stopper = _Stopper(duration)
    procs: list[_Proc] = []
    rc = 0

    def start(p: _Proc) -> None:
        p.popen = subprocess.Popen([find_executable(p.node.spec.executable), *p.node.ros_args()])
        p.restart_at = None

    try:
        for n in nodes:
            p = _Proc(n)
            start(p)
            procs.append(p)
        log(f"up: {len(procs)} process(es): {', '.join(f'{p.node.spec.name}[{p.popen.pid}]' for p in procs)}",
            flush=True)
        while not stopper.should_stop():
            now = time.monotonic()
            finished, failed = [], []
            for p in procs:
                if p.restart_at is not None:
                    if now >= p.restart_at:
                        start(p)
                        log(f"up: {p.node.spec.name} respawned [{p.popen.pid}]", flush=True)
                    continue
                code = p.popen.poll()
                if code is None:
                    continue
                if code == 0:
                    finished.append(p.node.spec.name)
                    continue
                p.crashes = [t for t in p.crashes if now - t <= restart_window_s] + [now]
                if p.node.spec.respawn and len(p.crashes) <= max_restarts:
                    delay = min(backoff_max_s, backoff_s * 2 ** (len(p.crashes) - 1))
                    p.restart_at = now + delay
                    log(f"up: {p.node.spec.name} crashed (exit {code}); respawning in {delay:.0f} s "
                        f"({len(p.crashes)} crash(es) in {restart_window_s / 60:.0f} min)", flush=True)
                else:
                    failed.append((p.node.spec.name, code))
            if failed:
                why = "crashed too often" if any(p.node.spec.respawn for p in procs
                                                 if p.node.spec.name in dict(failed)) else "exited early"
                log(f"up: node(s) {why}: {failed}; stopping the graph", flush=True)
                rc = 1
                break
            if finished:
                log(f"up: {', '.join(finished)} finished; stopping the graph", flush=True)
                break
            time.sleep(0.1)
    finally:
        for stage in sorted({p.node.spec.stop_stage for p in procs}):  # each stage stopped before the next
            group = [p for p in procs if p.node.spec.stop_stage == stage]
            for p in group:
                if p.popen is not None and p.popen.poll() is None:
                    p.popen.send_signal(signal.SIGINT)
            deadline = time.monotonic() + grace_s
            for p in group:
                if p.popen is None:
                    continue
                try:
                    p.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    log(f"up: {p.node.spec.name} did not stop within {grace_s:.0f} s; killing it", flush=True)
                    p.popen.kill()
                    p.popen.wait()
                if p.restart_at is None and p.popen.returncode not in (0, None) and rc == 0:  # not awaiting respawn
                    rc = p.popen.returncode if p.popen.returncode > 0 else 1
        stopper.restore()
        log("up: stopped", flush=True)
    return rc


def up(graph_name: str, args: Mapping[str, str], *, processes: bool | None = None, duration: float | None = None,
       log=print) -> int:
    apply_default_env()
    graph = get_graph(graph_name)
    nodes = resolve(graph, args)
    check_available(nodes)
    if processes is None:  # the graph's own default
        processes = graph.processes
    runner = run_processes if processes else run_in_process
    return runner(nodes, duration, log=log)
