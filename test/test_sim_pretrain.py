"""The pretraining corpus: its tasks are not evaluation tasks, generated pegs stay away from the connectors, the
scripted expert solves every family, and the recorded corpus states its composition."""

import json

import numpy as np
import pytest

from rldg_ros.sim.tasks import PRETRAIN_TASKS, make_task, task_ids
from rldg_ros.sim.tasks.peg import CONNECTORS
from rldg_ros.sim.tasks.pretrain import CONNECTOR_MARGIN, N_PEGS, generated_peg
from rldg_ros.vla.pretrain_data import corpus_counts, write_pretraining_dataset

EVAL_PREFIXES = ("connector_insertion/", "fmb_insertion", "fmb_assembly", "pick_place/")


def test_generated_pegs_are_deterministic_convex_and_away_from_every_connector():
    from rldg_ros.sim import geometry as geo

    boxes = []
    for i in range(N_PEGS):
        a, kind, colour = generated_peg(i)
        b, _, _ = generated_peg(i)
        np.testing.assert_array_equal(a.section, b.section)
        assert geo.is_ccw_convex(a.section) and 0.0008 <= a.clearance <= 0.0015
        box = a.section.max(0) - a.section.min(0)
        for c in CONNECTORS.values():
            cbox = c.section.max(0) - c.section.min(0)
            assert np.max(np.abs(box - cbox)) >= CONNECTOR_MARGIN, (i, c.name)
        boxes.append(tuple(np.round(box, 4)))
    assert len(set(boxes)) == N_PEGS  # all different


def test_the_corpus_has_no_evaluation_task_and_evaluation_lists_have_no_pretraining_task():
    counts = corpus_counts()
    assert set(counts) == set(PRETRAIN_TASKS) and all(n > 0 for n in counts.values())
    assert not [t for t in counts if t.startswith(EVAL_PREFIXES)]
    assert not set(task_ids()) & set(PRETRAIN_TASKS)
    assert set(PRETRAIN_TASKS) <= set(task_ids(pretrain=True))


@pytest.mark.parametrize("task_id", ["peg_insertion/p05", "fmb_shapes/triangle", "reach/blue",
                                     "pick_place_pretrain/radish"])
def test_the_scripted_expert_solves_each_pretraining_family(task_id):
    from rldg_ros.sim import make_env
    from rldg_ros.sim.policies import make_policy

    env = make_env(task_id)
    try:
        obs, _ = env.reset(seed=11)
        pol = make_policy("expert", env, seed=11)
        info = {"success": False}
        for _ in range(env.task.time_limit):
            obs, _, term, trunc, info = env.step(pol.act(obs))
            if term or trunc:
                break
        assert info["success"], task_id
        assert make_task(task_id).instruction == env.task.instruction  # deterministic in its name
    finally:
        env.close()


def test_a_recorded_corpus_states_its_composition_and_tasks_do_not_share_starts(tmp_path):
    from rldg_ros.data.rlds import RldsReader

    d = write_pretraining_dataset(tmp_path, "corpus", ["reach/red", "reach/green"], 2, seed=0, progress=False,
                                  workers=2)
    meta = json.loads((d / "dataset_statistics.json").read_text())["rldg"]["corpus"]
    assert meta["families"]["reach"]["tasks"] == 2 and meta["families"]["reach"]["episodes"] == 4
    assert [t["task"] for t in meta["tasks"]] == ["reach/red", "reach/green"]
    eps = list(RldsReader(d).episodes("train", decode_images=False))
    assert len(eps) == 4
    seeds = [e["episode_metadata"]["episode_id"] for e in eps]
    assert len(set(seeds)) == 4, seeds


@pytest.mark.parametrize("args, message", [
    (["--episodes-per-task", "0"], "--episodes-per-task 0"),
    (["--workers", "0"], "--workers 0"),
    (["--tasks", "reach/red,no_such/task"], "no_such/task"),
])
def test_rldg_pretrain_names_bad_input_before_recording(tmp_path, capsys, args, message):
    from rldg_ros.cli import main

    assert main(["pretrain", "--model", "octo", "--out", str(tmp_path / "o"), *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "o" / "data").exists()  # nothing was recorded


def test_a_lora_adapter_is_not_exported_as_a_base(tmp_path):
    from rldg_ros.vla import bases

    (tmp_path / "ft" / "adapter").mkdir(parents=True)
    with pytest.raises(ValueError, match="adapter"):
        bases.export(tmp_path / "ft", tmp_path / "base", {})
