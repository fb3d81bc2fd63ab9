"""Reward classifier core (ROS-free): frames format, budget, split, calibration, latch, training, sim collection."""

import json

import numpy as np
import pytest
from helpers.reward_data import synthetic_frames, write_synthetic

from rldg_ros.reward.data import (
    CollectProtocol,
    FrameDatasetError,
    collect_sim,
    near_boundary,
    read_frames,
    subsample,
    write_frames,
)
from rldg_ros.reward.evaluate import episode_terminations
from rldg_ros.reward.model import ArchConfig, SuccessClassifier, SuccessLatch, load_checkpoint
from rldg_ros.reward.train import TrainConfig, calibrate, pr_at, split_by_episode, train
from rldg_ros.sim.tasks import expand_tasks

TINY = ArchConfig(image_size=32, channels=(8, 16), embed_features=4, hidden=32, dropout=0.0)


def test_frames_round_trip_and_errors(tmp_path):
    f = synthetic_frames(episodes=3)
    write_frames(tmp_path / "d", f, ["connector_insertion/usb"], source="test", shard_size=25)
    g, meta = read_frames(tmp_path / "d")
    assert len(meta["shards"]) == 3 and meta["counts"] == {"positive": 15, "negative": 45}
    assert np.array_equal(g.images, f.images) and np.array_equal(g.labels, f.labels)
    assert np.array_equal(g.episode, f.episode) and g.episode.dtype == np.int32
    with pytest.raises(FileExistsError):
        write_frames(tmp_path / "d", f, ["x"], source="test")
    with pytest.raises(FrameDatasetError, match="no frames.json"):
        read_frames(tmp_path / "nothing")
    (tmp_path / "d" / "shard-00001.npz").unlink()
    with pytest.raises(FrameDatasetError, match="shard-00001.npz.*missing"):
        read_frames(tmp_path / "d")
    meta["image_shape"] = [64, 64, 3]
    bad = tmp_path / "e"
    write_frames(bad, f, ["x"], source="test")
    m = json.loads((bad / "frames.json").read_text())
    m["image_shape"] = [64, 64, 3]
    (bad / "frames.json").write_text(json.dumps(m))
    with pytest.raises(FrameDatasetError, match=r"frames.json says uint8 \[N, 64, 64, 3\]"):
        read_frames(bad)


def test_subsample_respects_the_budget_and_keeps_hard_negatives():
    f = synthetic_frames(episodes=20, length=30, positives_per_episode=5)
    hard = near_boundary(f, window=4)
    # the 4 frames before each episode's first positive are the near-boundary negatives
    assert hard.sum() == 20 * 4 and not np.any(hard & (f.labels == 1))
    s = subsample(f, max_positive=40, max_negative=60)
    assert s.counts == {"positive": 40, "negative": 60}
    hard_keys = set(zip(f.episode[hard], f.step[hard], strict=True))
    kept_hard = sum((e, t) in hard_keys for e, t in zip(s.episode, s.step, strict=True))
    assert kept_hard >= 30  # hard ones kept first (up to half the negative budget), ~6 of 60 by chance


def test_split_is_by_whole_episodes():
    f = synthetic_frames(episodes=10)
    tr, va = split_by_episode(f, 0.2, seed=1)
    assert not np.any(tr & va) and np.all(tr | va)
    assert not set(f.episode[tr]) & set(f.episode[va])
    assert 1 <= len(set(f.episode[va])) <= 3 and f.labels[va].any()


def test_calibration_reaches_the_target_precision_with_the_highest_recall():
    labels = np.array([0] * 90 + [1] * 10)
    probs = np.concatenate([np.linspace(0.0, 0.7, 90), np.linspace(0.6, 1.0, 10)])
    t, ok = calibrate(probs, labels, 0.99)
    p, r = pr_at(probs, labels, t)
    assert ok and p >= 0.99 and t > 0.7
    assert r == max(pr_at(probs, labels, x)[1] for x in probs if pr_at(probs, labels, x)[0] >= 0.99)
    # unreachable: identical scores for both classes -> best effort, reported as not reached
    t, ok = calibrate(np.full(100, 0.5), labels, 0.99)
    assert not ok


def test_latch_needs_k_consecutive_frames_and_resets():
    latch = SuccessLatch(3, 0.8)
    assert [latch.update(p) for p in (0.9, 0.9, 0.1, 0.9, 0.9, 0.9, 0.95)] == [False] * 5 + [True, True]
    latch.reset()
    assert not latch.update(0.99)
    with pytest.raises(ValueError):
        SuccessLatch(0, 0.5)
    # a single spurious frame does not end an episode; a held success does
    probs, labels = np.array([0.1, 0.99, 0.1, 0.9, 0.9, 0.9]), np.array([0, 0, 0, 1, 1, 1])
    assert episode_terminations(probs, labels, 1, 0.85) == (True, False)
    assert episode_terminations(probs, labels, 3, 0.85) == (False, False)
    assert episode_terminations(np.zeros(6), labels, 3, 0.85) == (False, True)


