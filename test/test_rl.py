"""RL core (ROS-free): the agent learns, the transport keeps every transition, the learner survives kill -9."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from rldg_ros.rl.buffer import ReplayBuffer, WriteAheadLog, field_specs
from rldg_ros.rl.spaces import ObsConfig, from_env_action, proprio_features, to_env_action
from rldg_ros.rl.transport import BlobAssembler, Outbox, chunk_blob


def _tiny_batch(rng, n, state_dim=4, action_dim=2):
    """A one-step task: reward = 1 - |a - target(s)|^2 / 2 with target = s[:2] (terminal: no bootstrap)."""
    s = rng.uniform(-0.8, 0.8, (n, state_dim)).astype(np.float32)
    a = rng.uniform(-1, 1, (n, action_dim)).astype(np.float32)
    r = (1.0 - 0.5 * np.sum((a - s[:, :action_dim]) ** 2, -1)).astype(np.float32)
    return {"state": s, "next_state": s, "action": a, "reward": r, "terminal": np.ones(n, np.float32),
            "gripper": np.ones(n, np.int32), "gripper_changed": np.zeros(n, np.float32),
            "intervention": np.zeros(n, np.float32)}


@pytest.mark.slow
def test_sac_learns_a_tiny_task():
    import jax

    from rldg_ros.rl.agent import AgentConfig, SACAgent

    agent = SACAgent(AgentConfig(hidden=[64, 64], batch_size=128, lr=1e-3, utd=2), 4, 2)
    state = agent.init(0)
    rng = np.random.default_rng(0)
    test = _tiny_batch(rng, 256)

    def policy_error(st):
        ap = agent.actor_params(st["params"])
        acts = np.stack([agent.act(ap, {"state": s}, jax.random.PRNGKey(0), deterministic=True)[0]
                         for s in test["state"][:64]])
        return float(np.mean(np.sum((acts - test["state"][:64, :2]) ** 2, -1)))

    err0 = policy_error(state)
    losses = []
    for _ in range(600):
        b = [_tiny_batch(rng, 128) for _ in range(2)]
        state, info = agent.update(state, {k: np.stack([x[k] for x in b]) for k in b[0]})
        losses.append(float(info["critic_loss"]))
    err1 = policy_error(state)
    assert np.mean(losses[-50:]) < 0.3 * np.mean(losses[:20])  # the critic fits Q
    assert err1 < 0.25 * err0 and err1 < 0.05, (err0, err1)  # the actor follows the critic to the target
    assert int(state["step"]) == 600


@pytest.mark.slow
def test_bc_weight_pulls_the_actor_to_the_operators_actions_only_where_the_operator_drove():
    """No reward anywhere (the critic has nothing to say); intervened transitions carry the operator's action
    -s[:2] / 2, the others random actions. With bc_weight the actor's mean follows the operator; without, it does
    not."""
    import jax

    from rldg_ros.rl.agent import AgentConfig, SACAgent

    def batch(rng, n):
        b = _tiny_batch(rng, n)
        op = rng.random(n) < 0.5
        b["action"][op] = -0.5 * b["state"][op, :2]
        b["reward"][:] = 0.0
        b["intervention"] = op.astype(np.float32)
        return b

    errors = {}
    for w in (0.0, 1.0):
        agent = SACAgent(AgentConfig(hidden=[64, 64], batch_size=128, lr=1e-3, utd=1, bc_weight=w), 4, 2)
        state = agent.init(0)
        rng = np.random.default_rng(0)
        for _ in range(300):
            state, info = agent.update(state, {k: v[None] for k, v in batch(rng, 128).items()})
        probe = rng.uniform(-0.8, 0.8, (64, 4)).astype(np.float32)
        ap = agent.actor_params(state["params"])
        acts = np.stack([agent.act(ap, {"state": s}, jax.random.PRNGKey(0), deterministic=True)[0] for s in probe])
        errors[w] = float(np.mean(np.sum((acts + 0.5 * probe[:, :2]) ** 2, -1)))
    assert errors[1.0] < 0.01 and errors[0.0] > 10 * errors[1.0], errors


def test_spaces_roundtrip_and_normalisation():
    full = to_env_action(np.array([0.5, -0.2, 2.0]), "xyz", -1.0)
    assert full.tolist() == pytest.approx([0.5, -0.2, 1.0, 0, 0, 0, -1.0])
    a, g = from_env_action(np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0]), "xyz_yaw")
    assert a.tolist() == pytest.approx([0.1, 0.2, 0.3, 0.6]) and g == 1
    cfg = ObsConfig(pos_center=[0.5, 0.0, 0.1], pos_scale=0.02)
    s = np.zeros(20, np.float32)
    s[:3] = [0.5005, 0.0, 0.1]  # half a millimetre off centre
    s[3:7] = [0, -1, 0, 0]
    f = proprio_features(s, cfg)
    assert f[0] == pytest.approx(0.025, abs=1e-5) and f[3:7].tolist() == pytest.approx([0, -1, 0, 0])
    s[3] = -0.1  # q and -q: the same rotation gets the same features
    assert proprio_features(s, cfg)[3:7].tolist() == pytest.approx([0.1, 1, 0, 0])
    from rldg_ros.rl.demos import observation

    s[0] = np.nan  # a NaN never reaches the networks or the buffers
    with pytest.raises(ValueError, match="NaN/inf"):
        observation(s, None, None, cfg)


def test_outbox_keeps_until_acked_and_resends_from_the_ack():
    box = Outbox(max_pending=5, resend_after_s=1.0)
    for i in range(4):
        box.add(f"t{i}")
    assert [s for s, _ in box.due(now=0.0)] == [1, 2, 3, 4]
    for s in (1, 2, 3, 4):
        box.mark_sent(s, now=0.0)
    assert box.due(now=0.5) == []
    assert box.ack(2) == 2 and len(box) == 2
    assert [s for s, _ in box.due(now=1.5)] == [3, 4]  # unacknowledged too long: resend in order
    box.add("t5")
    box.add("t6")
    box.add("t7")
    assert box.full()


def test_blob_assembler_checks_digest_and_versions():
    data = bytes(range(256)) * 100
    digest, chunks = chunk_blob(data, 1000)
    asm = BlobAssembler()
    out = None
    for i in reversed(range(len(chunks))):  # any order
        out = asm.add(7, i, len(chunks), digest, chunks[i]) or out
    assert out == data and asm.applied == 7
    assert asm.add(6, 0, 1, digest, data) is None  # older than the applied one
    assert asm.add(8, 0, 1, "0" * 64, b"x") is None and asm.rejected == 1


def test_buffer_save_load_and_wal_torn_tail(tmp_path):
    specs = field_specs(3, 2, None)
    b = ReplayBuffer(10, specs)
    for i in range(13):  # wraps around
        b.add({k: np.full(shape, i, dtype) for k, (shape, dtype) in specs.items()})
    b.save(tmp_path / "b.npz")
    c = ReplayBuffer(10, specs)
    c.load(tmp_path / "b.npz")
    assert len(c) == 10 and c.added == 13 and sorted(c.data["reward"].tolist()) == list(range(3, 13))
    wal = WriteAheadLog(tmp_path / "w.log")
    wal.append([("a", 1, {"x": 1}), ("a", 2, {"x": 2})])
    wal.close()
    with open(tmp_path / "w.log", "ab") as f:
        f.write(b"\x40\x00\x00\x00partial")  # a record cut by a crash
    records, torn = WriteAheadLog.read(tmp_path / "w.log", repair=True)
    assert [r[1] for r in records] == [1, 2] and torn == 11
    wal = WriteAheadLog(tmp_path / "w.log")
    wal.append([("a", 3, {"x": 3})])
    wal.close()
    assert [r[1] for r in WriteAheadLog.read(tmp_path / "w.log")[0]] == [1, 2, 3]


_LEARNER_SCRIPT = textwrap.dedent("""
    import json, sys
    import numpy as np
    from rldg_ros.rl.learner import Learner, LearnerConfig
    from rldg_ros.rl.agent import AgentConfig
    run_dir, phase = sys.argv[1], sys.argv[2]
    cfg = LearnerConfig(task="connector_insertion/usb", run_dir=run_dir, demos="none", capacity=5000,
                        checkpoint_every_s=1e9, steps_per_transition=0,
                        agent=AgentConfig(hidden=[32, 32], batch_size=16))
    L = Learner(cfg, tensorboard=False, progress=False)
    if phase == "check":
        print(json.dumps({"online": len(L.online), "step": L.step, "acked": L.acked}), flush=True)
        sys.exit(0)
    rng = np.random.default_rng(0)
    def t(i):
        return {"state": rng.normal(size=20).astype(np.float32), "next_state": rng.normal(size=20).astype(np.float32),
                "action": rng.uniform(-1, 1, 3).astype(np.float32), "gripper": np.int32(1),
                "gripper_changed": np.float32(0), "reward": np.float32(i % 7 == 0), "terminal": np.float32(i % 7 == 0),
                "intervention": np.float32(i % 5 == 0)}
    for i in range(1, 41):
        L.receive("actor-1", i, t(i))
    L.flush()
    for _ in range(30):
        L.train_step()
    L.checkpoint("test")
    ck_step = L.step
    for i in range(41, 66):  # acknowledged after the checkpoint: only the write-ahead log has them
        L.receive("actor-1", i, t(i))
    acked = L.flush()
    for _ in range(10):
        L.train_step()
    print(json.dumps({"checkpoint_step": ck_step, "acked": acked["actor-1"], "online": len(L.online),
                      "interventions": L.online.intervention_count()}), flush=True)
    import time
    time.sleep(600)  # killed here with SIGKILL
