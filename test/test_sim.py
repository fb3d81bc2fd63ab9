"""The MuJoCo cell: determinism, input checks, physics sanity, and the scripted demonstrators."""

import mujoco
import numpy as np
import pytest

from rldg_ros.sim import make_env, task_ids
from rldg_ros.sim.geometry import quat_mul, yaw_quat
from rldg_ros.sim.policies import make_policy
from rldg_ros.sim.tasks import make_task
from rldg_ros.sim.tasks.base import DOWN
from rldg_ros.sim.tasks.fmb_assembly import INSERT_START_Z
from rldg_ros.sim.tasks.peg import CONNECTORS, PEG_OUT, PORT_HEIGHT, PORT_POS


def run_episode(env, policy_name, seed):
    obs, info = env.reset(seed=seed)
    policy = make_policy(policy_name, env, seed)
    for _ in range(env.task.time_limit):
        obs, _, terminated, truncated, info = env.step(policy.act(obs))
        if terminated or truncated:
            break
    return info["success"], env.steps


@pytest.fixture(scope="module")
def usb():
    env = make_env("connector_insertion/usb", wrist_camera=False)
    yield env
    env.close()


def test_registry():
    ids = task_ids()
    for name in CONNECTORS:
        assert f"connector_insertion/{name}" in ids
    assert {"pick_place/train", "pick_place/unseen", "fmb_insertion", "fmb_assembly",
            "fmb_assembly/insertion"} <= set(ids)
    seen_connectors = {t for t in task_ids(seen=True) if t.startswith("connector_insertion/")}
    assert seen_connectors == {f"connector_insertion/{n}" for n in ("usb", "ethernet", "vga")}
    assert "pick_place/unseen" in task_ids(seen=False)
    with pytest.raises(KeyError, match="unknown task 'nope'"):
        make_task("nope")


def test_reset_is_deterministic_per_seed():
    env = make_env("connector_insertion/vga")
    try:
        a, _ = env.reset(seed=7)
        b, _ = env.reset(seed=7)
        c, _ = env.reset(seed=8)
        np.testing.assert_array_equal(a["state"], b["state"])
        np.testing.assert_array_equal(a["wrist"], b["wrist"])
        assert not np.allclose(a["state"][:3], c["state"][:3])
        assert a["wrist"].shape == (128, 128, 3) and a["wrist"].dtype == np.uint8
        assert a["wrist"].std() > 5  # a real picture, not a blank buffer
    finally:
        env.close()


def test_start_distribution_matches_the_paper(usb):
    """Start uniformly in a 10x10 cm plane 5 cm above the port."""
    tips = []
    for seed in range(30):
        usb.reset(seed=seed)
        tips.append(usb.task.tip(usb))
    tips = np.array(tips)
    assert np.all(np.abs(tips[:, :2] - PORT_POS) <= 0.05 + 1e-3)
    assert np.ptp(tips[:, 0]) > 0.06 and np.ptp(tips[:, 1]) > 0.06  # spread over the plane
    np.testing.assert_allclose(tips[:, 2], PORT_HEIGHT + 0.05, atol=1e-3)


def test_bad_actions_are_refused_or_clipped(usb):
    usb.reset(seed=0)
    with pytest.raises(ValueError, match="NaN"):
        usb.step(np.array([np.nan, 0, 0, 0, 0, 0, 1]))
    with pytest.raises(ValueError, match="shape"):
        usb.step(np.zeros(6))
    before = usb.tcp_pose()[0]
    usb.step(np.array([0, 0, 0, 0, 0, 0, 1.0]) + np.array([0, 0, -50.0, 0, 0, 0, 0]))  # clipped to one step
    moved = np.linalg.norm(usb.tcp_pose()[0] - before)
    assert moved <= usb.cfg.action_scale_pos * 1.05


