"""Human-in-the-loop core: input mapping (deadzone, frames, buttons) and the intervention mux."""

import numpy as np
import pytest

from rldg_ros.hil.mux import (
    MODE_HOLD,
    MODE_HUMAN,
    MODE_PAUSE,
    MODE_POLICY,
    SOURCE_HOLD,
    SOURCE_HUMAN,
    SOURCE_POLICY,
    SOURCE_SCRIPTED,
    InterventionMux,
    MuxConfig,
)
from rldg_ros.hil.spacemouse import InputMapConfig, InputMapper, apply_deadzone
from rldg_ros.sim import make_env
from rldg_ros.sim.geometry import quat_to_mat


def test_deadzone_zeroes_small_inputs_and_stays_continuous():
    out = apply_deadzone(np.array([0.04, -0.04, 0.051, -1.0, 1.0, 0.5]), 0.05)
    assert out[0] == 0 and out[1] == 0
    assert 0 < out[2] < 0.002  # continuous: starts from zero just above the deadzone
    assert out[3] == -1.0 and out[4] == 1.0
    assert out[5] == pytest.approx((0.5 - 0.05) / 0.95)


@pytest.mark.parametrize("task, push, axis", [
    ("connector_insertion/usb", [1, 0, 0, 0, 0, 0], 0),  # TCP yaw 0
    ("pick_place/train", [1, 0, 0, 0, 0, 0], 0),  # TCP yaw 90 deg: the wrist frame is turned
    ("pick_place/train", [0, 1, 0, 0, 0, 0], 1),
    ("pick_place/train", [0, 0, 1, 0, 0, 0], 2),  # up is up, whatever the gripper's orientation
])
def test_spacemouse_push_moves_the_tcp_along_the_same_base_axis(task, push, axis):
    """The operator pushes along a base axis: the real cell's TCP must move along that axis, not another."""
    env = make_env(task, wrist_camera=False)
    mapper = InputMapper(InputMapConfig(deadzone=0.0))
    try:
        env.reset(seed=0)
        start = env.tcp_pose()[0]
        for _ in range(5):
            a = mapper.to_action(np.array(push, float) * 0.6, quat_to_mat(env.tcp_pose()[1]))
            a[6] = env.gripper_cmd
            env.step(a)
        moved = env.tcp_pose()[0] - start
    finally:
        env.close()
    assert moved[axis] > 0.01, moved  # 3 cm commanded; the impedance lags, the direction is what counts
    others = [i for i in range(3) if i != axis]
    assert np.all(np.abs(moved[others]) < 0.3 * moved[axis]), moved


def test_device_yaw_maps_device_axes_to_base_axes():
    mapper = InputMapper(InputMapConfig(deadzone=0.0, device_yaw_deg=90.0))
    np.testing.assert_allclose(mapper.base_command([1, 0, 0, 0, 0, 0])[:3], [0, 1, 0], atol=1e-12)
    flipped = InputMapper(InputMapConfig(deadzone=0.0, axis_signs=[-1, 1, 1, 1, 1, 1]))
    np.testing.assert_allclose(flipped.base_command([1, 0, 0, 0, 0, 0])[:3], [-1, 0, 0], atol=1e-12)


def test_gripper_buttons_latch():
    m = InputMapper(InputMapConfig())
    assert m.gripper == 1.0
    assert m.buttons([0, 1])  # open pressed
    assert m.gripper == -1.0
    assert not m.buttons([0, 0]) and m.gripper == -1.0  # released: stays open
    m.buttons([1, 0])
    assert m.gripper == 1.0
    m.buttons([1, 1])  # both: ambiguous, no change
    assert m.gripper == 1.0


POLICY = np.array([0.8, 0.0, -0.4, 0.0, 0.0, 0.1, 1.0])
HUMAN = np.array([-0.5, 0.2, 0.0, 0.0, 0.0, 0.0, 1.0])
ZERO = np.array([0, 0, 0, 0, 0, 0, 1.0])


