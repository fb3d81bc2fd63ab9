"""From a 6-D input device (SpaceMouse via spacenav, or a keyboard) to a wrist-frame rldg action.

The operator thinks in the robot's base frame: pushing the puck away moves the TCP away. The device's axes are
mapped to the base frame by ``device_to_base`` (a rotation about the vertical, plus per-axis signs, set once for
where the device sits on the bench); the base-frame command is then rotated into the **wrist frame** of the
current TCP orientation, because rldg actions are wrist-frame deltas. Getting this last step wrong makes the robot
move the wrong way as soon as the gripper is rotated (the bug reported against SERL/HIL-SERL): it is tested.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rldg_ros.config import param
from rldg_ros.spec import ACTION_DIM, ACTION_MOTION, ACTION_POS, ACTION_ROT, GRIPPER_DIM


@dataclass
class InputMapConfig:
    deadzone: float = param(0.05, min=0.0, max=0.5, help="|input| below this reads as zero (per axis)")
    scale_translation: float = param(1.0, min=0.0, max=10.0, help="device units -> action units (x, y, z)")
    scale_rotation: float = param(1.0, min=0.0, max=10.0, help="device units -> action units (rx, ry, rz)")
    device_yaw_deg: float = param(0.0, min=-180.0, max=180.0, help="device x axis relative to base x, about +z")
    axis_signs: list[float] = param([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], help="+-1 per axis after the yaw")
    close_button: int = param(0, min=0, max=31, help="spacenav/joy button that closes the gripper")
    open_button: int = param(1, min=0, max=31, help="spacenav/joy button that opens the gripper")


def apply_deadzone(v: np.ndarray, dz: float) -> np.ndarray:
    """Zero below ``dz``; above it rescaled so the output is continuous (starts at 0) and still reaches 1."""
    v = np.asarray(v, dtype=float)
    if dz <= 0:
        return v.copy()
    mag = np.abs(v)
    return np.where(mag < dz, 0.0, np.sign(v) * (mag - dz) / (1.0 - dz))


def _rz(deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


class InputMapper:
    """device twist (6,) [+ buttons] -> wrist-frame action (7,) for a given TCP rotation."""

    def __init__(self, cfg: InputMapConfig) -> None:
        if len(cfg.axis_signs) != 6:
            raise ValueError(f"axis_signs needs 6 values, got {len(cfg.axis_signs)}")
        self.cfg = cfg
        self.device_to_base = _rz(cfg.device_yaw_deg)
        self.signs = np.asarray(cfg.axis_signs, dtype=float)
        self.gripper = 1.0  # latched: +1 closed, -1 open

    def buttons(self, pressed: list[int]) -> bool:
        """Update the latched gripper from joystick buttons; True when a gripper button is down."""
        c = self.cfg
        close = len(pressed) > c.close_button and pressed[c.close_button]
        open_ = len(pressed) > c.open_button and pressed[c.open_button]
        if close and not open_:
            self.gripper = 1.0
        elif open_ and not close:
            self.gripper = -1.0
        return bool(close or open_)

    def base_command(self, twist: np.ndarray) -> np.ndarray:
        """Device twist -> (6,) base-frame command in action units, after deadzone, signs, yaw and scaling."""
        v = apply_deadzone(np.asarray(twist, dtype=float), self.cfg.deadzone) * self.signs
        lin = self.device_to_base @ v[:3] * self.cfg.scale_translation
        ang = self.device_to_base @ v[3:] * self.cfg.scale_rotation
        return np.concatenate([lin, ang])

    def to_action(self, twist: np.ndarray, tcp_rotation: np.ndarray) -> np.ndarray:
        """Wrist-frame action (7,): base-frame command rotated by R_tcp^T, clipped to [-1, 1], + gripper."""
        cmd = self.base_command(twist)
        r = np.asarray(tcp_rotation, dtype=float).reshape(3, 3)
        a = np.empty(ACTION_DIM)
        a[ACTION_POS] = r.T @ cmd[:3]
        a[ACTION_ROT] = r.T @ cmd[3:]
        a[ACTION_MOTION] = np.clip(a[ACTION_MOTION], -1.0, 1.0)
        a[GRIPPER_DIM] = self.gripper
        return a
