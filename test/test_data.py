"""Recording to rosbag2 and converting to RLDS: round trips, other writers, damaged bags, TensorFlow read-back."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rldg_ros.data.bags import BagReport, read_bag, typestore
from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
from rldg_ros.data.rlds import RldsReader
from rldg_ros.data.synthetic import expected_action, expected_x, image_for, write_episodes
from rldg_ros.data.tfrecord import TFRecordError, read_records

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TF_PY = ROOT / ".venv-tf" / "bin" / "python"


def convert(bags, out, name="ds", mapping=None, **opts):
    return Converter(mapping or TopicMap(), ConvertOptions(progress=False, **opts)).run(bags, out, name)


def test_convert_preserves_every_step_and_drops_repeats_and_failures(tmp_path):
    write_episodes(tmp_path / "bag", episodes=3, steps=25, failed=(1,))
    rep = convert([tmp_path / "bag"], tmp_path / "out")
    assert rep.episodes_written == {"train": 2} and rep.steps_written == 50
    assert [s["episode_id"] for s in rep.episodes_skipped] == [1] and "not successful" in \
        rep.episodes_skipped[0]["reason"]
    eps = list(RldsReader(rep.dataset).episodes())
    assert [e["episode_metadata"]["episode_id"] for e in eps] == [0, 2]  # order kept
    for e in eps:
        ep, st = e["episode_metadata"]["episode_id"], e["steps"]
        np.testing.assert_allclose(st["action"], np.stack([expected_action(ep, k) for k in range(25)]), atol=1e-6)
        np.testing.assert_allclose(st["observation"]["state"][:, 0], [expected_x(ep, k) for k in range(25)],
                                   atol=1e-6)
        # the image taken with each state (same stamp), JPEG-close
        img = st["observation"]["image"]
        assert img.shape == (25, 128, 128, 3)
        assert np.abs(img.astype(int) - np.stack([image_for(ep, k, 128) for k in range(25)])).mean() < 3
        assert st["is_first"].tolist() == [True] + [False] * 24 and st["is_last"][-1] and st["is_terminal"][-1]
        assert st["reward"][-1] == 1.0 and st["reward"][:-1].sum() == 0
        assert st["language_instruction"][0] == f"insert the plug {ep}"
        assert e["episode_metadata"]["success"] and e["episode_metadata"]["intervention_fraction"] == \
            pytest.approx(7 / 25)
    stats = json.loads((Path(rep.dataset) / "dataset_statistics.json").read_text())
    assert stats["num_transitions"] == 50 and stats["num_trajectories"] == 2
    all_a = np.concatenate([e["steps"]["action"] for e in eps])
    np.testing.assert_allclose(stats["action"]["q99"], np.quantile(all_a, 0.99, axis=0), atol=1e-5)
    assert stats["proprio"]["std"][19] == 0.0  # a constant dimension (gripper width) has std 0, not NaN

    # --all keeps the failure; a second conversion into the same place is refused, not overwritten
    rep_all = convert([tmp_path / "bag"], tmp_path / "out2", success_only=False)
    assert rep_all.episodes_written == {"train": 3}
    with pytest.raises(FileExistsError, match="already holds a dataset"):
        convert([tmp_path / "bag"], tmp_path / "out")


def test_truncated_bag_converts_intact_episodes_and_reports_the_rest(tmp_path):
    write_episodes(tmp_path / "bag", episodes=4, steps=30)
    mcap = next((tmp_path / "bag").glob("*.mcap"))
    data = mcap.read_bytes()
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "cut.mcap").write_bytes(data[: int(len(data) * 0.8)])  # no metadata.yaml, no summary, a torn chunk
    rep = convert([cut], tmp_path / "out")
    written = rep.episodes_written["train"]
    assert 1 <= written <= 3
    assert any("unreadable after" in p for p in rep.problems)
    assert any("incomplete" in s["reason"] and "truncated" in s["reason"] for s in rep.episodes_skipped)
    report = json.loads((Path(rep.dataset) / "conversion_report.json").read_text())
    assert report["episodes_skipped"] and report["problems"]
    # every converted episode is whole
    assert all(len(e["steps"]["action"]) == 30 for e in RldsReader(rep.dataset).episodes(decode_images=False))


def test_clock_jump_and_empty_episodes_are_reported(tmp_path):
    write_episodes(tmp_path / "a", episodes=3, steps=10, jump_at=(1, 5))
    write_episodes(tmp_path / "b", episodes=2, steps=0)  # START/END with no steps
    rep = convert([tmp_path / "a", tmp_path / "b"], tmp_path / "out")
    assert rep.episodes_written == {"train": 2}  # episodes 0 and 2
    assert [s["episode_id"] for s in rep.episodes_skipped if s["reason"] == "clock jump"] == [1]
    assert any("clock jumped back 100.0" in p and "/rldg/" in p for p in rep.problems)
    assert sum("empty" in s["reason"] for s in rep.episodes_skipped) == 2


def test_a_different_writer_converts_through_a_mapping_file(tmp_path):
    """A bag as `ros2 bag record` would write it on a real cell: franka pose, realsense image, spacenav twist and
    buttons, no episode topic; written with mcap-ros2-support (not our writer)."""
    from mcap_ros2.writer import Writer

    defs = (ROOT / "test" / "helpers" / "msgdefs")
    path = tmp_path / "franka.mcap"
    with open(path, "wb") as f:
        w = Writer(f)
        s_pose = w.register_msgdef("geometry_msgs/msg/PoseStamped", (defs / "PoseStamped.txt").read_text())
        s_img = w.register_msgdef("sensor_msgs/msg/Image", (defs / "Image.txt").read_text())
        s_tw = w.register_msgdef("geometry_msgs/msg/Twist", (defs / "Twist.txt").read_text())
        s_joy = w.register_msgdef("sensor_msgs/msg/Joy", (defs / "Joy.txt").read_text())
        t0 = 1_700_000_000 * 10**9

        def hdr(t):
            return {"stamp": {"sec": t // 10**9, "nanosec": t % 10**9}, "frame_id": "x"}

        twists = {}
        for seg, start in enumerate((0.0, 10.0)):  # two demonstrations 10 s apart: split at the gap
            for i in range(int(3.0 * 1000)):  # 3 s at 1 kHz ticks
                t = t0 + int((start + i / 1000) * 1e9)
                if i % 2 == 0:  # pose at 500 Hz
                    w.write_message("/franka_robot_state_broadcaster/current_pose", s_pose, {
                        "header": hdr(t), "pose": {"position": {"x": 0.4 + i * 1e-5, "y": 0.0, "z": 0.3},
                                                   "orientation": {"x": 1.0, "y": 0.0, "z": 0.0, "w": 0.0}}}, t)
                if i % 33 == 0:  # camera at 30 Hz, 640x480 bgr8
                    img = np.zeros((480, 640, 3), np.uint8)
                    img[..., 0] = 255  # blue in BGR
                    w.write_message("/camera/camera/color/image_raw", s_img, {
                        "header": hdr(t), "height": 480, "width": 640, "encoding": "bgr8", "is_bigendian": 0,
                        "step": 640 * 3, "data": img.tobytes()}, t)
                if i % 20 == 0:  # spacenav at 50 Hz
                    v = 0.35 * np.sin(i / 300)
                    twists[t] = v
                    w.write_message("/spacenav/twist", s_tw, {"linear": {"x": v, "y": 0.0, "z": 0.0},
                                                              "angular": {"x": 0.0, "y": 0.0, "z": 0.0}}, t)
                if i == 1500 and seg == 1:  # button 1: open the gripper halfway through the second demo
                    w.write_message("/spacenav/joy", s_joy, {"header": hdr(t), "axes": [], "buttons": [0, 1]}, t)
        w.finish()
    rep = convert([path], tmp_path / "out", mapping=TopicMap.load(ROOT / "config" / "convert" / "franka_spacenav.yaml"))
    assert rep.episodes_written == {"train": 2}, (rep.episodes_skipped, rep.problems, dict(rep.steps_dropped))
    eps = list(RldsReader(rep.dataset).episodes())
    for k, e in enumerate(eps):
        st = e["steps"]
        assert 29 <= len(st["action"]) <= 33  # 3 s at 10 Hz (+ the last input held for max_age_s)
        assert st["observation"]["state"].shape[1] == 7 and st["observation"]["image"].shape[1:] == (128, 128, 3)
        assert st["observation"]["image"][..., 2].mean() > 200 and st["observation"]["image"][..., 0].mean() < 30
        # spacenav full scale 0.35 -> action 1 (mapping scale), y/z zero
        assert np.abs(st["action"][:, 0]).max() > 0.5 and np.abs(st["action"][:, 1:3]).max() == 0
        grip = st["action"][:, 6]
        assert (grip == 1).all() if k == 0 else (grip[0] == 1 and grip[-1] == -1)
        assert e["episode_metadata"]["intervention_fraction"] == 1.0
        assert st["language_instruction"][0] == "insert the connector"
    # unknown mapping keys are an error naming them
    bad = tmp_path / "bad.yaml"
    bad.write_text("image_topc: /x\n")
    with pytest.raises(ValueError, match="image_topc"):
        TopicMap.load(bad)


def test_sqlite3_bag_converts_like_mcap(tmp_path):
    write_episodes(tmp_path / "sq", episodes=2, steps=8, storage="sqlite3")
    rep = convert([tmp_path / "sq"], tmp_path / "out")
    assert rep.episodes_written == {"train": 2} and rep.steps_written == 16
    r = BagReport("x")
    list(read_bag(tmp_path / "sq", r))
    assert r.storage == "sqlite3" and r.messages["/rldg/action/command"] == 32


def test_tfrecord_checksums_catch_corruption(tmp_path):
    write_episodes(tmp_path / "bag", episodes=1, steps=5)
    rep = convert([tmp_path / "bag"], tmp_path / "out")
    shard = next(Path(rep.dataset).glob("*train.tfrecord*"))
    raw = bytearray(shard.read_bytes())
    raw[100] ^= 0xFF
    shard.write_bytes(bytes(raw))
    with pytest.raises(TFRecordError, match="checksum"):
        list(read_records(shard))


def test_tensorflow_datasets_reads_our_rlds(tmp_path):
    """The output opens with tfds.builder_from_directory under TensorFlow (as OpenVLA/Octo load RLDS), with the same
    contents our TF-free reader returns."""
    assert TF_PY.exists(), "TensorFlow venv missing: run 'make test' (it builds .venv-tf)"
    write_episodes(tmp_path / "bag", episodes=3, steps=12)
    rep = Converter(TopicMap(), ConvertOptions(progress=False, val_fraction=0.34)).run([tmp_path / "bag"],
                                                                                       tmp_path / "out", "rt")
    out = subprocess.run([str(TF_PY), str(ROOT / "scripts" / "tfds_read.py"), rep.dataset], capture_output=True,
                         text=True, timeout=240, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-3000:]
    tf_eps = json.loads(out.stdout.strip().splitlines()[-1])
    ours = RldsReader(rep.dataset)
    assert {k: len(v) for k, v in tf_eps.items()} == ours.splits and sum(ours.splits.values()) == 3
    for split, eps in tf_eps.items():
        mine = {e["episode_metadata"]["episode_id"]: e for e in ours.episodes(split)}
        for e in eps:
            m = mine[e["meta"]["episode_id"]]
            assert e["n"] == 12 and e["image_shape"] == [128, 128, 3]
            np.testing.assert_allclose(e["action"], m["steps"]["action"], atol=1e-7)
            np.testing.assert_allclose(e["state"], m["steps"]["observation"]["state"], atol=1e-7)
            np.testing.assert_allclose(e["image_mean"], m["steps"]["observation"]["image"].mean(axis=(1, 2, 3)),
                                       atol=0.5)
            assert e["reward"] == m["steps"]["reward"].tolist() and e["is_first"][0] and e["is_last"][-1]
            assert e["meta"]["task"] == "connector_insertion/usb" and e["meta"]["success"] == 1


def test_recorder_node_round_trip_over_dds(tmp_path, ros_env, ros_context):
    """`rldg record` (a real rclpy node over DDS) records what a publisher sends, one bag per episode; the bags
    convert back to exactly the published steps."""
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image

    from rldg_msgs.msg import Action, EpisodeEvent, Reward, RobotState
    from rldg_ros.data.synthetic import TOPICS, _Msgs
    from rldg_ros.qos import RELIABLE_10, SENSOR

    out = tmp_path / "bags"
    rec = subprocess.Popen([str(BIN / "rldg"), "record", "--out", str(out), "--duration", "60"], env=ros_env,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    m = _Msgs()
    ctx = ros_context
    node = Node("record_probe", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    cls = {"/rldg/episode": EpisodeEvent, "/rldg/robot_state": RobotState, "/rldg/action/command": Action,
           "/rldg/reward": Reward, "/camera/camera/color/image_raw": Image}
    pubs = {t: node.create_publisher(c, t, SENSOR if "camera" in t else RELIABLE_10) for t, c in cls.items()}

    def send(topic, msg):  # serialize with rosbags, publish through rclpy: both sides see the same bytes
        pubs[topic].publish(deserialize_message(m.cdr(msg, TOPICS[topic]), cls[topic]))
        ex.spin_once(timeout_sec=0.0)

    try:
        end = time.monotonic() + 30  # wait until the recorder is subscribed to everything
        while time.monotonic() < end and not all(p.get_subscription_count() for p in pubs.values()):
            ex.spin_once(timeout_sec=0.1)
        assert all(p.get_subscription_count() for p in pubs.values()), rec.stderr.read() if rec.poll() else ""
        time.sleep(1.0)  # matched on our side; give the recorder's side of discovery a moment too
        t = time.time_ns()
        for ep in range(2):
            send("/rldg/episode", m.event(t, 0, ep))
            time.sleep(0.05)
            for k in range(15):
                t = time.time_ns()
                send("/rldg/robot_state", m.state(t, ep, k))
                send("/camera/camera/color/image_raw", m.image(t, image_for(ep, k, 128)))
                time.sleep(0.01)
                send("/rldg/action/command", m.action(t, ep, k, False))
                send("/rldg/reward", m.reward(t, 1.0 if k == 14 else 0.0))
                time.sleep(0.03)
            send("/rldg/episode", m.event(time.time_ns(), 1, ep, True, 15))
            time.sleep(0.3)
        time.sleep(0.5)
    finally:
        rec.terminate()
        stdout, stderr = rec.communicate(timeout=30)
        node.destroy_node()
    assert rec.returncode == 0, stderr[-2000:]
    bags = sorted(p for p in out.iterdir() if p.is_dir())
    assert all((b / "metadata.yaml").exists() for b in bags)
    # one bag per episode: each START opens a new bag (a message that overtook the first START across topics
    # lands in a bag of its own before it: recorded, not lost)
    ts = typestore()
    starts = [sum(1 for tp, mt, _, raw in read_bag(b) if tp == "/rldg/episode" and
                  ts.deserialize_cdr(raw, mt).event == 0) for b in bags]
    assert starts[-2:] == [1, 1] and sum(starts) == 2 and len(bags) <= 3, starts
    rep = convert(bags, tmp_path / "out")
    assert rep.episodes_written == {"train": 2} and rep.steps_written == 30, (rep.episodes_skipped,
                                                                              dict(rep.steps_dropped))
    for e in RldsReader(rep.dataset).episodes():
        ep = e["episode_metadata"]["episode_id"]
        np.testing.assert_allclose(e["steps"]["action"], np.stack([expected_action(ep, k) for k in range(15)]),
                                   atol=1e-6)
        np.testing.assert_allclose(e["steps"]["observation"]["state"][:, 0], [expected_x(ep, k) for k in range(15)],
                                   atol=1e-6)


def test_cli_convert_names_bad_input_and_shipped_mapping_is_the_default(tmp_path):
    assert TopicMap.load(ROOT / "config" / "convert" / "rldg.yaml") == TopicMap()
    out = subprocess.run([str(BIN / "rldg"), "convert", str(tmp_path / "nope"), "--out", str(tmp_path),
                          "--name", "x"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "nope: no such bag or directory" in out.stderr
    write_episodes(tmp_path / "bag", episodes=1, steps=4)
    out = subprocess.run([str(BIN / "rldg"), "convert", str(tmp_path / "bag"), "--out", str(tmp_path / "o"),
                          "--name", "Bad-Name"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "lower_snake_case" in out.stderr
    out = subprocess.run([str(BIN / "rldg"), "convert", str(tmp_path / "bag"), "--out", str(tmp_path / "o"),
                          "--name", "x", "--val-fraction", "1.5"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "val_fraction 1.5" in out.stderr
    out = subprocess.run([str(BIN / "rldg"), "record", "--out", str(tmp_path / "r"), "--topics", "no/such/topic",
                          "--duration", "1"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "unknown topic 'no/such/topic'" in out.stderr
    out = subprocess.run([str(BIN / "rldg"), "convert", str(tmp_path / "bag"), "--out", str(tmp_path / "o"),
                          "--name", "good", "--quiet"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip().endswith("good/1.0.0") and "steps written" in out.stderr


def test_collect_graph_records_episodes_that_convert(tmp_path, ros_env):
    """`rldg up collect` (the sim cell driven by the scripted expert, the recorder alongside) -> bags -> RLDS."""
    bags = tmp_path / "bags"
    out = subprocess.run([str(BIN / "rldg"), "up", "collect", "--duration", "200", "task:=connector_insertion/usb",
                          "policy:=expert", "episodes:=2", f"bag_dir:={bags}"], env=ros_env, capture_output=True,
                         text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0 and "teleop_episodes finished" in log, log[-3000:]
    rep = convert([bags], tmp_path / "out")
    assert rep.episodes_written == {"train": 2}, (rep.episodes_skipped, rep.problems)
    for e in RldsReader(rep.dataset).episodes():
        st, meta = e["steps"], e["episode_metadata"]
        assert 10 <= len(st["action"]) <= 150 and meta["success"] and meta["intervention_fraction"] == 1.0
        assert st["observation"]["image"].std() > 5 and st["reward"][-1] == 1.0
        assert st["language_instruction"][0] == "insert the usb connector into the port"
        # the TCP moved down towards the port over the episode (state follows the actions)
        z = st["observation"]["state"][:, 2]
        assert z[-1] < z[0] - 0.01


@pytest.mark.parametrize("phase_late", [False, True])
def test_phase_segments_mix_sources(tmp_path, phase_late):
    """FMB assembly style: human demos for the grasp phase + RL rollouts for the insertion phase, one dataset. An
    episode's first phase event may trail its first action (the sim cell announces it at its next step): that
    step still belongs to the phase."""
    write_episodes(tmp_path / "human", episodes=2, steps=20, phase_at=8, phase_late=phase_late)
    write_episodes(tmp_path / "rl", episodes=3, steps=20, phase_at=12, t0_ns=1_800_000_000 * 10**9)
    rep = convert([f"{tmp_path / 'human'}@grasp", f"{tmp_path / 'rl'}@insertion"], tmp_path / "out")
    assert rep.episodes_written == {"train": 5}
    eps = list(RldsReader(rep.dataset).episodes(decode_images=False))
    human = [e for e in eps if e["episode_metadata"]["file_path"].endswith("human")]
    rl = [e for e in eps if e["episode_metadata"]["file_path"].endswith("rl")]
    assert [len(e["steps"]["action"]) for e in human] == [8, 8] and [len(e["steps"]["action"]) for e in rl] == [8] * 3
    for e in human:  # steps 0..7 of each human episode, a complete segment of its own
        ep = e["episode_metadata"]["episode_id"]
        np.testing.assert_allclose(e["steps"]["action"], np.stack([expected_action(ep, k) for k in range(8)]),
                                   atol=1e-6)
        assert e["steps"]["is_first"][0] and e["steps"]["is_last"][-1] and e["episode_metadata"]["success"]
        # the grasp stage succeeded, the task goes on: no success reward, not terminal
        assert not e["steps"]["is_terminal"][-1] and e["steps"]["reward"][-1] == 0.0
    for e in rl:  # steps 12..19
        ep = e["episode_metadata"]["episode_id"]
        np.testing.assert_allclose(e["steps"]["action"],
                                   np.stack([expected_action(ep, k) for k in range(12, 20)]), atol=1e-6)
    assert sum("in phase" in k for k in rep.steps_dropped) == 2  # what was left out is counted, per phase


def test_relabel_replaces_actions_with_the_rl_policy(tmp_path):
    """The paper's "human states + RL actions" dataset: the recorded states, the specialist's actions."""
    from rldg_ros.rl.agent import AgentConfig
    from rldg_ros.rl.learner import Learner, LearnerConfig
    from rldg_ros.rl.policy import RLPolicy

    cfg = LearnerConfig(task="connector_insertion/usb", run_dir=str(tmp_path / "run"), demos="none",
                        capacity=1000, checkpoint_every_s=1e9, agent=AgentConfig(hidden=[16, 16], batch_size=8))
    learner = Learner(cfg, tensorboard=False, progress=False)
    learner.checkpoint("test")
    learner.close()
    write_episodes(tmp_path / "bag", episodes=1, steps=12)
    rep = convert([tmp_path / "bag"], tmp_path / "out", relabel=str(tmp_path / "run"))
    e = next(RldsReader(rep.dataset).episodes(decode_images=False))
    policy = RLPolicy(tmp_path / "run")
    want = np.stack([policy.act(s, gripper=1.0) for s in e["steps"]["observation"]["state"]])
    np.testing.assert_allclose(e["steps"]["action"], want, atol=1e-5)
    assert not np.allclose(e["steps"]["action"], np.stack([expected_action(0, k) for k in range(12)]))
    assert np.all(e["steps"]["action"][:, 3:6] == 0)  # the usb specialist drives x, y, z only
    stats = json.loads((Path(rep.dataset) / "dataset_statistics.json").read_text())
    assert stats["rldg"]["relabel"] == str(tmp_path / "run")

    # FMB assembly style: the human's grasp stage keeps its recorded actions, only the insertion steps are relabelled
    write_episodes(tmp_path / "phased", episodes=1, steps=12, phase_at=5, phase_late=True)
    rep = convert([tmp_path / "phased"], tmp_path / "out_phased", relabel=str(tmp_path / "run"),
                  relabel_keep_phases=("grasp",))
    e = next(RldsReader(rep.dataset).episodes(decode_images=False))
    recorded = np.stack([expected_action(0, k) for k in range(12)])
    relabelled = np.stack([policy.act(s, gripper=1.0) for s in e["steps"]["observation"]["state"]])
    np.testing.assert_allclose(e["steps"]["action"][:5], recorded[:5], atol=1e-6)
    np.testing.assert_allclose(e["steps"]["action"][5:], relabelled[5:], atol=1e-5)
    assert not np.allclose(recorded[5:], relabelled[5:])
    with pytest.raises(ValueError, match="keep phases: only with relabel"):
        Converter(TopicMap(), ConvertOptions(relabel_keep_phases=("grasp",)))