def run(mux, t, human=None, gripper_pressed=False):
    mux.policy_action(POLICY, t)
    if human is not None:
        mux.human_input(human, t, "spacemouse", gripper_pressed)
    return mux.decide(t)


def test_priority_policy_human_scripted():
    mux = InterventionMux(MuxConfig())
    d = run(mux, 0.0)
    assert d.source == SOURCE_POLICY and not d.intervention and np.allclose(d.action, POLICY)
    mux.scripted_action(np.full(7, 0.3), 0.1)
    d = run(mux, 0.1)
    assert d.source == SOURCE_SCRIPTED and d.intervention
    d = run(mux, 0.2, human=HUMAN)
    assert d.source == SOURCE_HUMAN and d.intervention and np.allclose(d.action, HUMAN)
    assert mux.events[-1] == "takeover by spacemouse"


def test_deadzoned_input_does_not_take_over_but_a_gripper_button_does():
    mux = InterventionMux(MuxConfig())
    assert run(mux, 0.0, human=ZERO).source == SOURCE_POLICY
    d = run(mux, 0.1, human=np.array([0, 0, 0, 0, 0, 0, -1.0]), gripper_pressed=True)
    assert d.source == SOURCE_HUMAN and d.action[6] == -1.0


def test_hand_back_is_ramped_without_jumps():
    cfg = MuxConfig(handback_s=0.5, handback_steps=5)
    mux = InterventionMux(cfg)
    t, outputs = 0.0, []
    for _ in range(5):  # human drives
        outputs.append(run(mux, t, human=HUMAN))
        t += 0.1
    outputs.append(run(mux, t, human=ZERO))  # lets go: still the human's (zero) command while idle
    t += 0.1
    while t < 2.0:
        outputs.append(run(mux, t))
        t += 0.1
    sources = [o.source for o in outputs]
    assert sources[:6] == [SOURCE_HUMAN] * 6 and sources[-1] == SOURCE_POLICY
    acts = np.array([o.action[:6] for o in outputs])
    first_policy = sources.index(SOURCE_POLICY)
    steps = np.abs(np.diff(acts[first_policy - 1:], axis=0)).max(axis=1)
    assert steps.max() <= 0.2 * np.abs(POLICY[:6]).max() + 1e-9  # never more than one ramp step
    np.testing.assert_allclose(acts[-1], POLICY[:6])
    assert "hand-back to the policy" in mux.events


def test_stale_input_during_takeover_stops_it_and_holds():
    mux = InterventionMux(MuxConfig(stale_s=0.5))
    run(mux, 0.0, human=HUMAN)
    assert mux.taken_over
    d = run(mux, 0.3)  # driver silent but not yet stale: still the human's last command
    assert d.source == SOURCE_HUMAN
    d = run(mux, 0.7)  # silent for 0.7 s after an ACTIVE command: the driver died
    assert d.source == SOURCE_HOLD and np.allclose(d.action[:6], 0) and mux.mode == MODE_HOLD
    assert "stale" in mux.events[-1]
    assert run(mux, 2.0).source == SOURCE_HOLD  # stays held: the policy does not silently get control back
    mux.set_mode(MODE_POLICY)  # the operator re-arms the policy: ramped in
    d = run(mux, 2.1)
    assert d.source == SOURCE_POLICY and np.allclose(d.action[:6], POLICY[:6] / 5)


def test_silence_after_a_release_is_not_stale():
    mux = InterventionMux(MuxConfig(stale_s=0.5, handback_s=0.5))
    run(mux, 0.0, human=HUMAN)
    run(mux, 0.1, human=ZERO)  # released; spacenav then goes quiet, as it does when the puck is still
    t, d = 0.2, None
    while t < 3.0:
        d = run(mux, t)
        t += 0.1
    assert d.source == SOURCE_POLICY and mux.mode == MODE_POLICY


