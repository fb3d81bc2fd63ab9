"""RLDS <-> LeRobotDataset v3.0: exact round trips, LeRobot's own reader on our export, our import of LeRobot's own
writer's output, and clear refusals."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
from rldg_ros.data.lerobot import export_lerobot, import_lerobot
from rldg_ros.data.rlds import Episode, RldsReader, RldsWriter, encode_jpeg
from rldg_ros.data.synthetic import write_episodes

ROOT = Path(__file__).resolve().parents[1]
LR_PY = ROOT / ".venv-lerobot" / "bin" / "python"
BIN = Path(sys.executable).parent


def rlds(tmp_path, episodes=3, failed=(1,), name="ds", val_fraction=0.0, steps=25):
    write_episodes(tmp_path / f"bag_{name}", episodes=episodes, steps=steps, failed=failed)
    opts = ConvertOptions(progress=False, success_only=False, val_fraction=val_fraction)
    return Converter(TopicMap(), opts).run([tmp_path / f"bag_{name}"], tmp_path / "rlds", name).dataset


def lerobot(script, *args):
    assert LR_PY.exists(), "LeRobot venv missing: run 'make test' (it builds .venv-lerobot)"
    out = subprocess.run([str(LR_PY), str(ROOT / "scripts" / script), *map(str, args)], capture_output=True,
                         text=True, timeout=240)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_rlds_lerobot_rlds_round_trip_is_exact(tmp_path):
    """Export then import gives back every step: states, actions, rewards, the JPEG bytes themselves, instructions,
    and the episode metadata (a failed episode stays failed); the val split is kept as a LeRobot split."""
    src = rlds(tmp_path, episodes=4, failed=(1,), val_fraction=0.25)
    rep = export_lerobot([tmp_path / "rlds"], tmp_path / "lr", progress=False)
    reader = RldsReader(src)
    assert rep.episodes == sum(reader.splits.values()) == 4 and rep.frames == 100 and rep.data_files == 1
    info = json.loads((tmp_path / "lr" / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["total_frames"] == 100
    assert info["splits"] == {"train": "0:3", "val": "3:4"}
    # two sources with a val split each: every split stays one contiguous range
    rlds(tmp_path, episodes=4, failed=(), name="ds2", val_fraction=0.25)
    two = export_lerobot([tmp_path / "rlds"], tmp_path / "lr2", progress=False)
    assert json.loads((tmp_path / "lr2" / "meta" / "info.json").read_text())["splits"] == {"train": "0:6",
                                                                                          "val": "6:8"}
    assert two.episodes == 8
    assert info["features"]["action"]["names"][-1] == "gripper"
    back = import_lerobot(tmp_path / "lr", tmp_path / "back", "back", progress=False)
    assert back.success_from == "rldg success column"
    mine = [e for s in ("train", "val") for e in reader.episodes(s, decode_images=False)]
    theirs = list(RldsReader(back.dataset).episodes(decode_images=False))
    assert len(theirs) == 4
    for a, b in zip(mine, theirs, strict=True):
        sa, sb = a["steps"], b["steps"]
        np.testing.assert_array_equal(sa["observation"]["state"], sb["observation"]["state"])
        np.testing.assert_array_equal(sa["action"], sb["action"])
        np.testing.assert_array_equal(sa["reward"], sb["reward"])
        assert sa["observation"]["image"] == sb["observation"]["image"]  # the JPEG bytes, not re-encoded
        assert sa["language_instruction"] == sb["language_instruction"]
        assert sa["is_terminal"].tolist() == sb["is_terminal"].tolist()
        ma, mb = a["episode_metadata"], b["episode_metadata"]
        assert {k: ma[k] for k in ("task", "success", "file_path")} == {k: mb[k] for k in ("task", "success",
                                                                                          "file_path")}
        assert mb["intervention_fraction"] == pytest.approx(ma["intervention_fraction"])
    assert [e["episode_metadata"]["success"] for e in theirs].count(False) == 1


def test_lerobot_reads_our_export(tmp_path):
    """LeRobot's own LeRobotDataset opens the export offline, with our frames, tasks and per-episode lengths."""
    src = rlds(tmp_path, episodes=3, failed=())
    export_lerobot([src], tmp_path / "lr", progress=False)
    got = lerobot("lerobot_read.py", tmp_path / "lr")
    eps = list(RldsReader(src).episodes())
    assert got["len"] == 75 and got["num_episodes"] == 3 and got["fps"] == 10 and got["lengths"] == [25] * 3
    assert got["tasks"] == [e["steps"]["language_instruction"][0] for e in eps]
    assert {"observation.state", "action", "observation.images.wrist", "next.reward"} <= set(got["features"])
    assert set(got["stats_keys"]) == set(got["features"])
    flat = [(e, k) for e in eps for k in range(25)]
    for item in got["items"]:
        e, k = flat[item["i"]]
        np.testing.assert_allclose(item["observation.state"], e["steps"]["observation"]["state"][k], atol=1e-7)
        np.testing.assert_allclose(item["action"], e["steps"]["action"][k], atol=1e-7)
        assert item["task"] == e["steps"]["language_instruction"][k] and item["frame_index"] == k
        assert item["next.reward"] == e["steps"]["reward"][k] and item["next.done"] == (k == 24)
        assert item["image_shape"] == [3, 128, 128]  # LeRobot's CHW float frames
        assert item["image_mean"] == pytest.approx(e["steps"]["observation"]["image"][k].mean() / 255, abs=1e-4)