def _descend(env, xy_offset, steps=30, speed=0.4):
    """Hold the tip over port + offset (feedback on the tip) and press down along -z."""
    env.reset(seed=0)
    q = quat_mul(yaw_quat(0.0), DOWN)
    tip0 = np.array([PORT_POS[0] + xy_offset, PORT_POS[1], PORT_HEIGHT + 0.004])
    env.data.qpos[env.arm_qadr] = env.solve_ik(tip0 + [0, 0, PEG_OUT], q, env.controller.q_posture)
    env.data.qvel[:] = 0
    mujoco.mj_forward(env.model, env.data)
    env.controller.set_target(tip0 + [0, 0, PEG_OUT], q)
    forces, depths = [], []
    for _ in range(steps):
        rot = env.data.site_xmat[env.tcp_site].reshape(3, 3)
        tip = env.task.tip(env)
        world = np.array([(tip0[0] - tip[0]) / env.cfg.action_scale_pos, (tip0[1] - tip[1]) / env.cfg.action_scale_pos,
                          -speed])
        a = np.zeros(7)
        a[:3] = rot.T @ np.clip(world, -1, 1)
        a[6] = 1.0
        env.step(a)
        forces.append(env.contact_wrench()[2])
        depths.append(env.task.insertion_depth(env))
    return np.array(depths), np.array(forces)


def test_aligned_insertion_succeeds(usb):
    depths, forces = _descend(usb, 0.0)
    assert depths[-1] >= 0.012 and usb.task.success(usb)
    assert forces.max() < 15.0


@pytest.mark.parametrize("connector", ["usb", "type_c", "xlr"])
def test_insertion_cutoff_follows_the_clearance(connector):
    """Inside the half clearance the peg goes in; 0.4 mm beyond it the peg stops on the rim.

    (Measured cutoff: half clearance + 0.25 mm for every connector, from the arm's compliance on the rim at 4 N.)
    """
    env = make_env(f"connector_insertion/{connector}", wrist_camera=False)
    try:
        half = env.task.conn.clearance / 2
        assert _descend(env, half - 0.0001)[0][-1] >= 0.012
        assert _descend(env, half + 0.0004)[0].max() < 0.0005
    finally:
        env.close()


@pytest.mark.parametrize("offset_mm", [0.8, 1.0, 2.0])
def test_misalignment_jams_with_bounded_force(usb, offset_mm):
    """USB: 0.8 mm total clearance. A jammed peg pushes with stiffness x commanded overtravel, no more."""
    depths, forces = _descend(usb, offset_mm / 1000)
    assert depths.max() < 0.0005  # never enters, never tunnels through the rim
    k = usb.cfg.impedance.stiffness_pos
    step = 0.4 * usb.cfg.action_scale_pos
    assert forces[-5:].mean() == pytest.approx(k * step, rel=0.25)  # force = stiffness x commanded overtravel
    assert forces.max() < 2 * k * step
    assert np.all(np.isfinite(usb.state_vector()))


def test_random_actions_stay_in_the_workspace_and_do_not_explode(usb):
    obs, _ = usb.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        obs, *_ = usb.step(rng.uniform(-1, 1, 7))
        tcp = obs["state"][:3]
        assert np.all(tcp >= usb.task.ws_low - 0.01) and np.all(tcp <= usb.task.ws_high + 0.01)
        assert np.all(np.isfinite(obs["state"]))
        assert np.abs(usb.data.qvel[usb.arm_dofs]).max() < 3.0
        assert usb.task.insertion_depth(usb) < 0.03  # the peg never passes through the port's walls


@pytest.mark.parametrize("task_id", task_ids())
def test_expert_succeeds_on_every_task(task_id):
    env = make_env(task_id, wrist_camera=False)
    try:
        results = [run_episode(env, "expert", seed) for seed in range(20)]
    finally:
        env.close()
    assert sum(s for s, _ in results) >= 19, results  # >= 95 %


@pytest.mark.parametrize("task_id", ["connector_insertion/usb", "connector_insertion/ethernet",
                                     "connector_insertion/vga", "pick_place/train", "fmb_insertion",
                                     "fmb_assembly/insertion"])
def test_human_like_is_less_successful_or_slower(task_id):
    env = make_env(task_id, wrist_camera=False)
    try:
        expert = [run_episode(env, "expert", seed) for seed in range(10)]
        human = [run_episode(env, "human_like", seed) for seed in range(10)]
    finally:
        env.close()
    rate = lambda r: sum(s for s, _ in r)
    steps = lambda r: np.mean([n for s, n in r if s]) if rate(r) else np.inf
    assert rate(human) < rate(expert) or steps(human) > 1.3 * steps(expert)
    assert rate(human) >= 2  # still a demonstrator, not noise