""")


@pytest.mark.slow
def test_learner_resumes_after_kill_9(tmp_path):
    script = tmp_path / "learner.py"
    script.write_text(_LEARNER_SCRIPT)
    run_dir = tmp_path / "run"
    p = subprocess.Popen([sys.executable, str(script), str(run_dir), "train"], stdout=subprocess.PIPE, text=True)
    try:
        before = json.loads(p.stdout.readline())
    finally:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    assert p.returncode == -signal.SIGKILL
    assert before["acked"] == 65 and before["online"] == 65
    out = subprocess.run([sys.executable, str(script), str(run_dir), "check"], capture_output=True, text=True,
                         check=True)
    after = json.loads(out.stdout.strip().splitlines()[-1])
    assert after["online"] == before["online"]  # no acknowledged transition lost
    assert after["acked"] == {"actor-1": 65}  # the actor will resend from 66
    assert after["step"] == before["checkpoint_step"] == 30


@pytest.mark.slow
def test_grasp_critic_learns_when_to_close():
    """Discrete gripper: closing pays when s[0] > 0, opening otherwise (one-step, terminal)."""
    import jax

    from rldg_ros.rl.agent import AgentConfig, SACAgent

    agent = SACAgent(AgentConfig(hidden=[32, 32], batch_size=64, lr=3e-3, utd=1), 3, 1, grasp=True)
    state = agent.init(1)
    rng = np.random.default_rng(1)

    def batch(n):
        s = rng.uniform(-1, 1, (n, 3)).astype(np.float32)
        g = rng.integers(0, 2, n).astype(np.int32)
        r = ((g == 1) == (s[:, 0] > 0)).astype(np.float32)
        return {"state": s, "next_state": s, "action": np.zeros((n, 1), np.float32), "reward": r,
                "terminal": np.ones(n, np.float32), "gripper": g, "gripper_changed": np.zeros(n, np.float32),
                "intervention": np.zeros(n, np.float32)}

    for _ in range(300):
        b = batch(64)
        state, info = agent.update(state, {k: v[None] for k, v in b.items()})
    assert "grasp_loss" in info
    ap = agent.actor_params(state["params"])
    probe = np.array([[0.7, 0, 0], [-0.7, 0, 0], [0.4, 0.5, -0.5], [-0.4, -0.5, 0.5]], np.float32)
    g = [agent.act(ap, {"state": s}, jax.random.PRNGKey(0), deterministic=True)[1] for s in probe]
    assert g == [1, 0, 1, 0]


@pytest.mark.slow
def test_pixel_agent_updates_and_acts():
    """The pixel path at a small size (CI-cheap): CNN features + random crop, critic and actor steps, acting."""
    import jax

    from rldg_ros.rl.agent import AgentConfig, SACAgent

    agent = SACAgent(AgentConfig(hidden=[32, 32], batch_size=8, utd=2, latent_dim=16, channels=[8, 8],
                                 embed_features=2), 5, 3, image_size=32)
    state = agent.init(0)
    rng = np.random.default_rng(0)
    n = 8
    b = {"state": rng.normal(size=(2, n, 5)).astype(np.float32), "next_state": rng.normal(size=(2, n, 5)).astype(
        np.float32), "image": rng.integers(0, 255, (2, n, 32, 32, 3), dtype=np.uint8),
         "next_image": rng.integers(0, 255, (2, n, 32, 32, 3), dtype=np.uint8),
         "action": rng.uniform(-1, 1, (2, n, 3)).astype(np.float32), "reward": np.ones((2, n), np.float32),
         "terminal": np.ones((2, n), np.float32), "gripper": np.ones((2, n), np.int32),
         "gripper_changed": np.zeros((2, n), np.float32), "intervention": np.zeros((2, n), np.float32)}
    enc0 = jax.tree_util.tree_leaves(state["params"]["encoder"])[0].copy()
    state, info = agent.update(state, b)
    assert np.isfinite(float(info["critic_loss"])) and int(state["step"]) == 1
    assert not np.allclose(enc0, jax.tree_util.tree_leaves(state["params"]["encoder"])[0])  # the critic trains it
    a, g = agent.act(agent.actor_params(state["params"]), {"state": b["state"][0, 0], "image": b["image"][0, 0]},
                     jax.random.PRNGKey(0))
    assert a.shape == (3,) and np.all(np.abs(a) <= 1) and g == 1


@pytest.mark.slow
def test_direct_loop_uses_the_given_intervener_rules_and_leaves_a_loadable_checkpoint(tmp_path):
    """``rldg rl direct``'s loop: with the 'always' rule every transition is the scripted expert's (an
    intervention); the final checkpoint loads as an RLPolicy that acts in the task's action space."""
    from rldg_ros.hil.rules import InterventionRulesConfig
    from rldg_ros.rl.direct import run_direct
    from rldg_ros.rl.learner import LearnerConfig
    from rldg_ros.rl.policy import RLPolicy

    cfg = LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path), demos="none", capacity=1000,
                        demo_capacity=1000, checkpoint_every_s=1e9)
    cfg.agent.hidden, cfg.agent.batch_size = [32, 32], 16
    history = run_direct(cfg, 60, eval_every=30, eval_episodes=1, intervene="expert",
                         rules_cfg=InterventionRulesConfig(always=True), progress=False)
    assert [h["env_steps"] for h in history] == [30, 60]
    assert history[-1]["interventions"] == 60 and history[-1]["learner_steps"] == 60
    policy = RLPolicy(tmp_path)
    assert policy.meta["online_size"] == 60 and policy.meta["demo_size"] == 60  # interventions go to both buffers
    a = policy.act(np.zeros(20, np.float32))
    assert a.shape == (7,) and np.all(a[3:6] == 0)  # layout xyz: rotation held


