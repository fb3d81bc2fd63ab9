import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rldg_ros.hil.hid_spacemouse import NoDeviceError, SpaceMouseState, open_device, parse_report


def test_reports_update_translation_rotation_and_buttons():
    s = SpaceMouseState()
    parse_report(bytes([1]) + struct.pack("<3h", 0, -350, 0), s)  # device y towards the user... pushed away
    parse_report(bytes([2]) + struct.pack("<3h", 0, 0, 175), s)
    parse_report(bytes([3, 0b10, 0]), s)
    v = s.twist()
    np.testing.assert_allclose(v, [1.0, 0.0, 0.0, 0.0, 0.0, -0.5])  # pushed away = ROS +x
    assert s.button_list() == [0, 1]
    parse_report(bytes([1]) + struct.pack("<6h", 350, 0, 0, 0, 0, 0), s)  # 13-byte report: rotation included
    np.testing.assert_allclose(s.twist(), [0, -1.0, 0, 0, 0, 0])


@pytest.mark.parametrize("report", [b"", bytes([9, 1, 2]), bytes([1, 0, 0])])
def test_bad_reports_are_named(report):
    with pytest.raises(ValueError):
        parse_report(report, SpaceMouseState())


def test_no_device_gives_a_clear_error():
    class NoHid:
        @staticmethod
        def enumerate():
            return [{"vendor_id": 0x1234, "path": b"x"}]  # some other HID device

    with pytest.raises(NoDeviceError, match="no 3Dconnexion SpaceMouse found"):
        open_device(NoHid)


def test_node_exits_with_the_message_when_no_device_is_present(ros_env):
    import hid

    if any(d.get("vendor_id") in (0x256F, 0x046D) for d in hid.enumerate()):
        pytest.skip("a SpaceMouse is connected to this machine")
    r = subprocess.run([str(Path(sys.executable).parent / "spacemouse_hid")], env=ros_env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 2
    assert "no 3Dconnexion SpaceMouse found" in r.stderr