def test_pick_place_unseen_changes_object_and_table():
    train, unseen = make_task("pick_place/train"), make_task("pick_place/unseen")
    assert train.item.name != unseen.item.name and train.item.rgba != unseen.item.rgba
    assert train.table_rgba != unseen.table_rgba and unseen.table_texture != train.table_texture


def test_fmb_insertion_board_is_randomised_in_position_and_yaw():
    env = make_env("fmb_insertion", wrist_camera=False)
    try:
        poses = []
        for seed in range(20):
            env.reset(seed=seed)
            poses.append([*env.task.port_xy, env.task.port_yaw])
        # the privileged yaw feature follows the hexagon's symmetry: it stays within +-30 degrees while the wrist
        # turns through more than 60 degrees, and it moves with the wrist
        yaws = []
        for _ in range(25):
            env.step(np.array([0, 0, 0, 0, 0, 1.0, 1.0]))
            yaws.append(env.task.privileged(env)[3])
    finally:
        env.close()
    poses = np.array(poses)
    assert np.ptp(poses[:, 0]) > 0.2 and np.ptp(poses[:, 1]) > 0.2  # within 35 x 35 cm
    assert np.all(np.abs(poses[:, 2]) <= np.pi / 12) and np.ptp(poses[:, 2]) > 0.2  # +-15 deg
    assert np.all(np.abs(yaws) <= np.pi / 6 + 1e-6) and np.ptp(yaws) > 0.5


def test_fmb_assembly_reports_the_phase_boundary():
    env = make_env("fmb_assembly", wrist_camera=False)
    try:
        obs, info = env.reset(seed=0)
        policy = make_policy("expert", env, 0)
        phases = [info["phase"]]
        at_switch, port_xy = None, env.task.port_xy.copy()
        while not (phases[-1] == "insertion" and len(phases) > 1 and info.get("success")):
            obs, _, term, trunc, info = env.step(policy.act(obs))
            phases.append(info["phase"])
            if at_switch is None and info["phase"] == "insertion":
                at_switch = env.tcp_pose()[0]
            if term or trunc:
                break
    finally:
        env.close()
    assert phases[0] == "grasp" and phases[-1] == "insertion" and info["success"]
    carry, switch = phases.index("transport"), phases.index("insertion")
    assert all(p == "grasp" for p in phases[:carry]) and all(p == "transport" for p in phases[carry:switch])
    assert all(p == "insertion" for p in phases[switch:])  # latched: the insertion stage runs to the end
    # the human stage ends where the insertion-only variant starts: the RL specialist's segments continue it
    assert env.task.human_phases == ("grasp", "transport") and env.task.rl_task == "fmb_assembly/insertion"
    assert abs(at_switch[2] - INSERT_START_Z) < 0.02 and np.linalg.norm(at_switch[:2] - port_xy) < 0.025
    # the insertion-only variant starts in the insertion phase, already holding the block
    env = make_env("fmb_assembly/insertion", wrist_camera=False)
    try:
        _, info = env.reset(seed=1)
        assert info["phase"] == "insertion" and env.task.held(env)
    finally:
        env.close()


def test_a_hold_keeps_one_target_while_the_arm_settles(usb):
    """``step(retarget=False)`` (the bridge's hold after its first tick) leaves the arm's target where it was: an
    arm stopped mid-motion returns to that target instead of creeping on with its own momentum."""
    usb.reset(seed=0)
    for _ in range(3):
        usb.step(np.array([0, 0, 1.0, 0, 0, 0, 1]))  # moving up fast (free space above the start)
    usb.step(np.zeros(7))  # the first tick of a hold: the target is where the arm is now
    target = usb.controller.target_pos.copy()
    for _ in range(20):
        usb.step(np.array([0.5, 0.5, 0.5, 0.2, 0, 0, 1]), retarget=False)  # the arm part is ignored
    assert np.array_equal(usb.controller.target_pos, target)
    assert np.linalg.norm(usb.tcp_pose()[0] - target) < 0.002  # settled at the hold target
