import numpy as np
import pytest

from rldg_ros.safety import CommandRefused, SafetyConfig, Watchdog, check_action, clip_to_workspace, limit_step

CFG = SafetyConfig()


@pytest.mark.parametrize("action, why", [
    ([np.nan, 0, 0, 0, 0, 0, 0], "NaN"),
    ([0, np.inf, 0, 0, 0, 0, 0], "NaN/inf"),
    ([0, 0, 1.5, 0, 0, 0, 0], "exceeds the limit"),
    ([0, 0, 0, 0, 0, 0], "7 values"),
])
def test_bad_commands_are_refused_with_the_reason(action, why):
    with pytest.raises(CommandRefused, match=why):
        check_action(action, CFG)


def test_good_command_passes_unchanged():
    a = [0.1, -0.2, 1.0, 0, 0, -1.0, 1]
    np.testing.assert_array_equal(check_action(a, CFG), a)


def test_step_limits_scale_down_keeping_direction():
    dpos, drot, limited = limit_step(np.array([0.03, 0.04, 0.0]), np.array([0.0, 0.0, 0.05]), CFG)
    assert limited and np.linalg.norm(dpos) == pytest.approx(CFG.max_translation)
    np.testing.assert_allclose(dpos / np.linalg.norm(dpos), [0.6, 0.8, 0.0])
    np.testing.assert_allclose(drot, [0, 0, 0.05])
    _, _, limited = limit_step(np.array([0.001, 0, 0]), np.zeros(3), CFG)
    assert not limited


def test_workspace_box():
    inside = np.array([0.5, 0.0, 0.2])
    assert clip_to_workspace(inside, CFG) == (pytest.approx(inside), False)
    clipped, was = clip_to_workspace(np.array([2.0, -2.0, -1.0]), CFG)
    assert was and np.allclose(clipped, [CFG.workspace_high[0], CFG.workspace_low[1], CFG.workspace_low[2]])


def test_watchdog():
    w = Watchdog(0.2)
    assert w.expired(0.0)  # never fed
    w.feed(1.0)
    assert not w.expired(1.15) and w.expired(1.25)