def test_training_learns_calibrates_and_checkpoints(tmp_path):
    write_synthetic(tmp_path / "data", episodes=16)
    cfg = TrainConfig(steps=150, batch_size=16, eval_every=50, lr=1e-3, target_precision=0.95)
    logs = []
    summary = train(tmp_path / "data", tmp_path / "m", cfg, arch=TINY, progress=False, log=logs.append)
    assert summary["calibrated"] and summary["val_precision"] >= 0.95 and summary["val_recall"] >= 0.8
    for name in ("classifier.json", "params.msgpack", "metrics.jsonl", "training.png", "calibration.png"):
        assert (tmp_path / "m" / name).is_file(), name
    assert list((tmp_path / "m" / "tb").glob("events.out.tfevents.*"))
    rows = [json.loads(line) for line in (tmp_path / "m" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [50, 100, 150]
    # the checkpoint generalises to fresh scenes
    clf = SuccessClassifier.load(tmp_path / "m")
    fresh = synthetic_frames(episodes=4, seed=99)
    pred = clf.probabilities(fresh.images) >= clf.threshold
    assert np.mean(pred == fresh.labels.astype(bool)) > 0.9
    with pytest.raises(ValueError, match=r"images must be \[N, 32, 32, 3\]"):
        clf.probabilities(np.zeros((2, 64, 64, 3), np.uint8))

    # frozen encoder: a second model reuses the first one's encoder and leaves it untouched
    train(tmp_path / "data", tmp_path / "m2", TrainConfig(steps=20, batch_size=16, eval_every=10), arch=TINY,
          encoder=tmp_path / "m", progress=False, log=logs.append)
    (_, p1), (info2, p2) = load_checkpoint(tmp_path / "m"), load_checkpoint(tmp_path / "m2")
    assert info2.frozen_encoder == str(tmp_path / "m")
    enc1, enc2 = p1["encoder"], p2["encoder"]
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in
               zip(_leaves(enc1), _leaves(enc2), strict=True))
    assert not np.array_equal(np.asarray(p1["hidden"]["kernel"]), np.asarray(p2["hidden"]["kernel"]))


def _leaves(tree):
    import jax

    return jax.tree_util.tree_leaves(tree)


def test_training_refuses_data_without_both_classes(tmp_path):
    f = synthetic_frames(episodes=4, positives_per_episode=0)
    write_frames(tmp_path / "neg", f, ["x"], source="test")
    with pytest.raises(ValueError, match="0 positives"):
        train(tmp_path / "neg", tmp_path / "m", TrainConfig(steps=1), arch=TINY, progress=False, log=lambda _: None)


def test_task_expansion():
    assert expand_tasks("connector_insertion", include_unseen=False) == [
        "connector_insertion/usb", "connector_insertion/ethernet", "connector_insertion/vga"]
    assert len(expand_tasks("connector_insertion")) == 7
    assert expand_tasks("pick_place/train,fmb_assembly") == ["pick_place/train", "fmb_assembly"]
    with pytest.raises(KeyError, match="unknown task or task family 'bogus'"):
        expand_tasks("bogus")


def test_sim_collection_labels_follow_ground_truth():
    """One expert episode on USB: success frames after the insertion, exploration keeps most of them, the
    withdrawal ends them; image shape and bookkeeping are consistent."""
    p = CollectProtocol(explore_steps=4, withdraw_steps=8, policies=("expert",))
    f = collect_sim(["connector_insertion/usb"], 1, seed=3, protocol=p, image_size=64, progress=False)
    assert f.images.shape[1:] == (64, 64, 3) and f.images.dtype == np.uint8
    assert np.array_equal(f.step, np.arange(len(f)))
    rollout = f.phase == 0
    assert f.labels[rollout][-1] == 1 and not f.labels[rollout][:-1].any()  # the rollout stops at success
    assert (f.phase == 1).sum() == 4 and (f.phase == 2).sum() == 8
    assert f.labels[f.phase == 2][-1] == 0  # withdrawn: no longer inserted
    assert f.images[-1].std() > 5


def test_cli_errors_name_the_problem(tmp_path, capsys):
    from rldg_ros.cli import main

    assert main(["reward", "collect", "--task", "bogus", "--out", str(tmp_path / "x")]) == 2
    assert "unknown task or task family 'bogus'" in capsys.readouterr().err
    assert main(["reward", "train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "m")]) == 2
    assert "no frames.json" in capsys.readouterr().err
    assert main(["reward", "train", "--data", str(tmp_path / "none"), "--out", str(tmp_path / "m"),
                 "--target-precision", "2"]) == 2
    assert "target_precision" in capsys.readouterr().err
    assert main(["reward", "eval", "--model", str(tmp_path / "none")]) == 2
    assert "not a reward classifier checkpoint" in capsys.readouterr().err


def test_cli_collect_writes_a_budgeted_dataset(tmp_path, capsys):
    from rldg_ros.cli import main

    out = tmp_path / "frames"
    assert main(["reward", "collect", "--task", "connector_insertion/usb", "--episodes", "1", "--positives", "5",
                 "--negatives", "20", "--seed", "3", "--out", str(out)]) == 0
    frames, meta = read_frames(out)
    assert frames.counts == {"positive": 5, "negative": 20} and meta["tasks"] == ["connector_insertion/usb"]
    assert meta["protocol"]["collected"]["positive"] > 5 and meta["source"] == "sim ground truth"
    assert "kept 5 / 20" in capsys.readouterr().out
    assert main(["reward", "collect", "--task", "connector_insertion/usb", "--out", str(out)]) == 2


def test_coverage_keeps_rare_views_and_drops_duplicates():
    from rldg_ros.reward.data import coverage_order

    rng = np.random.default_rng(0)
    common = np.repeat(rng.integers(0, 255, (1, 32, 32, 3), dtype=np.uint8), 50, axis=0)  # 50 identical frames
    rare = rng.integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)  # 3 distinct views
    images = np.concatenate([common, rare])
    picked = set(coverage_order(images, 4).tolist())
    assert {50, 51, 52} <= picked and len(picked) == 4  # all rare views, one copy of the common one