def test_modes():
    mux = InterventionMux(MuxConfig())
    assert mux.set_mode(MODE_PAUSE) == MODE_POLICY
    d = run(mux, 0.0, human=HUMAN)
    assert d.source == SOURCE_HOLD and np.allclose(d.action[:6], 0)
    mux.set_mode(MODE_HUMAN)
    d = run(mux, 0.1, human=HUMAN)
    assert d.source == SOURCE_HUMAN and np.allclose(d.action, HUMAN)
    d = run(mux, 0.2, human=ZERO)  # human mode, human idle: hold still, ignore the policy
    assert d.source == SOURCE_HUMAN and np.allclose(d.action[:6], 0)
    mux.set_mode(MODE_HOLD)
    assert run(mux, 0.3).source == SOURCE_HOLD
    with pytest.raises(ValueError):
        mux.set_mode(9)


def test_no_fresh_policy_action_sends_nothing():
    mux = InterventionMux(MuxConfig(policy_timeout_s=0.3))
    mux.policy_action(POLICY, 0.0)
    assert mux.decide(0.1).action is not None
    assert mux.decide(0.5).action is None  # the bridge's watchdog then holds


def test_rules_stuck_region_min_steps_and_success():
    from rldg_ros.hil.rules import InterventionRules, InterventionRulesConfig

    r = InterventionRules(InterventionRulesConfig(policy="expert", stuck_steps=5, stuck_distance=0.003, min_steps=3))
    p = np.array([0.5, 0.0, 0.2])
    fired = [r.update(p + [0.001 * k, 0, 0]) for k in range(5)]  # moving 1 mm/step: progress
    assert not any(fired)
    fired = []
    for _ in range(10):  # no more progress: fires once the 5-step window holds < 3 mm of travel
        fired.append(r.update(p))
        if fired[-1]:
            break
    assert fired[-1] and r.reason == "stuck" and 3 <= len(fired) <= 6
    assert [r.update(p + [0.01 * k, 0, 0]) for k in range(1, 4)] == [True, True, False]  # min_steps, then back
    assert not r.update(p, success=True)
    box = InterventionRules(InterventionRulesConfig(policy="expert", stuck_steps=0, region_enabled=True,
                                                    region_low=[0.4, -0.1, 0.0], region_high=[0.6, 0.1, 0.3]))
    assert not box.update(np.array([0.5, 0.0, 0.1]))
    assert box.update(np.array([0.65, 0.0, 0.1])) and box.reason == "left the region"
    always = InterventionRules(InterventionRulesConfig(policy="expert", always=True))
    assert all(always.update(p) for _ in range(20))
    with pytest.raises(ValueError, match="3 values"):
        InterventionRules(InterventionRulesConfig(region_low=[0.0]))


def test_rules_no_progress_fires_on_a_wandering_policy_and_not_on_a_converging_one():
    from rldg_ros.hil.rules import InterventionRules, InterventionRulesConfig

    cfg = InterventionRulesConfig(policy="expert", stuck_steps=0, progress_steps=10, progress_distance=0.003,
                                  min_steps=2)
    r = InterventionRules(cfg)
    p = np.array([0.5, 0.0, 0.2])
    # closing in 2 mm per step: never fires (the best improves by > 3 mm at least every other step)
    assert not any(r.update(p, goal_distance=0.2 - 0.002 * k) for k in range(50))
    # circling at 5 cm from the goal, moving 1 cm per step (the stuck rule would not see it): fires after 10 steps
    r.reset()
    fired = [r.update(p + [0.01 * np.cos(k), 0.01 * np.sin(k), 0], goal_distance=0.05 + 0.001 * (k % 3))
             for k in range(15)]
    assert fired.index(True) == 10 and r.reason == "no progress"
    assert not r.update(p, success=True, goal_distance=0.05)
    # a new episode starts with a fresh best; no goal distance (a real robot): the rule stays silent
    r.reset()
    assert not any(r.update(p) for _ in range(40))