def test_policy_refuses_an_observation_of_another_width():
    """A checkpoint trained on other goal features (or another obs mode) is refused with a message, not fed."""
    import jax

    from rldg_ros.rl.agent import AgentConfig, SACAgent

    agent = SACAgent(AgentConfig(hidden=[8, 8]), 24, 4)
    ap = agent.actor_params(agent.init(0)["params"])
    a, _ = agent.act(ap, {"state": np.zeros(24, np.float32)}, jax.random.PRNGKey(0))
    assert a.shape == (4,)
    with pytest.raises(ValueError, match="28 state features, this policy reads 24"):
        agent.act(ap, {"state": np.zeros(28, np.float32)}, jax.random.PRNGKey(0))


def test_report_clock_leaves_out_the_pause_before_a_restart():
    """A run trained 0-100 s, stopped, and restarted on its run_dir at 1000 s for 50 s: 150 s of training."""
    from rldg_ros.rl.report import training_clock

    learner = [{"kind": "demos", "time": 0.0}, {"kind": "train", "time": 90.0}, {"kind": "resume", "time": 1000.0},
               {"kind": "train", "time": 1040.0}]
    episodes = [{"kind": "episode_train", "time": 100.0}, {"kind": "episode_eval", "time": 1050.0}]
    clock = training_clock(learner, episodes)
    assert clock(50.0) == 50.0 and clock(100.0) == 100.0
    assert clock(1000.0) == 100.0 and clock(1050.0) == 150.0
    assert training_clock(learner[:2], episodes[:1])(100.0) == 100.0  # no restart: plain elapsed time


