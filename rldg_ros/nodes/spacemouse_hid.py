"""``spacemouse_hid``: publishes ``spacenav/twist`` and ``spacenav/joy`` from a SpaceMouse read over HID, for
machines without the spacenav driver. Exits with a clear error when no device is present."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from geometry_msgs.msg import Twist
from sensor_msgs.msg import Joy

from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.hil.hid_spacemouse import NoDeviceError, SpaceMouseState, open_device, parse_report
from rldg_ros.nodes.base import RldgNode, paced
from rldg_ros.nodes.convert import joy_msg, twist_msg
from rldg_ros.qos import RELIABLE_10


@dataclass
class SpaceMouseHidConfig:
    publish_hz: float = param(50.0, min=5.0, max=500.0, help="publish rate while the device is connected")


class SpaceMouseHid(RldgNode):
    CONFIG = SpaceMouseHidConfig
    DEFAULT_NAME = "spacemouse_hid"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        try:
            self.dev, info = open_device()
        except NoDeviceError as exc:
            self.get_logger().fatal(str(exc))
            raise
        self.get_logger().info(f"reading {info.get('product_string', 'SpaceMouse')} over HID")
        self.state = SpaceMouseState()
        self.pub_twist = self.create_publisher(Twist, topics.SPACENAV_TWIST.name, RELIABLE_10)
        self.pub_joy = self.create_publisher(Joy, topics.SPACENAV_JOY.name, RELIABLE_10)
        self.stopping = threading.Event()
        self.loop = threading.Thread(target=self._run, daemon=True)
        self.loop.start()

    def _run(self) -> None:
        try:
            for _ in paced(1.0 / self.cfg.publish_hz, self.stopping):
                while report := self.dev.read(64):
                    try:
                        parse_report(report, self.state)
                    except ValueError as exc:
                        self.get_logger().warning(str(exc), throttle_duration_sec=5.0)
                v = self.state.twist()
                self.pub_twist.publish(twist_msg(v))
                self.pub_joy.publish(joy_msg(self.get_clock().now().to_msg(), self.state.button_list(), v))
        except OSError as exc:
            self.fail(f"SpaceMouse disconnected: {exc}")

    def shutdown(self) -> None:
        self.stopping.set()
        self.loop.join(timeout=2)
        self.dev.close()
