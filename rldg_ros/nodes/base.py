"""Base class of rldg nodes and the runner that executes one node as a process."""

from __future__ import annotations

import gc
import importlib
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import rclpy
from rclpy.node import Node

from rldg_ros.config import RESERVED_PARAMETERS, ConfigError, config_from_dict, config_to_params, unflatten
from rldg_ros.executables import NODES
from rldg_ros.hil.hid_spacemouse import NoDeviceError


class RldgNode(Node):
    """An rclpy node whose parameters are a validated config dataclass (``self.cfg``).

    Parameters come from ``--params-file`` / ``-p`` overrides exactly as for any ROS 2 node; an unknown
    parameter, a wrong type or an out-of-range value stops the node with a :class:`ConfigError` naming it.
    Parameters the overrides do not set are declared with their defaults, so ``ros2 param list`` shows them.
    """

    CONFIG: ClassVar[type | None] = None
    DEFAULT_NAME: ClassVar[str] = "rldg_node"
    #: run as its own process on a SingleThreadedExecutor: rclpy's MultiThreadedExecutor re-polls a busy mutually
    #: exclusive group in a loop (the reward node burned ~45 % of a core on 7 frames/s in the RL graph)
    SINGLE_THREADED: ClassVar[bool] = False
    #: at most this long a stopping node keeps spinning until :meth:`drained` (0: it stops at once)
    DRAIN_TIMEOUT_S: ClassVar[float] = 0.0

    def __init__(self, node_name: str | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("automatically_declare_parameters_from_overrides", True)
        super().__init__(node_name or self.DEFAULT_NAME, **kwargs)
        self.fatal_error: str | None = None
        self.finished = False  # set by finish(): the node's job is done, the graph may stop (exit 0)
        self.cfg = self._load_config()

    def fail(self, message: str) -> None:
        """Record an unrecoverable error: the runner stops the graph and exits non-zero."""
        self.get_logger().fatal(message)
        self.fatal_error = message

    def _load_config(self) -> Any:
        if self.CONFIG is None:
            return None
        given = {name: p.value for name, p in self.get_parameters_by_prefix("").items()
                 if name not in RESERVED_PARAMETERS}
        cfg = config_from_dict(self.CONFIG, unflatten(given), source=f"node {self.get_name()!r} parameters")
        for name, value in config_to_params(cfg).items():
            if name not in given and not (isinstance(value, list) and not value):
                self.declare_parameter(name, value)
        return cfg

    def finish(self, message: str) -> None:
        """The node's job is done (e.g. N evaluation episodes): ``rldg up`` stops the graph with success."""
        self.get_logger().info(message)
        self.finished = True

    def begin_drain(self) -> None:
        """The graph is stopping (SIGINT, ``--duration``, a node finished): stop starting new work. The runner keeps
        spinning the node, so it can still send and receive, until :meth:`drained` or ``DRAIN_TIMEOUT_S``."""

    def drained(self) -> bool:
        """True once nothing in flight would be lost by stopping now (polled after :meth:`begin_drain`)."""
        return True

    def shutdown(self) -> None:
        """Called once before the node is destroyed on a clean shutdown; override to flush state."""


def drain_of(nodes: list[RldgNode]) -> tuple[Callable[[], bool], float]:
    """-> (``drain`` for :func:`rldg_ros.up.spin_until_stopped`, its timeout): the first call tells every healthy
    node that the graph is stopping; each call reports whether all of them have drained."""
    begun: list[bool] = []

    def drain() -> bool:
        if not begun:
            begun.append(True)
            for n in nodes:
                if not n.fatal_error:
                    n.begin_drain()
        return all(n.fatal_error or n.drained() for n in nodes)

    return drain, max((n.DRAIN_TIMEOUT_S for n in nodes), default=0.0)


def paced(period: float, stopping: threading.Event, realtime: bool = True) -> Iterator[int]:
    """Yield tick numbers every ``period`` seconds until ``stopping`` is set (a real-time control loop).

    After an overrun the schedule restarts from now instead of bursting to catch up. ``realtime=False`` yields
    back to back (as fast as possible).
    """
    tick, next_t = 0, time.monotonic()
    while not stopping.is_set():
        yield tick
        tick += 1
        if realtime:
            next_t += period
            delay = next_t - time.monotonic()
            if delay > 0:
                stopping.wait(delay)
            else:
                next_t = time.monotonic()


def freeze_heap() -> None:
    """Call once the nodes are built: everything imported and built so far lives as long as the process, so keep
    the cyclic GC from walking it in the middle of a control-rate callback (with JAX loaded a full collection took
    80-400 ms: the reward_classifier's p99 latency went from 85-190 ms to 12 ms, ``make bench``)."""
    gc.collect()
    gc.freeze()


def node_class(executable: str) -> type[RldgNode]:
    if executable not in NODES:
        raise KeyError(f"unknown rldg executable {executable!r}")
    module, cls = NODES[executable].split(":")
    return getattr(importlib.import_module(module), cls)


def run_node(executable: str, argv: list[str] | None = None) -> int:
    """Main of a node process: ``<executable> --ros-args ...``. SIGINT/SIGTERM shut it down cleanly."""
    argv = list(sys.argv if argv is None else argv)
    try:
        cls = node_class(executable)
    except KeyError as exc:
        print(f"error: {exc.args[0]}", file=sys.stderr)
        return 2
    rclpy.init(args=argv, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    node = None
    try:
        node = cls()
        freeze_heap()
        from rldg_ros.spinning import spin_until_stopped

        executor = (rclpy.executors.SingleThreadedExecutor() if cls.SINGLE_THREADED
                    else rclpy.executors.MultiThreadedExecutor())
        executor.add_node(node)
        drain, drain_timeout = drain_of([node])
        healthy = spin_until_stopped(executor, lambda: stop.is_set() or not rclpy.ok() or node.fatal_error
                                     or node.finished, drain=drain, drain_timeout_s=drain_timeout)
        if not healthy or node.fatal_error:
            print(f"error: {executable} stopped: {node.fatal_error or 'a callback raised (see above)'}",
                  file=sys.stderr)
            return 1
        return 0
    except (ConfigError, NoDeviceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        if node is not None:
            node.shutdown()
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
