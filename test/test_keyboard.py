import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from rldg_ros import topics
from rldg_ros.hil.keyboard import KeyboardState
from rldg_ros.qos import RELIABLE_10

BIN = Path(sys.executable).parent


def test_key_presses_drive_axes_for_the_hold_time():
    k = KeyboardState(speed=0.5, hold_s=0.6)
    assert k.press("w", 0.0) and k.press("q", 0.0) and not k.press("z", 0.0)
    np.testing.assert_allclose(k.twist(0.3), [0.5, 0, 0, 0, 0, 0.5])
    k.press("s", 0.4)  # the opposite key wins at once
    assert k.twist(0.5)[0] == -0.5
    np.testing.assert_allclose(k.twist(1.1), 0)  # released: nothing after hold_s
    k.press("v", 2.0)
    assert k.buttons(2.1) == [0, 1] and k.buttons(2.5) == [0, 0]


def test_node_needs_a_terminal(ros_env):
    r = subprocess.run([str(BIN / "keyboard_teleop")], env=ros_env, stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode != 0 and "needs a terminal" in r.stderr


def test_node_publishes_typed_keys(ros_env, ros_context):
    master, slave = pty.openpty()
    proc = subprocess.Popen([str(BIN / "keyboard_teleop")], env=ros_env, stdin=slave, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    node = Node("kbd_probe", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    got = []
    node.create_subscription(Twist, topics.KEYBOARD_TWIST.name, got.append, RELIABLE_10)
    try:
        end = time.monotonic() + 20
        while not got and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.1)
        assert got, "no keyboard/twist"
        got.clear()
        end = time.monotonic() + 3
        while time.monotonic() < end and not any(t.linear.z > 0 for t in got):
            os.write(master, b"r")
            ex.spin_once(timeout_sec=0.05)
        assert any(t.linear.z > 0 for t in got)
    finally:
        node.destroy_node()
        proc.terminate()
        proc.wait(timeout=20)
        os.close(master)
        os.close(slave)
    assert proc.returncode == 0
