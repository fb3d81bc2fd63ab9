"""``keyboard_teleop``: publishes ``keyboard/twist`` and ``keyboard/joy`` from keys typed in its terminal
(see rldg_ros.hil.keyboard for the keys). It needs a terminal: without one it exits with a message saying so."""

from __future__ import annotations

import os
import select
import sys
import termios
import threading
import time
import tty
from dataclasses import dataclass

from geometry_msgs.msg import Twist
from sensor_msgs.msg import Joy

from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.hil.keyboard import KeyboardState
from rldg_ros.nodes.base import RldgNode, paced
from rldg_ros.nodes.convert import joy_msg, twist_msg
from rldg_ros.qos import RELIABLE_10


@dataclass
class KeyboardTeleopConfig:
    publish_hz: float = param(20.0, min=5.0, max=200.0, help="publish rate")
    speed: float = param(0.6, min=0.05, max=1.0, help="axis value while a key is held")
    hold_s: float = param(0.6, min=0.05, max=2.0, help="a key press drives its axis this long")


class KeyboardTeleop(RldgNode):
    CONFIG = KeyboardTeleopConfig
    DEFAULT_NAME = "keyboard_teleop"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        if not os.isatty(sys.stdin.fileno()):
            raise RuntimeError("keyboard_teleop needs a terminal on stdin (run it in its own terminal, or use "
                               "input:=spacemouse)")
        self.keys = KeyboardState(self.cfg.speed, self.cfg.hold_s)
        self.pub_twist = self.create_publisher(Twist, topics.KEYBOARD_TWIST.name, RELIABLE_10)
        self.pub_joy = self.create_publisher(Joy, topics.KEYBOARD_JOY.name, RELIABLE_10)
        self.fd = sys.stdin.fileno()
        self.saved = termios.tcgetattr(self.fd)
        tty.setcbreak(self.fd)
        self.stopping = threading.Event()
        self.loop = threading.Thread(target=self._run, daemon=True)
        self.loop.start()
        self.get_logger().info("keys: w/s a/d r/f move, q/e yaw, c close, v open")

    def _run(self) -> None:
        for _ in paced(1.0 / self.cfg.publish_hz, self.stopping):
            while select.select([self.fd], [], [], 0)[0]:
                ch = os.read(self.fd, 1).decode(errors="ignore")
                if ch:
                    self.keys.press(ch, time.monotonic())
            now = time.monotonic()
            self.pub_twist.publish(twist_msg(self.keys.twist(now)))
            self.pub_joy.publish(joy_msg(self.get_clock().now().to_msg(), self.keys.buttons(now)))

    def shutdown(self) -> None:
        self.stopping.set()
        self.loop.join(timeout=2)
        termios.tcsetattr(self.fd, termios.TCSADRAIN, self.saved)
