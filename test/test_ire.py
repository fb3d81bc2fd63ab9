"""rldg experiment ire (iRe-VLA): one tiny iteration end to end over the ROS graph changes the generalist, and a
stopped run continues where it stopped instead of starting over."""

import json

import numpy as np
import pytest

from rldg_ros.experiment.ire import IreConfig, IreExperiment, write_report


@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(1200)
def test_one_tiny_iteration_changes_the_generalist_and_a_stopped_run_continues(tmp_path, ros_env, monkeypatch):
    import jax

    from rldg_ros.vla import octo_style as octo

    monkeypatch.setenv("ROS_DOMAIN_ID", ros_env["ROS_DOMAIN_ID"])
    cfg = IreConfig(task="connector_insertion/usb", expert_tasks=["connector_insertion/ethernet"],
                    unseen_tasks=["connector_insertion/type_c"], expert="expert", expert_episodes=2, iterations=1,
                    rl_minutes=2.5, initial_steps=4, sl_steps=4, batch_size=4, eval_episodes=1)
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
