"""Keyboard teleoperation, spacenav-like: keys drive the axes of a twist in the robot's base frame.

    w / s  +x / -x (away / towards you)     a / d  +y / -y (left / right)     r / f  up / down
    q / e  yaw left / right                 c  close gripper (button 0)        v  open gripper (button 1)

A terminal reports key presses (and auto-repeats), not releases: a press drives its axis for ``hold_s`` seconds,
long enough to bridge the auto-repeat delay, so holding a key gives a continuous motion and letting go stops it.
"""

from __future__ import annotations

import numpy as np

KEYMAP = {  # key -> (axis, sign); axes: 0..2 translation x, y, z; 5 yaw
    "w": (0, 1.0), "s": (0, -1.0), "a": (1, 1.0), "d": (1, -1.0), "r": (2, 1.0), "f": (2, -1.0),
    "q": (5, 1.0), "e": (5, -1.0),
}
BUTTONS = {"c": 0, "v": 1}


class KeyboardState:
    def __init__(self, speed: float = 0.6, hold_s: float = 0.6) -> None:
        self.speed, self.hold_s = speed, hold_s
        self.axis_until = np.full(6, -np.inf)
        self.axis_sign = np.zeros(6)
        self.button_until = {b: -np.inf for b in BUTTONS.values()}

    def press(self, key: str, now: float) -> bool:
        """Register a key press; False for keys that mean nothing here."""
        key = key.lower()
        if key in KEYMAP:
            axis, sign = KEYMAP[key]
            self.axis_sign[axis] = sign
            self.axis_until[axis] = now + self.hold_s
            return True
        if key in BUTTONS:
            self.button_until[BUTTONS[key]] = now + 0.2
            return True
        return False

    def twist(self, now: float) -> np.ndarray:
        return np.where(self.axis_until >= now, self.axis_sign * self.speed, 0.0)

    def buttons(self, now: float) -> list[int]:
        return [int(self.button_until[b] >= now) for b in sorted(BUTTONS.values())]
