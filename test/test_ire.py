"""rldg experiment ire (iRe-VLA): one tiny iteration end to end over the ROS graph changes the generalist, and a
stopped run continues where it stopped instead of starting over."""

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

from rldg_ros.experiment.ire import IreConfig, IreExperiment, rldg_reference, write_report


@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(1200)
def test_one_tiny_iteration_changes_the_generalist_and_a_stopped_run_continues(tmp_path, ros_env, monkeypatch):
    import jax

    from rldg_ros.vla import octo_style as octo

    monkeypatch.setenv("ROS_DOMAIN_ID", ros_env["ROS_DOMAIN_ID"])
    cfg = IreConfig(task="connector_insertion/usb", expert_tasks=["connector_insertion/ethernet"],
                    unseen_tasks=["connector_insertion/type_c"], expert="expert", expert_episodes=2, iterations=1,
                    rl_minutes=2.5, rl_demos="none", initial_steps=4, sl_steps=4, batch_size=4, eval_episodes=1)
    run = tmp_path / "ire"
    logs: list[str] = []
    IreExperiment(cfg, run, log=logs.append).run_all(stop_after="rl_1")
    meta = json.loads((run / "experiment.json").read_text())
    assert [n for n, s in meta["stages"].items() if s.get("done")] == ["expert", "g0", "eval_0", "rl_1"]
    rl = meta["stages"]["rl_1"]
    assert rl["episodes"] >= 1 and rl["env_steps"] > 0, rl
    ckpt = run / "rl" / "iteration_1" / "checkpoints"
    learner = json.loads((ckpt / (ckpt / "latest").read_text().strip() / "meta.json").read_text())
    assert learner["backbone"].startswith("octo:") and learner["backbone"].endswith("g0")  # g0 was the backbone

    logs.clear()
    res = IreExperiment(cfg, run, log=logs.append).run_all()  # continues: the first four stages are not redone
    assert sum("done already" in line for line in logs) == 4, logs
    assert [r["iteration"] for r in res["iterations"]] == [0, 1]
    assert all(r["rl"][1] == 1 and r["expert"][1] == 1 and r["unseen"][1] == 1 for r in res["iterations"])
    g0, g1 = octo.load(run / "models" / "g0")[0].params, octo.load(run / "models" / "g1")[0].params
    assert any(not np.array_equal(np.asarray(a), np.asarray(b))
               for a, b in zip(jax.tree_util.tree_leaves(g0), jax.tree_util.tree_leaves(g1), strict=True))
    sl = json.loads((run / "experiment.json").read_text())["stages"]["sl_1"]
    assert any("expert" in d for d in sl["data"])  # stage 2 keeps the expert data
    report = write_report(run).read_text()
    assert "| 0 |" in report and "| 1 |" in report