def test_import_of_lerobots_own_dataset(tmp_path):
    """A dataset written by LeRobot's own writer (PNG frames, pandas task index, no reward or success) imports:
    same actions and states, the images JPEG-close, success counted (and said to be counted) for every episode,
    rewards sparse at the end."""
    wrote = lerobot("lerobot_write.py", tmp_path / "lr")
    rep = import_lerobot(tmp_path / "lr", tmp_path / "out", "imported", progress=False)
    assert rep.episodes == 2 and rep.frames == 10 and "not recorded" in rep.success_from
    eps = list(RldsReader(rep.dataset).episodes())
    for w, e in zip(wrote, eps, strict=True):
        st = e["steps"]
        np.testing.assert_allclose(st["action"], w["action"], atol=1e-7)
        np.testing.assert_allclose(st["observation"]["state"], w["state"], atol=1e-7)
        np.testing.assert_allclose(st["observation"]["image"].mean(axis=(1, 2, 3)), w["image_mean"], atol=1.0)
        assert st["language_instruction"][0] == w["task"] and e["episode_metadata"]["success"]
        assert st["reward"].tolist() == [0.0] * (len(w["action"]) - 1) + [1.0]


def test_bad_inputs_are_refused_by_name(tmp_path):
    src = rlds(tmp_path, episodes=2, failed=())
    export_lerobot([src], tmp_path / "lr", progress=False)
    with pytest.raises(FileExistsError, match="already holds a LeRobot dataset"):
        export_lerobot([src], tmp_path / "lr", progress=False)
    with pytest.raises(FileNotFoundError, match="no RLDS dataset"):
        export_lerobot([tmp_path / "bag_ds"], tmp_path / "lr2", progress=False)
    info_path = tmp_path / "lr" / "meta" / "info.json"
    info = json.loads(info_path.read_text())
    for change, match in ((lambda i: i.update(codebase_version="v2.1"), "codebase_version 'v2.1'"),
                          (lambda i: i["features"]["observation.images.wrist"].update(dtype="video"),
                           "stored as video"),
                          (lambda i: i["features"].pop("action"), "no 'action' feature")):
        bad = json.loads(json.dumps(info))
        change(bad)
        info_path.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=match):
            import_lerobot(tmp_path / "lr", tmp_path / "out", "x", progress=False)
        assert not (tmp_path / "out" / "x").exists()  # nothing half-written is left behind
    info_path.write_text(json.dumps(info))
    # the CLI: a clear message and exit code 2, and the import works from the command line
    cli = subprocess.run([str(BIN / "rldg"), "import", "lerobot", str(tmp_path / "nowhere"), "--out",
                          str(tmp_path / "o"), "--name", "n", "--quiet"], capture_output=True, text=True,
                         timeout=120, env=os.environ)
    assert cli.returncode == 2 and "no meta/info.json" in cli.stderr
    ok = subprocess.run([str(BIN / "rldg"), "import", "lerobot", str(tmp_path / "lr"), "--out", str(tmp_path / "o"),
                         "--name", "n", "--quiet"], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["episodes"] == 2


def test_export_refuses_datasets_of_different_robots(tmp_path):
    src = rlds(tmp_path, episodes=1, failed=())
    w = RldsWriter(tmp_path / "other", "other", (128, 128, 3), 7)
    w.write(Episode(images=[encode_jpeg(np.zeros((128, 128, 3), np.uint8))], state=np.zeros((1, 7), np.float32),
                    action=np.zeros((1, 7), np.float32), reward=np.zeros(1, np.float32), instruction="x"))
    other = w.close()
    with pytest.raises(ValueError, match="state has 7 dimensions"):
        export_lerobot([src, other], tmp_path / "lr", progress=False)
    assert not (tmp_path / "lr").exists()  # a failed export leaves nothing behind
