"""Read a 3Dconnexion SpaceMouse directly over HID (hidapi), for machines without the spacenav driver.

Protocol (3Dconnexion HID reports): report 1 = translation x, y, z as little-endian int16 (newer devices append
rotation in the same report, 13 bytes), report 2 = rotation rx, ry, rz, report 3 = button bitmask; full scale is
about +-350 counts. The device frame (x right, y towards the user, z down) is mapped to spacenav's ROS convention
(x forward/away, y left, z up) by ``DEVICE_TO_ROS``; the mapping is a parameter because devices differ.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import numpy as np

VENDOR_IDS = (0x256F, 0x046D)  # 3Dconnexion, and Logitech for older 3Dconnexion devices
FULL_SCALE = 350.0
# ROS axis i = sign * device axis index: (x, y, z) <- (-y, -x, -z), same for rotations
DEVICE_TO_ROS = ((1, -1.0), (0, -1.0), (2, -1.0))


class NoDeviceError(RuntimeError):
    """No SpaceMouse is connected (or it is not readable)."""


@dataclass
class SpaceMouseState:
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))  # raw device counts
    rotation: np.ndarray = field(default_factory=lambda: np.zeros(3))
    buttons: int = 0

    def twist(self) -> np.ndarray:
        """(6,) in spacenav's ROS convention, normalised to about [-1, 1]."""
        out = np.zeros(6)
        for i, (src, sign) in enumerate(DEVICE_TO_ROS):
            out[i] = sign * self.translation[src] / FULL_SCALE
            out[3 + i] = sign * self.rotation[src] / FULL_SCALE
        return np.clip(out, -1.0, 1.0)

    def button_list(self, n: int = 2) -> list[int]:
        return [(self.buttons >> k) & 1 for k in range(n)]


def parse_report(data: bytes | list[int], state: SpaceMouseState) -> SpaceMouseState:
    """Update ``state`` from one HID report; unknown or short reports raise ValueError naming them."""
    data = bytes(data)
    if not data:
        raise ValueError("empty HID report")
    rid = data[0]
    if rid == 1 and len(data) >= 7:
        state.translation = np.array(struct.unpack("<3h", data[1:7]), dtype=float)
        if len(data) >= 13:  # newer devices: rotation in the same report
            state.rotation = np.array(struct.unpack("<3h", data[7:13]), dtype=float)
    elif rid == 2 and len(data) >= 7:
        state.rotation = np.array(struct.unpack("<3h", data[1:7]), dtype=float)
    elif rid == 3 and len(data) >= 2:
        state.buttons = int.from_bytes(data[1:min(len(data), 5)], "little")
    else:
        raise ValueError(f"unexpected HID report id {rid} with {len(data)} bytes")
    return state


def open_device(hid_module=None):
    """Open the first SpaceMouse found; :class:`NoDeviceError` with a clear message otherwise."""
    if hid_module is None:
        import hid as hid_module
    found = [d for d in hid_module.enumerate() if d.get("vendor_id") in VENDOR_IDS]
    if not found:
        raise NoDeviceError("no 3Dconnexion SpaceMouse found over HID (vendor 0x256f/0x046d): connect one, check "
                            "the udev permissions of /dev/hidraw*, or run the spacenav driver instead")
    dev = hid_module.device()
    try:
        dev.open_path(found[0]["path"])
    except OSError as exc:
        raise NoDeviceError(f"found {found[0].get('product_string') or 'a SpaceMouse'} but cannot open it "
                            f"({exc}): check the udev permissions of /dev/hidraw*") from exc
    dev.set_nonblocking(True)
    return dev, found[0]