def test_rollout_noise_keeps_its_std_and_its_correlation_time():
    from rldg_ros.rl.spaces import RolloutNoise

    for steps, lag1 in ((1.0, 0.0), (5.0, 0.8)):
        noise = RolloutNoise(0.3, steps, np.random.default_rng(0))
        x = np.stack([noise.sample((3,)) for _ in range(20000)])
        assert abs(x.std() - 0.3) < 0.02  # the stationary std is the one asked for, white or correlated
        r = np.mean([np.corrcoef(x[:-1, i], x[1:, i])[0, 1] for i in range(3)])
        assert abs(r - lag1) < 0.05  # 1 - 1/steps from one step to the next
    noise = RolloutNoise(0.3, 50.0, np.random.default_rng(1))
    a = noise.sample((3,))
    noise.reset()  # a new episode does not carry the last one's offset
    assert np.abs(noise.sample((3,)) - a).max() > 0.05
    with pytest.raises(ValueError, match="steps >= 1"):
        RolloutNoise(0.3, 0.5)


@pytest.mark.slow
def test_cached_embeddings_train_the_head_on_a_frozen_encoder():
    """embed_cache: the replay holds K augmented encodings per frame; updates train the head, actor and critics on
    them and never change the conv encoder; the policy, acting on raw images, learns an image-dependent action."""
    import jax

    from rldg_ros.rl.agent import AgentConfig, SACAgent

    cfg = AgentConfig(hidden=[64, 64], batch_size=64, utd=2, lr=1e-3, latent_dim=16, channels=[8, 8],
                      embed_features=2, embed_cache=3)
    agent = SACAgent(cfg, 2, 1, image_size=32)
    assert agent.cached and agent.embed_dim == 16
    state = agent.init(0)
    agent.frozen_encoder = True
    rng = np.random.default_rng(0)

    def frames(sign):  # the target action is +0.6 on bright frames, -0.6 on dark ones
        base = np.where(sign[:, None, None, None] > 0, 200, 40)
        return np.clip(base + rng.integers(-20, 20, (len(sign), 32, 32, 3)), 0, 255).astype(np.uint8)

    def batch(n):
        sign = rng.choice([-1.0, 1.0], n)
        img = frames(sign)
        z = agent.embed(state["params"], img, jax.random.PRNGKey(int(rng.integers(1 << 30))), crops=3)
        assert z.shape == (n, 3, 16) and z.dtype == np.float16
        z = z[np.arange(n), rng.integers(0, 3, n)]
        a = rng.uniform(-1, 1, (n, 1)).astype(np.float32)
        r = (1.0 - (a[:, 0] - 0.6 * sign) ** 2).astype(np.float32)
        s = np.zeros((n, 2), np.float32)
        return {"state": s, "next_state": s, "embedding": z, "next_embedding": z, "action": a, "reward": r,
                "terminal": np.ones(n, np.float32), "gripper": np.ones(n, np.int32),
                "gripper_changed": np.zeros(n, np.float32), "intervention": np.zeros(n, np.float32)}

    conv0 = np.asarray(state["params"]["encoder"]["encoder"]["conv0"]["kernel"]).copy()
    head0 = np.asarray(state["params"]["encoder"]["project"]["kernel"]).copy()
    probe_sign = np.array([1.0, -1.0] * 8)
    probe = frames(probe_sign)

    def error(st):
        ap = agent.actor_params(st["params"])
        acts = [agent.act(ap, {"state": np.zeros(2, np.float32), "image": im}, jax.random.PRNGKey(0), True)[0][0]
                for im in probe]
        return float(np.mean((np.asarray(acts) - 0.6 * probe_sign) ** 2))

    err0 = error(state)
    for _ in range(400):
        b = [batch(64) for _ in range(2)]
        state, _ = agent.update(state, {k: np.stack([x[k] for x in b]) for k in b[0]})
    assert np.array_equal(conv0, np.asarray(state["params"]["encoder"]["encoder"]["conv0"]["kernel"]))
    assert not np.allclose(head0, np.asarray(state["params"]["encoder"]["project"]["kernel"]))  # the head learns
    err1 = error(state)
    assert err1 < 0.3 * err0 and err1 < 0.06, (err0, err1)


