"""`rldg convert` on bags of a real cell written by another tool (mcap-ros2-support, the standard franka / realsense /
spacenav message types), through config/convert/franka_spacenav.yaml: action frames, episode boundaries, the gripper
per episode, truncated and damaged bags, mistakes in the mapping."""

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
from rldg_ros.data.rlds import RldsReader

ROOT = Path(__file__).resolve().parents[1]
DEFS = ROOT / "test" / "helpers" / "msgdefs"
MAP = TopicMap.load(ROOT / "config" / "convert" / "franka_spacenav.yaml")
SCALE = 2.857  # the mapping's spacenav scale
S = np.sqrt(0.5)
# the TCP orientation of the fixture: 180 degrees about (1, 1, 0)/sqrt(2), so base x is wrist y, base z is wrist -z
QUAT = {"w": 0.0, "x": S, "y": S, "z": 0.0}
ROT = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, -1.0]])  # wrist -> base
T0 = 1_700_000_000 * 10**9


def write_cell_bag(path: Path, demos: int = 2, seconds: float = 3.0, gap_s: float = 10.0, chunk_size: int = 1 << 20,
                   open_in_demo: int | None = None, start_x: tuple[float, ...] = (0.40, 0.60, 0.45),
                   events: bool = False) -> dict:
    """Demonstrations as `ros2 bag record` writes them on a Franka + RealSense + SpaceMouse cell, ``gap_s`` apart:
    pose at 100 Hz integrating the base-frame SpaceMouse twist (50 Hz), a 30 Hz colour camera, the gripper's open
    button pressed halfway through demonstration ``open_in_demo``; with ``events``, rldg EpisodeEvents mark each
    demonstration's first two seconds as an episode (START ... END), the rest is outside any. Returns the recorded
    poses per demonstration."""
    from mcap_ros2.writer import Writer

    poses = {}
    with open(path, "wb") as f:
        w = Writer(f, chunk_size=chunk_size)
        s_pose = w.register_msgdef("geometry_msgs/msg/PoseStamped", (DEFS / "PoseStamped.txt").read_text())
        s_img = w.register_msgdef("sensor_msgs/msg/Image", (DEFS / "Image.txt").read_text())
        s_tw = w.register_msgdef("geometry_msgs/msg/Twist", (DEFS / "Twist.txt").read_text())
        s_joy = w.register_msgdef("sensor_msgs/msg/Joy", (DEFS / "Joy.txt").read_text())
        header_def = (DEFS / "PoseStamped.txt").read_text().split("=" * 80)[1:3]  # std_msgs/Header, its Time
        s_ev = w.register_msgdef("rldg_msgs/msg/EpisodeEvent", (ROOT / "rldg_msgs" / "msg" / "EpisodeEvent.msg")
                                 .read_text() + "".join("=" * 80 + part for part in header_def))

        def hdr(t):
            return {"stamp": {"sec": t // 10**9, "nanosec": t % 10**9}, "frame_id": "base"}

        for d in range(demos):
            start = d * (seconds + gap_s)
            p = np.array([start_x[d % len(start_x)], 0.0, 0.3])
            v, wz = np.zeros(3), 0.0
            poses[d] = []
            for i in range(int(seconds * 1000)):  # 1 ms ticks
                t = T0 + int((start + i / 1000) * 1e9)
                if i % 20 == 0:  # spacenav at 50 Hz: a slowly varying base-frame velocity and yaw rate
                    v = np.array([0.10 + 0.2 * np.sin(2 * np.pi * i / 6000), 0.05 * np.cos(2 * np.pi * i / 4000),
                                  -0.03])
                    wz = 0.2 * np.sin(2 * np.pi * i / 5000)
                    w.write_message("/spacenav/twist", s_tw, {"linear": dict(zip("xyz", v.tolist(), strict=True)),
                                                              "angular": {"x": 0.0, "y": 0.0, "z": wz}}, t)
                if i % 10 == 0:  # pose at 100 Hz
                    poses[d].append((t, p.copy()))
                    w.write_message("/franka_robot_state_broadcaster/current_pose", s_pose, {
                        "header": hdr(t), "pose": {"position": dict(zip("xyz", p.tolist(), strict=True)),
                                                   "orientation": QUAT}}, t)
                    p = p + v * 0.010
                if i % 33 == 0:  # camera at 30 Hz
                    img = np.full((48, 64, 3), 40 * d, np.uint8)
                    w.write_message("/camera/camera/color/image_raw", s_img, {
                        "header": hdr(t), "height": 48, "width": 64, "encoding": "rgb8", "is_bigendian": 0,
                        "step": 64 * 3, "data": img.tobytes()}, t)
                if events and i in (0, 2000):  # START at 0 s, END (success) at 2 s
                    w.write_message("/rldg/episode", s_ev, {
                        "header": hdr(t), "event": 0 if i == 0 else 1, "episode_id": 10 + d,
                        "task_id": "real/connector_insertion", "language_instruction": f"insert plug {d}",
                        "phase": "", "is_eval": False, "success": i > 0, "reason": "success" if i else "",
                        "num_steps": 20 if i else 0}, t)
                if open_in_demo == d and i == int(seconds * 500):
                    w.write_message("/spacenav/joy", s_joy, {"header": hdr(t), "axes": [], "buttons": [0, 1]}, t)
        w.finish()
    return poses


def convert(bags, out, mapping=MAP, **opts):
    return Converter(mapping, ConvertOptions(progress=False, **opts)).run(bags, out, "cell")


def episodes(rep):
    return list(RldsReader(rep.dataset).episodes(decode_images=False))


def test_base_frame_twist_becomes_wrist_frame_actions_matching_the_pose(tmp_path):
    write_cell_bag(tmp_path / "cell.mcap", demos=1)
    eps = episodes(convert([tmp_path / "cell.mcap"], tmp_path / "out"))
    st = eps[0]["steps"]
    pos, act = st["observation"]["state"][:, :3], st["action"]
    vel = np.diff(pos, axis=0) / 0.1  # base-frame velocity from the finite-differenced pose (10 Hz steps)
    base = act[:-1, :3] @ ROT.T / SCALE  # the wrist-frame actions taken back into the base frame
    assert np.abs(vel).max() > 0.1
    np.testing.assert_allclose(base, vel, atol=0.02)
    # the yaw rate about base z is a rotation about wrist -z
    assert np.abs(act[:, 5]).max() > 0.2 and np.all(np.abs(act[:, 3:5]) < 1e-6)
    # the same bag read as if the twist were in the wrist frame does not match the motion
    wrong = episodes(convert([tmp_path / "cell.mcap"], tmp_path / "wrong",
                             mapping=dataclasses.replace(MAP, action_frame="wrist")))
    assert np.abs(wrong[0]["steps"]["action"][:-1, :3] @ ROT.T / SCALE - vel).max() > 0.05


def test_gap_split_episodes_keep_their_own_poses_and_reset_the_gripper(tmp_path):
    poses = write_cell_bag(tmp_path / "cell.mcap", demos=3, open_in_demo=0)
    rep = convert([tmp_path / "cell.mcap"], tmp_path / "out")
    eps = episodes(rep)
    assert rep.episodes_written == {"train": 3}, (rep.episodes_skipped, rep.problems)
    for k, e in enumerate(eps):
        pos = e["steps"]["observation"]["state"][:, :3]
        own = np.stack([p for _, p in poses[k]])
        # every step's pose is one its own demonstration recorded (none is the next one's first pose), in order
        match = [int(np.argmin(np.abs(own - q).sum(axis=1))) for q in pos]
        assert all(np.abs(own[i] - q).max() < 1e-5 for i, q in zip(match, pos, strict=True)), k
        assert match == sorted(match) and match[0] == 0 and 29 <= len(pos) <= 33
    grip = [e["steps"]["action"][:, 6] for e in eps]
    assert grip[0][0] == 1 and grip[0][-1] == -1  # opened halfway through the first demonstration
    assert np.all(grip[1] == 1) and np.all(grip[2] == 1)  # the next ones start closed again (gripper_initial)


def test_truncated_bag_drops_its_torn_last_episode(tmp_path):
    write_cell_bag(tmp_path / "cell.mcap", demos=2, chunk_size=64 * 1024)
    data = (tmp_path / "cell.mcap").read_bytes()
    (tmp_path / "cut.mcap").write_bytes(data[: int(len(data) * 0.8)])  # the writer died in the second demo
    rep = convert([tmp_path / "cut.mcap"], tmp_path / "out")
    assert rep.episodes_written == {"train": 1}
    assert [s["reason"] for s in rep.episodes_skipped] == ["incomplete: the bag is truncated while it was recorded"]
    assert len(episodes(rep)[0]["steps"]["action"]) >= 29  # the whole first demonstration


def test_a_damaged_middle_chunk_costs_only_the_episode_it_held(tmp_path):
    write_cell_bag(tmp_path / "cell.mcap", demos=3, chunk_size=64 * 1024)
    from mcap.reader import make_reader

    with open(tmp_path / "cell.mcap", "rb") as f:
        chunks = sorted(make_reader(f).get_summary().chunk_indexes, key=lambda c: c.chunk_start_offset)
    mid = T0 + int((13.0 + 1.5) * 1e9)  # halfway through the second demonstration (3 s long, 10 s gaps)
    bad = next(c for c in chunks if c.message_start_time <= mid <= c.message_end_time)
    data = bytearray((tmp_path / "cell.mcap").read_bytes())
    at = bad.chunk_start_offset + bad.chunk_length // 2
    data[at:at + 64] = bytes(64)  # zeroed bytes inside the compressed chunk
    (tmp_path / "damaged.mcap").write_bytes(bytes(data))
    rep = convert([tmp_path / "damaged.mcap"], tmp_path / "out")
    assert rep.episodes_written == {"train": 2}, (rep.episodes_skipped, rep.problems)
    xs = [e["steps"]["observation"]["state"][0, 0] for e in episodes(rep)]
    assert xs == pytest.approx([0.40, 0.45], abs=0.005)  # the first and the third: everything after the damage
    # the second demonstration's steps before the damage and after it: both torn, both skipped with the reason
    assert [s["reason"].split(":")[0] for s in rep.episodes_skipped] == ["torn", "torn"]
    assert "damaged stretch of the bag (1700000014.360-1700000014.584 s)" in rep.episodes_skipped[0]["reason"]
    damaged = [p for p in rep.problems if "is damaged" in p]
    assert len(damaged) == 1 and f"bytes {bad.chunk_start_offset}-" in damaged[0]
    assert rep.bag_bytes == len(data)  # the file's size, not the decompressed messages
    assert rep.message_bytes > rep.bag_bytes  # raw images compress


def test_a_misspelt_topic_or_field_is_an_error_that_names_it_and_leaves_nothing_behind(tmp_path):
    write_cell_bag(tmp_path / "cell.mcap", demos=1)
    typo = dataclasses.replace(MAP, image_topic="/camera/camera/colour/image_raw")
    with pytest.raises(ValueError, match=r"image_topic /camera/camera/colour/image_raw is in none of the 1 bag\(s\); "
                                         r"did you mean /camera/camera/color/image_raw\?"):
        convert([tmp_path / "cell.mcap"], tmp_path / "out", mapping=typo)
    assert not (tmp_path / "out").exists()  # a failed run leaves no folder that blocks the next one
    field = dataclasses.replace(MAP, action_fields=["linear.x", "linear.y", "linear.z", "angular.x", "angular.y",
                                                    "angualr.z", ""])
    with pytest.raises(ValueError, match=r"/spacenav/twist \(geometry_msgs/msg/Twist\): the mapping's action_fields "
                                         r"'angualr.z' is not a field of the message; its fields: linear, angular"):
        convert([tmp_path / "cell.mcap"], tmp_path / "out", mapping=field)
    assert not (tmp_path / "out").exists()
    rep = convert([tmp_path / "cell.mcap"], tmp_path / "out")  # the corrected mapping converts into the same place
    assert rep.episodes_written == {"train": 1}


def test_episodes_from_an_episode_topic_keep_their_events_and_drop_what_lies_outside(tmp_path):
    poses = write_cell_bag(tmp_path / "cell.mcap", demos=2, events=True)
    rep = convert([tmp_path / "cell.mcap"], tmp_path / "out",
                  mapping=dataclasses.replace(MAP, episode_topic="/rldg/episode", gap_s=0.0))
    eps = episodes(rep)
    assert rep.episodes_written == {"train": 2}, (rep.episodes_skipped, rep.problems)
    assert [e["episode_metadata"]["episode_id"] for e in eps] == [10, 11]
    for d, e in enumerate(eps):
        st = e["steps"]
        assert 19 <= len(st["action"]) <= 21  # START..END: 2 s at 10 Hz
        assert st["language_instruction"][0] == f"insert plug {d}" and e["episode_metadata"]["success"]
        own = np.stack([p for _, p in poses[d]])
        assert np.abs(st["observation"]["state"][0, :3] - own[0]).max() < 1e-5  # begins at its START pose
    assert rep.steps_dropped["outside an episode (before START or after END)"] >= 2 * 9  # the last second of each


def test_a_bag_recorded_while_the_robot_idled_is_skipped_without_a_problem(tmp_path):
    """A recorder that splits at every episode START leaves a first bag from before any episode: state and camera,
    no event, no command. It is reported as idle, not as a missing action topic."""
    from mcap_ros2.writer import Writer

    write_cell_bag(tmp_path / "cell.mcap", demos=2, events=True)
    with open(tmp_path / "idle.mcap", "wb") as f:
        w = Writer(f)
        s_pose = w.register_msgdef("geometry_msgs/msg/PoseStamped", (DEFS / "PoseStamped.txt").read_text())
        for i in range(30):
            t = T0 - 10**9 + i * 10**7
            w.write_message("/franka_robot_state_broadcaster/current_pose", s_pose, {
                "header": {"stamp": {"sec": t // 10**9, "nanosec": t % 10**9}, "frame_id": "base"},
                "pose": {"position": {"x": 0.4, "y": 0.0, "z": 0.3}, "orientation": QUAT}}, t)
        header_def = (DEFS / "PoseStamped.txt").read_text().split("=" * 80)[1:3]
        s_ev = w.register_msgdef("rldg_msgs/msg/EpisodeEvent", (ROOT / "rldg_msgs" / "msg" / "EpisodeEvent.msg")
                                 .read_text() + "".join("=" * 80 + part for part in header_def))
        w.write_message("/rldg/episode", s_ev, {  # the cell's phase report is not an episode
            "header": {"stamp": {"sec": T0 // 10**9 - 1, "nanosec": 0}, "frame_id": "base"}, "event": 2,
            "episode_id": 0, "task_id": "", "language_instruction": "", "phase": "approach", "is_eval": False,
            "success": False, "reason": "", "num_steps": 0}, T0 - 10**9)
        w.finish()
    events = dataclasses.replace(MAP, episode_topic="/rldg/episode", gap_s=0.0)
    rep = convert([tmp_path / "idle.mcap", tmp_path / "cell.mcap"], tmp_path / "out", mapping=events)
    assert rep.episodes_written == {"train": 2}
    assert rep.idle_bags == [str(tmp_path / "idle.mcap")]
    assert not [p for p in rep.problems if "idle.mcap" in p], rep.problems
    # without an episode topic the same bag is a bag whose commands are missing: a problem, named
    rep = convert([tmp_path / "idle.mcap", tmp_path / "cell.mcap"], tmp_path / "out2")
    assert rep.idle_bags == [] and any("no messages on the action topic" in p for p in rep.problems)


def test_two_bags_defining_one_type_differently_each_decode_with_their_own(tmp_path):
    """Each bag reads with its own type store: a vendor type whose definition changed between two recordings (a
    field added) decodes correctly in both, whichever bag is read first, and the shared store is left untouched."""
    from mcap_ros2.writer import Writer

    from rldg_ros.data.bags import BagReport, read_bag, typestore

    defs = {"old": "float64 width\n", "new": "int32 mode\nfloat64 width\n"}
    values = {"old": {"width": 0.04}, "new": {"mode": 3, "width": 0.07}}
    for v in ("old", "new"):
        with open(tmp_path / f"{v}.mcap", "wb") as f:
            w = Writer(f)
            schema = w.register_msgdef("vendor_msgs/msg/Gripper", defs[v])
            w.write_message("/gripper", schema, values[v], log_time=T0, publish_time=T0)
            w.finish()
    for order in (("old", "new"), ("new", "old")):
        for v in order:
            br = BagReport(v)
            (_, mt, _, raw), = list(read_bag(tmp_path / f"{v}.mcap", br))
            msg = br.typestore.deserialize_cdr(raw, mt)
            assert msg.width == values[v]["width"] and getattr(msg, "mode", None) == values[v].get("mode"), v
    assert "vendor_msgs/msg/Gripper" not in typestore().fielddefs


def test_a_bag_recorded_with_an_older_rldg_message_definition_decodes_with_it(tmp_path):
    """rldg_msgs changes over time (Action.action was float32[7] before it became unbounded): a bag carries the
    definition it was written with, and the reader decodes it with that one, not with today's."""
    from mcap_ros2.writer import Writer

    from rldg_ros.data.bags import BagReport, read_bag

    header_def = (DEFS / "PoseStamped.txt").read_text().split("=" * 80)[1:3]  # std_msgs/Header, its Time
    old = (ROOT / "rldg_msgs" / "msg" / "Action.msg").read_text().replace("float32[] action", "float32[7] action")
    assert "float32[7] action" in old
    with open(tmp_path / "old.mcap", "wb") as f:
        w = Writer(f)
        schema = w.register_msgdef("rldg_msgs/msg/Action", old + "".join("=" * 80 + part for part in header_def))
        w.write_message("/rldg/action/command", schema, {
            "header": {"stamp": {"sec": 1, "nanosec": 2}, "frame_id": "base"}, "action": [0.1] * 6 + [1.0],
            "source": 0, "source_name": "rl_actor", "intervention": False, "episode_id": 4, "step": 9},
            log_time=T0, publish_time=T0)
        w.finish()
    br = BagReport("old")
    (_, mt, _, raw), = list(read_bag(tmp_path / "old.mcap", br))
    msg = br.typestore.deserialize_cdr(raw, mt)
    assert list(np.round(msg.action, 3)) == [0.1] * 6 + [1.0] and msg.episode_id == 4 and msg.step == 9


def test_an_rldg_type_whose_carried_definition_is_unreadable_decodes_with_this_packages(tmp_path):
    """A bag whose schema for an rldg type cannot be parsed (or is empty) still decodes that type with this package's
    definition, and says so; it is not dropped."""
    from mcap.writer import Writer

    from rldg_ros.data.bags import BagReport, read_bag, typestore

    ts = typestore()
    Action = ts.types["rldg_msgs/msg/Action"]
    Header, Time = ts.types["std_msgs/msg/Header"], ts.types["builtin_interfaces/msg/Time"]
    msg = Action(header=Header(stamp=Time(sec=1, nanosec=2), frame_id="base"),
                 action=np.array([0.1] * 6 + [1.0], np.float32), source=0, source_name="rl_actor",
                 intervention=False, episode_id=4, step=9)
    for schema_text in (b"float32[ action ??? not a definition", b""):
        path = tmp_path / f"bad{len(schema_text)}.mcap"
        with open(path, "wb") as f:
            w = Writer(f)
            w.start(profile="ros2")
            sid = w.register_schema("rldg_msgs/msg/Action", "ros2msg", schema_text)
            cid = w.register_channel("/rldg/action/command", "cdr", sid)
            w.add_message(cid, log_time=T0, data=bytes(ts.serialize_cdr(msg, "rldg_msgs/msg/Action")),
                          publish_time=T0)
            w.finish()
        br = BagReport(str(path))
        (_, mt, _, raw), = list(read_bag(path, br))
        out = br.typestore.deserialize_cdr(raw, mt)
        assert out.episode_id == 4 and out.step == 9 and len(out.action) == 7, schema_text
        assert not schema_text or any("this package's definition" in p for p in br.problems), br.problems