def test_a_stopped_stage_keeps_its_time_and_the_report_sets_ire_beside_rldg(tmp_path):
    """Wall time is the comparison's currency: a stage stopped part-way keeps the time it ran (its resumption adds
    it, and a resumed RL stage gets only what is left of its budget); the report puts every iteration's success and
    cycle time beside an RLDG run's RL-data generalist on the same tasks."""
    from rldg_ros.experiment.stages import StagedRun

    run = StagedRun(tmp_path / "staged", {})

    def stopped():
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run._stage("rl_1", stopped)
    first = run.spent("rl_1")
    assert first > 0 and not run.meta["stages"]["rl_1"].get("done")
    row = StagedRun(tmp_path / "staged", {})._stage("rl_1", lambda: {"episodes": 3})  # resumed: adds its time
    assert row["done"] and row["seconds"] >= first and row["episodes"] == 3

    # an RLDG run's evaluation files, as `rldg experiment rldg` leaves them
    rldg = tmp_path / "rldg"
    (rldg / "eval").mkdir(parents=True)
    (rldg / "experiment.json").write_text(json.dumps({"profile": "connectors", "stages": {
        "specialists": {"done": True, "seconds": 1800.0},
        "collect": {"done": True, "seconds": 400.0, "collected": {"rl:connector_insertion/usb": {"seconds": 120.0},
                                                                  "human:connector_insertion/usb": {"seconds": 300.0}}},
        "convert": {"done": True, "seconds": 60.0},
        "finetune": {"done": True, "seconds": 3000.0, "finetuned": {"octo_rl_15": {"minutes": 20.0},
                                                                    "openvla_rl_15": {"minutes": 30.0}}},
        "evaluate": {"done": True, "seconds": 900.0}}}))
    for task, k, ct in (("connector_insertion/usb", 24, 6.0), ("connector_insertion/ethernet", 20, 8.0),
                        ("connector_insertion/type_c", 10, 9.0)):
        for n, kk in ((15, k), (3, 1)):  # the full set and a Fig 7 subset: the full set is the reference
            (rldg / "eval" / f"octo_rl_{n}__{task.replace('/', '__')}.json").write_text(json.dumps({
                "task": task, "successes": kk, "episodes": 25, "mean_cycle_time_s": ct, "episodes_trained": n}))
    cfg = IreConfig(expert_tasks=["connector_insertion/ethernet"], unseen_tasks=["connector_insertion/type_c",
                                                                                "connector_insertion/hdmi"])
    ref = rldg_reference(rldg, cfg)
    assert (ref["rl"], ref["expert"], ref["unseen"]) == ([24, 25], [20, 25], [10, 25])  # hdmi: not evaluated
    # what that generalist cost: specialists + recording their rollouts + converting + its own fine-tuning
    assert ref["unseen_tasks"] == ["connector_insertion/type_c"] and ref["minutes"] == 33.0 + 20.0
    assert ref["rl_cycle_time_s"] == 6.0
    # a run whose fine-tuning stage did not record the model (trained by a stopped attempt): its own summary says
    meta = json.loads((rldg / "experiment.json").read_text())
    meta["stages"]["finetune"]["finetuned"] = {}
    (rldg / "experiment.json").write_text(json.dumps(meta))
    assert rldg_reference(rldg, cfg)["minutes"] is None
    (rldg / "models" / "octo_rl_15").mkdir(parents=True)
    (rldg / "models" / "octo_rl_15" / "training_summary.json").write_text(json.dumps({"seconds": 1200.0}))
    assert rldg_reference(rldg, cfg)["minutes"] == 33.0 + 20.0
    ire = tmp_path / "ire"
    ire.mkdir()
    (ire / "results.json").write_text(json.dumps({"config": asdict(cfg), "rldg": ref,
                                                  "iterations": [
        {"iteration": 0, "rl": [3, 25], "expert": [18, 25], "unseen": [2, 50], "rl_cycle_time_s": 9.5,
         "minutes": 7.0, "env_steps": 0, "rl_successes": None},
        {"iteration": 1, "rl": [12, 25], "expert": [17, 25], "unseen": [4, 50], "rl_cycle_time_s": 8.1,
         "minutes": 14.0, "env_steps": 5000, "rl_successes": 30}]}))
    md = write_report(ire).read_text()
    assert "| 1 | 12/25 (48 %" in md and "8.1 |" in md and "(total 21.0)" in md
    assert "| RLDG (RL data, octo-style-tiny) | 24/25 (96 %" in md and "| 53.0 |" in md
    assert "| iRe-VLA, last iteration | 12/25" in md and "| 21.0 |" in md
    # a resumed RL stage gets what is left of its budget; a compare_with that is no RLDG run is refused at once
    exp = IreExperiment(IreConfig(rl_minutes=10.0, compare_with=str(rldg)), tmp_path / "ire_run")
    exp.meta["stages"]["rl_1"] = {"seconds_before": 240.0}
    budgets = []
    exp._up = lambda graph, args, duration, name: budgets.append((graph, duration))
    exp.rl_stage(1)
    assert budgets == [("train_rl", 360.0)]
    with pytest.raises(FileNotFoundError, match="compare_with"):
        IreExperiment(IreConfig(compare_with=str(tmp_path / "nowhere")), tmp_path / "ire_run2")
    # the command line: ire has one config (a --profile is refused, not ignored), an unknown stage is named
    rldg_cli = str(Path(sys.executable).parent / "rldg")
    r = subprocess.run([rldg_cli, "experiment", "ire", "--profile", "full", "--run-dir", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--profile is for rldg" in r.stderr
    r = subprocess.run([rldg_cli, "experiment", "ire", "--stop-after", "rl_9", "--run-dir", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "unknown stage 'rl_9'" in r.stderr