@pytest.mark.slow
def test_learner_with_an_embedding_cache_encodes_once_and_resumes_from_its_log(tmp_path):
    """Transitions arrive with images; the buffers keep K encodings per frame (not the images); a restarted learner
    re-encodes what only its write-ahead log held; updates run on the cached encodings."""
    from rldg_ros.rl.agent import AgentConfig
    from rldg_ros.rl.learner import Learner, LearnerConfig

    def cfg():
        return LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path / "run"), demos="none",
                             capacity=500, checkpoint_every_s=1e9, steps_per_transition=0,
                             obs=ObsConfig(mode="pixels", image_size=32),
                             agent=AgentConfig(hidden=[32, 32], batch_size=8, utd=1, latent_dim=16, channels=[8, 8],
                                               embed_features=2, embed_cache=2))

    rng = np.random.default_rng(0)

    def t(i):
        return {"state": rng.normal(size=20).astype(np.float32), "next_state": rng.normal(size=20).astype(np.float32),
                "image": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                "next_image": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                "action": rng.uniform(-1, 1, 3).astype(np.float32), "gripper": np.int32(1),
                "gripper_changed": np.float32(0), "reward": np.float32(i % 7 == 0),
                "terminal": np.float32(i % 7 == 0), "intervention": np.float32(0)}

    L = Learner(cfg(), tensorboard=False, progress=False)
    assert set(L.online.specs) >= {"embedding", "next_embedding"} and "image" not in L.online.specs
    for i in range(1, 21):
        L.receive("a", i, t(i))
    L.flush()
    assert len(L.online) == 20 and L.online.data["embedding"][:20].shape == (20, 2, 16)
    assert np.abs(L.online.data["embedding"][:20].astype(np.float32)).sum() > 0
    assert L.sample()["embedding"].shape == (1, 8, 16)
    L.train_step()
    L.checkpoint("test")
    for i in range(21, 31):  # only in the write-ahead log
        L.receive("a", i, t(i))
    L.flush()
    L.close()
    R = Learner(cfg(), tensorboard=False, progress=False)
    assert len(R.online) == 30 and R.acked == {"a": 30}
    assert np.abs(R.online.data["embedding"][20:30].astype(np.float32)).sum() > 0
    R.train_step()
    R.close()


