"""Demo nodes for the ``smoke`` graph: a talker publishing rldg_msgs/Action and a listener measuring them.

They check, on any machine, that rclpy, the DDS middleware and the custom interfaces work together.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rldg_msgs.msg import Action
from rldg_ros.config import param
from rldg_ros.nodes.base import RldgNode
from rldg_ros.qos import RELIABLE_DEEP

TOPIC = "demo/action"


@dataclass
class DemoTalkerConfig:
    rate_hz: float = param(20.0, min=0.1, max=1000.0, help="publish rate (Hz)")
    amplitude: float = param(0.5, min=0.0, max=1.0, help="amplitude of the sine action")


@dataclass
class DemoListenerConfig:
    report_path: str = param("", help="write a JSON report here at shutdown (empty: don't)")


class DemoTalker(RldgNode):
    CONFIG = DemoTalkerConfig
    DEFAULT_NAME = "demo_talker"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self._pub = self.create_publisher(Action, TOPIC, RELIABLE_DEEP)
        self._step = 0
        self.create_timer(1.0 / self.cfg.rate_hz, self._tick)

    def _tick(self) -> None:
        msg = Action()
        msg.header.stamp = self.get_clock().now().to_msg()
        phase = 2.0 * math.pi * self._step / 50.0
        msg.action = [self.cfg.amplitude * math.sin(phase + k) for k in range(7)]
        msg.source = Action.SOURCE_SCRIPTED
        msg.source_name = self.get_name()
        msg.step = self._step
        self._pub.publish(msg)
        self._step += 1


class DemoListener(RldgNode):
    CONFIG = DemoListenerConfig
    DEFAULT_NAME = "demo_listener"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.received = 0
        self.steps: list[int] = []
        self.latencies_ms: list[float] = []
        self.create_subscription(Action, TOPIC, self._on_action, RELIABLE_DEEP)

    def _on_action(self, msg: Action) -> None:
        now = self.get_clock().now().nanoseconds
        sent = msg.header.stamp.sec * 1_000_000_000 + msg.header.stamp.nanosec
        self.received += 1
        self.steps.append(int(msg.step))
        self.latencies_ms.append((now - sent) / 1e6)

    def report(self) -> dict:
        lat = np.asarray(self.latencies_ms) if self.latencies_ms else np.zeros(1)
        # positions (in arrival order) where the step sequence is not +1: lost or reordered messages
        gaps = [i + 1 for i, d in enumerate(np.diff(self.steps)) if d != 1] if len(self.steps) > 1 else []
        return {
            "received": self.received,
            "first_step": self.steps[0] if self.steps else None,
            "last_step": self.steps[-1] if self.steps else None,
            "out_of_order_or_gaps": len(gaps),
            "gap_positions": gaps,
            "latency_ms_median": float(np.median(lat)),
            "latency_ms_p99": float(np.percentile(lat, 99)),
            "clean_shutdown": True,
        }

    def shutdown(self) -> None:
        if self.cfg.report_path:
            Path(self.cfg.report_path).write_text(json.dumps(self.report(), indent=2))