def _image_action_dataset(root, n_eps: int = 12, steps: int = 10):
    """RLDS where the action is read from the image: bright frames -> +0.6 along x, dark frames -> -0.6."""
    from rldg_ros.data.rlds import Episode, RldsWriter, encode_jpeg

    rng = np.random.default_rng(0)
    w = RldsWriter(root, "img_act", (32, 32, 3), 20)
    for e in range(n_eps):
        sign = rng.choice([-1.0, 1.0], steps)
        imgs = [encode_jpeg(np.clip(np.full((32, 32, 3), 200 if s > 0 else 40) + rng.integers(-20, 20, (32, 32, 3)),
                                    0, 255).astype(np.uint8)) for s in sign]
        act = np.zeros((steps, 7), np.float32)
        act[:, 0], act[:, 6] = 0.6 * sign, 1.0
        w.write(Episode(imgs, rng.normal(size=(steps, 20)).astype(np.float32), act, np.zeros(steps, np.float32),
                        "x", task="t", success=True), "val" if e % 4 == 0 else "train")
    return w.close()


@pytest.mark.slow
def test_pretrained_visual_encoder_reads_the_image_and_starts_a_cached_pixel_learner(tmp_path):
    """``rldg rl encoder``'s training: the encoder learns what the action needs from the image (validation R^2 on
    held-out episodes); the learner loads it frozen (encoder_checkpoint) and caches its embeddings."""
    from rldg_ros.rl.agent import AgentConfig
    from rldg_ros.rl.encoder import EncoderConfig, load_encoder, train_encoder
    from rldg_ros.rl.learner import Learner, LearnerConfig

    ds = _image_action_dataset(tmp_path / "data")
    meta = train_encoder([ds], tmp_path / "enc", EncoderConfig(image_size=32, channels=[8, 8], embed_features=2,
                                                                 hidden=32, steps=300, eval_every=100),
                         progress=False)
    assert meta["history"][0]["val_motion_r2"] < 0.2 < 0.6 < meta["final_val_motion_r2"], meta["history"]
    arch, enc = load_encoder(tmp_path / "enc")
    assert arch == {"image_size": 32, "channels": [8, 8], "embed_features": 2}
    L = Learner(LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path / "run"), demos="none",
                              capacity=100, checkpoint_every_s=1e9, encoder_checkpoint=str(tmp_path / "enc"),
                              obs=ObsConfig(mode="pixels", image_size=32),
                              agent=AgentConfig(hidden=[16, 16], batch_size=4, utd=1, latent_dim=8, channels=[8, 8],
                                                embed_features=2, embed_cache=2)),
                tensorboard=False, progress=False)
    got = L.state["params"]["encoder"]["encoder"]["conv0"]["kernel"]
    assert np.array_equal(np.asarray(got), np.asarray(enc["conv0"]["kernel"])) and L.agent.frozen_encoder
    L.close()
    with pytest.raises(FileNotFoundError, match="neither a visual encoder"):
        load_encoder(tmp_path)
    # exported with a manifest, as the shipped encoder is: loads, and a damaged file is refused by name
    from rldg_ros.rl.encoder import export_encoder

    shipped = export_encoder(tmp_path / "enc", tmp_path / "shipped", {"training": 1.0})
    assert load_encoder(shipped)[0] == arch
    (shipped / "encoder.msgpack").write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    with pytest.raises(ValueError, match="encoder.msgpack has sha256"):
        load_encoder(shipped)
    with pytest.raises(ValueError, match="set one"):
        Learner(LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path / "run2"), demos="none",
                              encoder_checkpoint=str(tmp_path / "enc"), backbone="octo:x",
                              obs=ObsConfig(mode="pixels", image_size=32)), tensorboard=False, progress=False)


@pytest.mark.slow
def test_a_generalist_as_the_frozen_backbone_of_an_rl_policy(tmp_path):
    """backbone octo:CKPT: the learner keeps the generalist's embedding of each frame (image + instruction + state),
    trains a head on it, and the actor policy loaded from the learner's checkpoint computes the same embedding to
    act; the generalist's parameters never change."""
    import jax

    from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
    from rldg_ros.data.synthetic import write_episodes
    from rldg_ros.rl.actor_policy import ActorPolicy
    from rldg_ros.rl.agent import AgentConfig
    from rldg_ros.rl.learner import Learner, LearnerConfig
    from rldg_ros.vla import octo_style as octo
    from rldg_ros.vla.train_octo import TrainConfig, train

    write_episodes(tmp_path / "bag", episodes=3, steps=8)
    ds = Converter(TopicMap(), ConvertOptions(progress=False)).run([tmp_path / "bag"], tmp_path / "ds", "t").dataset
    tiny = dict(image_size=32, stem=(16, 32), patch=2, width=32, depth=1, heads=2, mlp=64, head_hidden=32,
                head_blocks=1, diffusion_steps=4)
    train([ds], tmp_path / "gen", TrainConfig(max_steps=3, batch_size=4, eval_every=3, checkpoint_every=3,
                                              log_every=1), model_cfg=octo.OctoConfig(**tiny), progress=False)
    gen_params = octo.load(tmp_path / "gen")[0].params

    rng = np.random.default_rng(0)

    def t(i):
        return {"state": rng.normal(size=20).astype(np.float32), "next_state": rng.normal(size=20).astype(np.float32),
                "raw_state": rng.normal(size=20).astype(np.float32),
                "next_raw_state": rng.normal(size=20).astype(np.float32),
                "image": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                "next_image": rng.integers(0, 255, (32, 32, 3), dtype=np.uint8),
                "action": rng.uniform(-1, 1, 3).astype(np.float32), "gripper": np.int32(1),
                "gripper_changed": np.float32(0), "reward": np.float32(i % 5 == 0),
                "terminal": np.float32(i % 5 == 0), "intervention": np.float32(0)}

    L = Learner(LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path / "run"), demos="none",
                              capacity=100, checkpoint_every_s=1e9, steps_per_transition=0,
                              backbone=f"octo:{tmp_path / 'gen'}", obs=ObsConfig(mode="pixels", image_size=32),
                              agent=AgentConfig(hidden=[16, 16], batch_size=4, utd=1, latent_dim=8, embed_cache=2)),
                tensorboard=False, progress=False)
    dim = L.backbone.dim
    assert L.agent.external and L.agent.embed_dim == dim and L.online.data["embedding"].shape[1:] == (2, dim)
    for i in range(1, 13):
        L.receive("a", i, t(i))
    L.flush()
    assert len(L.online) == 12 and np.abs(L.online.data["embedding"][:12].astype(np.float32)).sum() > 0
    head0 = np.asarray(jax.tree_util.tree_leaves(L.state["params"]["encoder"])[0]).copy()
    for _ in range(3):
        L.train_step()
    assert not np.allclose(head0, np.asarray(jax.tree_util.tree_leaves(L.state["params"]["encoder"])[0]))
    L.checkpoint("test")
    L.close()
    for a, b in zip(jax.tree_util.tree_leaves(gen_params), jax.tree_util.tree_leaves(L.backbone.model.params),
                    strict=True):
        assert np.array_equal(np.asarray(a), np.asarray(b))  # frozen

    pol = ActorPolicy(eval_only=True)
    pol.load_checkpoint(str(tmp_path / "run"))
    assert pol.backbone is not None and pol.meta["backbone"] == f"octo:{tmp_path / 'gen'}"
    state = np.zeros(20, np.float32)
    state[:3], state[3:7] = [0.55, 0.0, 0.1], [0, 1, 0, 0]
    obs = pol.observation(state, rng.integers(0, 255, (32, 32, 3), dtype=np.uint8), None)
    assert set(obs) == {"state", "embedding"} and obs["embedding"].shape == (dim,)
    a = pol.act(obs, is_eval=True, first_step=True)
    assert a.shape == (7,) and np.all(np.isfinite(a))


def test_deferred_demos_hold_training_until_they_are_in_and_survive_a_restart(tmp_path):
    """A node's learner publishes parameters and takes transitions before its scripted demos exist; it trains only
    once they are added, and a checkpoint taken before that makes the resumed learner seed them again."""
    import numpy as np

    from rldg_ros.rl.agent import AgentConfig
    from rldg_ros.rl.learner import Learner, LearnerConfig

    def cfg():
        return LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path / "run"), num_demos=1,
                             capacity=2000, checkpoint_every_s=1e9, agent=AgentConfig(hidden=[16, 16], batch_size=8))

    rng = np.random.default_rng(0)

    def t():
        return {"state": rng.normal(size=20).astype(np.float32), "next_state": rng.normal(size=20).astype(np.float32),
                "action": rng.uniform(-1, 1, 3).astype(np.float32), "gripper": np.int32(1),
                "gripper_changed": np.float32(0), "reward": np.float32(0), "terminal": np.float32(0),
                "intervention": np.float32(0)}

    L = Learner(cfg(), tensorboard=False, progress=False, defer_demos=True)
    assert not L.demos_seeded and len(L.demo) == 0
    for i in range(1, 6):
        assert L.receive("actor-1", i, t())
    L.flush()
    assert len(L.online) == 5 and not L.ready()  # transitions are kept, training waits for the demos
    L.checkpoint("before demos")
    L.close()
    R = Learner(cfg(), tensorboard=False, progress=False, defer_demos=True)
    assert R.resumed_from and not R.demos_seeded and len(R.online) == 5 and not R.ready()
    transitions, info = R.demo_transitions()
    assert transitions and len(R.demo) == 0  # computing them touches no buffer
    R.add_demos(transitions, info)
    assert R.ready() and len(R.demo) == len(transitions)
    R.train_step()
    R.checkpoint("after demos")
    R.close()
    S = Learner(cfg(), tensorboard=False, progress=False, defer_demos=True)
    assert S.demos_seeded and len(S.demo) == len(transitions) and S.ready()
    S.close()


def test_the_shipped_visual_encoder_matches_its_manifest():
    from rldg_ros.rl.encoder import SHIPPED, load_encoder
    from rldg_ros.vla.bases import verify

    doc = verify(SHIPPED)
    assert doc is not None and doc["validation"]["val_motion_r2"] > 0.5 and "connector" in doc["corpus"]
    arch, enc = load_encoder(SHIPPED)
    assert arch["image_size"] == 128 and enc["conv0"]["kernel"].shape[-1] == arch["channels"][0]
