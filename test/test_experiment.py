"""The RLDG experiment's config, its data caps and ``rldg report`` on a small fixture run."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rldg_ros.config import ConfigError
from rldg_ros.experiment.config import load_experiment_config
from rldg_ros.experiment.layout import RunLayout, slug
from rldg_ros.experiment.report import near_insertion_actions, write_report

RLDG = str(Path(sys.executable).parent / "rldg")
USB, TYPE_C = "connector_insertion/usb", "connector_insertion/type_c"


def test_profiles_load_and_bad_settings_are_named():
    q = load_experiment_config("quick")
    f = load_experiment_config("full")
    assert q.tasks == [USB] and q.unseen_tasks == [TYPE_C]
    assert len(f.tasks) == 3 and len(f.unseen_tasks) == 4  # the paper's connector split
    with pytest.raises(ConfigError, match="unseen task"):
        load_experiment_config("quick", overrides={"unseen_tasks": [USB]})
    with pytest.raises(ConfigError, match="unknown task 'nope'"):
        load_experiment_config("quick", overrides={"tasks": ["nope"]})
    from rldg_ros.experiment.config import profiles

    assert {"quick", "full", "connectors"} <= set(profiles()) and "ire" not in profiles()
    px = load_experiment_config("connectors")  # extends full: its tasks and recipes, pixel specialists
    assert (px.tasks, px.unseen_tasks, px.finetune_steps_octo) == (f.tasks, f.unseen_tasks, f.finetune_steps_octo)
    assert (px.rl_obs, px.rl_embed_cache, f.rl_obs) == ("pixels", 4, "state") and Path(px.rl_encoder).is_dir()
    assert load_experiment_config("connectors", overrides={"rl_embed_cache": 2}).rl_embed_cache == 2
    # one profile per use case of the paper, each with the connectors profile's pixel specialists and recipes
    for name, tasks, unseen in (("pick_place", ["pick_place/train"], ["pick_place/unseen"]),
                                ("fmb_insertion", ["fmb_insertion"], []), ("fmb_assembly", ["fmb_assembly"], [])):
        c = load_experiment_config(name)
        assert (c.tasks, c.unseen_tasks, c.rl_obs, c.rl_encoder) == (tasks, unseen, "pixels", px.rl_encoder), name
    with pytest.raises(ConfigError, match="scaling_episodes"):
        load_experiment_config("quick", overrides={"scaling": True, "scaling_episodes": [20]})
    with pytest.raises(ConfigError, match="episodes"):
        load_experiment_config("quick", overrides={"episodes": 0})
    with pytest.raises(ConfigError, match="rl_obs pixels"):
        load_experiment_config("quick", overrides={"rl_backbone": "octo:models/bases/octo-style-tiny-simbase"})
    with pytest.raises(ConfigError, match="set one"):
        load_experiment_config("quick", overrides={"rl_obs": "pixels", "rl_backbone": "octo:m", "rl_encoder": "e"})
    with pytest.raises(ConfigError, match="use octo:PATH"):
        load_experiment_config("quick", overrides={"rl_obs": "pixels", "rl_backbone": "models/x"})
    with pytest.raises(ConfigError, match="backbone checkpoint nowhere does not exist"):
        load_experiment_config("quick", overrides={"rl_obs": "pixels", "rl_backbone": "octo:nowhere"})
    with pytest.raises(ConfigError, match="rl_encoder nowhere is not a directory"):
        load_experiment_config("quick", overrides={"rl_obs": "pixels", "rl_encoder": "nowhere"})
    r = subprocess.run([RLDG, "experiment", "rldg", "--set", "models=[gpt]"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "model 'gpt'" in r.stderr


def test_convert_caps_episodes_per_task(tmp_path):
    from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
    from rldg_ros.data.rlds import RldsReader
    from rldg_ros.data.synthetic import write_episodes

    write_episodes(tmp_path / "bag", 5, 6, image_size=32)
    rep = Converter(TopicMap(image_size=32), ConvertOptions(max_episodes=3, progress=False)).run(
        [tmp_path / "bag"], tmp_path / "out", "capped")
    eps = list(RldsReader(rep.dataset).episodes(decode_images=False))
    assert len(eps) == 3 and sum(rep.episodes_written.values()) == 3
    assert [e["episode_metadata"]["episode_id"] for e in eps] == sorted(e["episode_metadata"]["episode_id"]
                                                                        for e in eps)  # the first ones, in order
    assert any("cap" in s["reason"] for s in rep.episodes_skipped)
    with pytest.raises(ValueError, match="max_episodes"):
        Converter(TopicMap(), ConvertOptions(max_episodes=-1))


def test_near_insertion_actions_are_those_close_to_the_end():
    pos = np.array([[0.0, 0, 0.10], [0, 0, 0.05], [0, 0, 0.012], [0, 0, 0.0]])
    state = np.concatenate([pos, np.zeros((4, 16))], axis=1)
    action = np.arange(28, dtype=np.float32).reshape(4, 7)
    near = near_insertion_actions([{"state": state, "action": action}], radius_m=0.015)
    assert np.array_equal(near, action[2:])


def _eval_row(name, kind, task, seen, successes, n=10, cycle=2.0, **kw):
    detail = [{"seed": 100000 + i, "success": i < successes, "steps": 20, "cycle_time_s": cycle,
               "max_contact_force_n": 0.0} for i in range(n)]
    return {"task": task, "policy": name, "episodes": n, "successes": successes, "success_rate": successes / n,
            "success_rate_ci95": [0, 1], "mean_cycle_time_s": cycle, "episodes_detail": detail, "name": name,
            "kind": kind, "seen": seen, **kw}


def _fixture_run(run: Path) -> None:
    from rldg_ros.data.rlds import Episode, RldsWriter, encode_jpeg

    cfg = load_experiment_config("quick", overrides={"episodes": 4, "scaling": True, "scaling_episodes": [2],
                                                    "eval_episodes": 10, "scaling_models": ["openvla"],
                                                    "models": ["octo", "openvla"], "relabel": True})
    img = encode_jpeg(np.zeros((16, 16, 3), np.uint8))
    rng = np.random.default_rng(0)
    for source, scale in (("rl", 0.8), ("human", 0.1), ("human_relabeled", 0.8)):
        w = RldsWriter(run / "data" / f"{source}_4", slug(USB), (16, 16, 3), 19)
        for e in range(4):
            T = 12
            state = np.zeros((T, 19), np.float32)
            state[:, 2] = np.linspace(0.05, 0.0, T)  # descending onto the port
            action = np.zeros((T, 7), np.float32)
            action[:, 2] = -scale + 0.01 * rng.standard_normal(T)
            w.write(Episode([img] * T, state, action, np.eye(T, dtype=np.float32)[-1], "insert", f"f{e}", USB, e,
                            True, 0.0))
        w.close()
    evals = []
    table = {("octo", "rl"): (9, 6), ("octo", "human"): (5, 2), ("octo", "human_relabeled"): (8, 5),
             ("openvla", "rl"): (10, 7), ("openvla", "human"): (6, 3), ("openvla", "human_relabeled"): (9, 6)}
    for (m, s), (seen_k, unseen_k) in table.items():
        for task, seen, k in ((USB, True, seen_k), (TYPE_C, False, unseen_k)):
            evals.append(_eval_row(f"{m}_{s}_4", "generalist", task, seen, k, cycle=2.0 if s == "rl" else 5.0,
                                   model=m, source=s, episodes_trained=4, data=f"{s}_4"))
    for s, k in (("rl", 7), ("human", 1)):
        for task, seen in ((USB, True), (TYPE_C, False)):
            evals.append(_eval_row(f"openvla_{s}_2", "generalist", task, seen, k, model="openvla", source=s,
                                   episodes_trained=2, data=f"{s}_2"))
    for s, k in (("rl", 9), ("human", 0)):
        evals.append(_eval_row(f"probe_{s}_4", "probe", USB, True, k, model="mlp-probe", source=s,
                               episodes_trained=4, data=f"{s}_4"))
    evals.append(_eval_row("rl_specialist", "specialist", USB, True, 10, trained_on=USB))
    evals.append(_eval_row("rl_specialist", "specialist", TYPE_C, False, 4, trained_on=USB))
    from dataclasses import asdict

    (run / "results.json").write_text(json.dumps({"profile": "test", "config": asdict(cfg), "evaluations": evals,
                                                  "stages": {"specialists": {"seconds": 0, "specialists": {
                                                      USB: {"path": "/s/usb", "trained_here": False,
                                                            "minutes": 16.3, "env_steps": 9421,
                                                            "final_eval": "20/20"}}},
                                                      "collect": {"seconds": 60, "collected": {
                                                      f"rl:{USB}": {"successes": 6, "rollouts": 6}}}}}))


def test_report_from_a_fixture_run(tmp_path):
    _fixture_run(tmp_path)
    md_path = write_report(tmp_path)
    md = md_path.read_text()
    for fig in ("fig5_success", "fig6_cycle_time", "fig7_scaling", "fig8_actions", "fig9_relabel",
                "generalization", "probe"):
        png = tmp_path / "report" / f"{fig}.png"
        assert png.stat().st_size > 5000, fig
        assert f"({fig}.png)" in md
    # the numbers of the fixture, per model and source, seen / unseen
    assert "| octo-style-tiny | RL data (RLDG) | 9/10 (90 %" in md
    assert "| openvla-style-tiny | human(-like) data | 6/10 (60 %" in md
    assert "| openvla-style-tiny | RL data (RLDG) | 10/10 (100 %, CI 72-100) | 7/10 (70 %" in md
    assert "| RL specialist(s) | 10/10 (100 %, CI 72-100) | 4/10 (40 %" in md
    # Fig 7 row: 2 and 4 episodes
    assert "| openvla-style-tiny | RL data (RLDG) | 7/10 / 7/10 | 10/10 / 7/10 |" in md
    # ... and its reading: the fewest RL episodes that reach the human data's success with all of them
    assert ("- openvla-style-tiny: seen: RL data with **2** episodes per task (70%) reaches human data's 60% with 4 "
            "(0.50 of them); unseen: RL data with **2** episodes") in md
    # Fig 8 data table: RL actions near the port are large, human ones near zero
    rl_row = next(line for line in md.splitlines() if line.startswith("| RL data (RLDG) | 4 | 48 |"))
    hu_row = next(line for line in md.splitlines() if line.startswith("| human(-like) data | 4 | 48 |"))
    assert float(rl_row.split("|")[-2]) > 0.7 > 0.2 > float(hu_row.split("|")[-2])
    assert "not** OpenVLA or Octo" in md
    assert "| RL data (RLDG) | 4 | 9/10 (90 %" in md and "| human(-like) data | 4 | 0/10 (0 %" in md  # the probe
    # probe rows are not generalists: Fig 5's table is unchanged by them
    assert md.count("| octo-style-tiny | RL data (RLDG) |") == 1
    assert "## Per task" not in md  # one seen and one unseen task: the pooled tables say it all
    # a specialist loaded from elsewhere: its own training is stated, and the total with it (1.0 + 16.3 min)
    assert "loaded (/s/usb; trained there in 16.3 min, 9421 env steps, final evaluation 20/20)" in md
    assert "| **total** | **1.0** | |" in md and "| total with the loaded specialists' own training | 17.3 | |" in md
    # a subset not evaluated (a run stopped before it) is "-", never 0/0
    res_path = RunLayout(tmp_path).results
    res = json.loads(res_path.read_text())
    res["evaluations"] = [e for e in res["evaluations"]
                          if not (e.get("source") == "human" and e.get("episodes_trained") == 2)]
    res_path.write_text(json.dumps(res))
    md = write_report(tmp_path).read_text()
    assert "| openvla-style-tiny | human(-like) data | - / - |" in md and "0/0" not in md


def test_train_seeds_fine_tune_each_run_once_per_seed_and_the_report_gives_each_seed(tmp_path):
    """train_seeds=2: every (model, data) is fine-tuned twice, the first run keeping its plain name, the second with
    the next training seed (its own folder and evaluations); the report pools both and lists each seed's success."""
    from rldg_ros.experiment.pipeline import Experiment, _trainer

    cfg = load_experiment_config("quick", overrides={"train_seeds": 2, "seed": 3})
    cfg.collect_human_during_rl = False
    exp = Experiment(cfg, tmp_path / "exp")
    runs = exp.runs()
    assert len(runs) == 2 * len({r["model"] + r["data"] for r in runs})
    first = runs[0]
    plain = f"{first['model']}_{first['data']}"
    assert [(r["name"], r["train_seed"]) for r in runs[:2]] == [(plain, 3), (plain + "_t1", 4)]
    gens = [p for p in exp.policies() if p["kind"] == "generalist"]
    assert {p["spec"].rsplit("/", 1)[1] for p in gens} == {r["name"] for r in runs}
    for model in ("octo", "openvla"):  # the seed reaches the trainer
        assert _trainer(model, 10, cfg, None, finetune=True, seed=4)[1].seed == 4
        assert _trainer(model, 10, cfg, None)[1].seed == 3

    _fixture_run(tmp_path)
    res_path = RunLayout(tmp_path).results
    res = json.loads(res_path.read_text())
    res["evaluations"] += [_eval_row("octo_rl_4_t1", "generalist", task, seen, k, model="octo", source="rl",
                                     episodes_trained=4, data="rl_4", train_seed=1)
                           for task, seen, k in ((USB, True, 5), (TYPE_C, False, 6))]
    res_path.write_text(json.dumps(res))
    md = write_report(tmp_path).read_text()
    assert ("| octo-style-tiny | RL data (RLDG) | 14/20 (70 %, CI 48-85) (by training seed: 9/10, 5/10) | "
            "12/20 (60 %, CI 39-78) (by training seed: 6/10, 6/10) |") in md
    assert "by training seed" not in next(line for line in md.splitlines()
                                          if line.startswith("| octo-style-tiny | human(-like) data |"))


def test_report_lists_each_task_when_there_are_several(tmp_path):
    _fixture_run(tmp_path)
    res = json.loads((tmp_path / "results.json").read_text())
    hdmi = "connector_insertion/hdmi"
    res["config"]["unseen_tasks"].append(hdmi)
    res["evaluations"] += [
        _eval_row("octo_rl_4", "generalist", hdmi, False, 3, model="octo", source="rl", episodes_trained=4,
                  data="rl_4"),
        _eval_row("rl_specialist", "specialist", hdmi, False, 2, trained_on=USB)]
    (tmp_path / "results.json").write_text(json.dumps(res))
    md = write_report(tmp_path).read_text()
    assert "| policy | usb | type_c* | hdmi* |" in md
    assert "| octo-style-tiny, RL data (RLDG) | 9 | 6 | 3 |" in md
    assert "| openvla-style-tiny, human(-like) data | 6 | 3 | - |" in md  # not evaluated there
    assert "| data probe, RL data (RLDG) | 9 | - | - |" in md
    # the paper's yardstick: the single specialist that does best on the unseen variants (USB: 6/20; VGA: 13/20)
    vga = "connector_insertion/vga"
    res["evaluations"] += [_eval_row("rl_specialist_vga", "specialist", t, seen, k, trained_on=vga)
                           for t, seen, k in ((vga, True, 10), (TYPE_C, False, 9), (hdmi, False, 4))]
    (tmp_path / "results.json").write_text(json.dumps(res))
    md = write_report(tmp_path).read_text()
    assert f"| best single RL specialist ({vga}) | 10/10 (100 %, CI 72-100) | 13/20 (65 %" in md


def test_the_mlp_probe_clones_a_state_to_action_map():
    from rldg_ros.experiment.probe import MlpProbe, ProbeConfig

    rng = np.random.default_rng(0)
    states = rng.uniform(-1, 1, (400, 5)).astype(np.float32)
    actions = np.zeros((400, 7), np.float32)
    actions[:, 0] = 0.5 * states[:, 0] - 0.3 * states[:, 1]
    actions[:, 6] = 1.0  # a constant dimension (the gripper) is passed through
    probe = MlpProbe(states, actions, ProbeConfig(steps=1000))
    test = rng.uniform(-1, 1, (50, 5)).astype(np.float32)
    pred = np.stack([probe.act(x) for x in test])
    assert np.abs(pred[:, 0] - (0.5 * test[:, 0] - 0.3 * test[:, 1])).max() < 0.1
    assert np.all(pred[:, 6] == 1.0) and np.all(pred[:, 1:6] == 0.0)


def test_report_cli_names_a_missing_run(tmp_path):
    r = subprocess.run([RLDG, "report", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "results.json does not exist" in r.stderr


def _boom(x):
    """Job 2 fails, the others succeed (two failing jobs on two workers would race for the reported error)."""
    if x == 2:
        raise ValueError(f"job {x} failed")
    return x


def test_evaluation_jobs_on_worker_processes_match_in_process():
    """The experiment's evaluate stage on 2 spawned workers gives the episodes a direct in-process run gives, and a
    failing job stops the stage with its own error."""
    from rldg_ros.experiment.pipeline import _eval_job, run_jobs
    from rldg_ros.vla.evaluate import evaluate_inprocess

    tasks = [USB, "connector_insertion/vga"]
    got = {}
    run_jobs(_eval_job, [(("expert", t, 2, "in_process"), t) for t in tasks], 2, got.__setitem__, "test")
    assert sorted(got) == sorted(tasks)
    for t in tasks:
        ref = evaluate_inprocess("expert", t, 2, 100_000)
        assert [(e["seed"], e["success"], e["steps"]) for e in got[t]["episodes_detail"]] == \
            [(e["seed"], e["success"], e["steps"]) for e in ref["episodes_detail"]]
    with pytest.raises(ValueError, match="job 2 failed"):
        run_jobs(_boom, [((2,), "a"), ((3,), "b")], 2, lambda k, r: None, "test")


def test_rl_data_samples_the_specialist_and_is_labelled_with_its_mean_action(tmp_path):
    """docs/generalists.md: the specialist's deterministic rollouts are a thin tube of states that clones poorly;
    by default it is rolled out sampling its actions (as HIL-SERL does) and each step is labelled with its mean."""
    from rldg_ros.experiment.pipeline import Experiment
    from rldg_ros.graphs import get_graph, resolve

    exp = Experiment(load_experiment_config("quick", overrides={"scaling": True, "scaling_episodes": [10],
                                                                "relabel": True}), tmp_path / "run")
    spec = str(exp.specialist_path(USB))
    jobs = {name: (src, relabel) for name, src, _, relabel in exp.convert_jobs(USB, 20)}
    assert jobs["rl_20"] == ("rl", spec) and jobs["rl_10"] == ("rl", spec) and jobs["human_20"] == ("human", "")
    assert jobs["human_relabeled_20"] == ("human", spec)
    exp.cfg.rl_labels = "executed"
    assert {name: r for name, _, _, r in exp.convert_jobs(USB, 20)}["rl_20"] == ""
    actor = next(n for n in resolve(get_graph("collect"), {"policy": "rl", "checkpoint": "x"})
                 if n.spec.name == "rl_actor")
    assert actor.parameters["sample_actions"] == "true" and actor.parameters["eval_only"] == "true"
    mean = {"policy": "rl", "checkpoint": "x", "sample_actions": "false"}
    actor = next(n for n in resolve(get_graph("collect"), mean) if n.spec.name == "rl_actor")
    assert actor.parameters["sample_actions"] == "false"


def test_contact_oversampling_applies_to_octo_fine_tuning_only():
    from rldg_ros.experiment.pipeline import _trainer

    c = load_experiment_config("quick", overrides={"contact_oversample_octo": 4.0})
    assert _trainer("octo", 10, c, None, finetune=True)[1].contact_oversample == 4.0  # every source's fine-tuning
    assert _trainer("octo", 10, c, None)[1].contact_oversample == 1.0  # a base pretrains uniformly
    assert not hasattr(_trainer("openvla", 10, c, None, finetune=True)[1], "contact_oversample")
    with pytest.raises(ConfigError, match="contact_oversample_octo"):
        load_experiment_config("quick", overrides={"contact_oversample_octo": 0.5})
    r = subprocess.run([RLDG, "finetune", "--model", "openvla", "--data", "x", "--out", "y", "--contact-oversample",
                        "2"], capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "octo-style option" in r.stderr


def test_quick_profile_records_the_human_demonstrations_while_the_specialist_trains(tmp_path, monkeypatch):
    """The human-like demonstrator needs no specialist: its graph runs alongside train_rl, on its own ROS domain
    (two graphs on one domain would mix their topics), and the collect stage waits for it instead of recording
    again. The quick profile has no Fig 7 subsets."""
    import threading

    from rldg_ros.experiment.pipeline import Experiment

    monkeypatch.setenv("ROS_DOMAIN_ID", "7")
    cfg = load_experiment_config("quick")
    assert not cfg.scaling and cfg.scaling_runs() == ([], []) and cfg.eval_episodes >= 20
    exp = Experiment(cfg, tmp_path / "run")
    assert not any(n.startswith(("rl_10", "human_10")) for n in exp.datasets())
    calls, release = [], threading.Event()

    def fake_up(graph, args, duration, log_name, domain=None):  # records the graph it would start
        calls.append((graph, args["policy"], domain, threading.current_thread().name))
        if args["policy"] == "human_like":
            release.wait(30)  # still recording while the foreground goes on
        return 0

    monkeypatch.setattr(exp, "_up", fake_up)
    monkeypatch.setattr(exp, "count_collected", lambda out, task, n: {"rollouts": n, "successes": 0, "bags": 0})
    exp.start_human_collection()
    assert ("human", USB) in exp._background
    exp.collect_one("rl", USB)  # stands for the specialist's stage going on meanwhile
    assert not (tmp_path / "run" / "bags" / "human" / slug(USB) / "collected.json").exists()  # still recording
    release.set()
    info = exp.collect()["collected"]
    assert not exp._background  # collect waited for the background recording's result
    assert set(info) == {f"rl:{USB}", f"human:{USB}"}
    human = [c for c in calls if c[1] == "human_like"]
    rl = [c for c in calls if c[1] == "rl"]
    assert len(human) == 1 and len(rl) == 1, calls  # neither recorded twice
    assert human[0][2] == 8 and human[0][3].startswith("collect_human") and rl[0][2] is None
    exp.cfg.collect_human_during_rl = False
    exp2 = Experiment(exp.cfg, tmp_path / "run2")
    monkeypatch.setattr(exp2, "_up", fake_up)
    exp2.start_human_collection()
    assert not exp2._background


def test_stop_after_runs_the_stages_up_to_the_one_named_and_a_rerun_continues(tmp_path, monkeypatch):
    """--stop-after STAGE: the stages up to STAGE run, the later ones do not (a re-run without it continues); an
    unknown stage is refused before anything runs."""
    from rldg_ros.experiment.pipeline import STAGE_METHODS, STAGES, Experiment

    cfg = load_experiment_config("quick")
    cfg.collect_human_during_rl = False
    exp = Experiment(cfg, tmp_path / "run")
    ran: list[str] = []
    for name, method in STAGE_METHODS.items():
        monkeypatch.setattr(exp, method, lambda name=name: ran.append(name) or {})
    monkeypatch.setattr(exp, "collect_results", lambda: ran.append("results"))
    with pytest.raises(ValueError, match="unknown stage 'convertt'"):
        exp.run_all(stop_after="convertt")
    assert ran == []
    exp.run_all(stop_after="convert")
    assert ran == ["specialists", "collect", "convert"]
    ran.clear()
    exp.run_all()
    assert ran == [*STAGES[3:], "results"]  # the finished stages are kept


def test_reopen_runs_a_done_stage_and_the_later_ones_again_keeping_their_time(tmp_path, monkeypatch):
    """--reopen STAGE (e.g. to add the Fig 7 subsets to a finished run): STAGE and the later stages run again, the
    earlier ones stay skipped, and the reopened stages keep the time they took as seconds_before."""
    from rldg_ros.experiment.pipeline import STAGE_METHODS, STAGES, Experiment

    cfg = load_experiment_config("quick")
    cfg.collect_human_during_rl = False
    exp = Experiment(cfg, tmp_path / "run")
    ran: list[str] = []
    for name, method in STAGE_METHODS.items():
        monkeypatch.setattr(exp, method, lambda name=name: ran.append(name) or {"kept": name, "runs": {len(ran): 1}})
    monkeypatch.setattr(exp, "collect_results", lambda: ran.append("results"))
    exp.run_all()
    exp.meta["stages"]["finetune"]["seconds"] = 600.0
    with pytest.raises(ValueError, match="unknown stage 'fine'"):
        exp.reopen("fine", STAGES)
    assert exp.reopen("finetune", STAGES) == ["finetune", "evaluate", "probe"]
    ft = exp.meta["stages"]["finetune"]
    assert not ft.get("done") and ft["seconds_before"] == 600.0 and ft["kept"] == "finetune"
    ran.clear()
    exp.run_all()
    assert ran == ["finetune", "evaluate", "probe", "results"]
    assert exp.meta["stages"]["finetune"]["seconds"] >= 600.0
    assert exp.meta["stages"]["finetune"]["runs"] == {5: 1, 1: 1}  # what its first run recorded is kept


def test_the_demonstrator_evaluation_and_the_probe_can_be_left_out(tmp_path, monkeypatch):
    """The quick profile leaves the scripted demonstrator's evaluation and the data probe to the full profile: no
    job is made for either (the full profile keeps both)."""
    from rldg_ros.experiment import pipeline
    from rldg_ros.experiment.pipeline import Experiment

    quick, full = load_experiment_config("quick"), load_experiment_config("full")
    assert full.eval_demonstrator and full.probe and not quick.eval_demonstrator and not quick.probe
    quick.collect_human_during_rl = False
    exp = Experiment(quick, tmp_path / "run")
    assert all(p["kind"] != "scripted" for p in exp.policies())
    assert any(p["kind"] == "specialist" for p in exp.policies())
    monkeypatch.setattr(pipeline, "run_jobs", lambda *a, **k: pytest.fail("the probe ran a job"))
    assert exp.probe() == {"probe": None}
    full.collect_human_during_rl = False
    assert any(p["kind"] == "scripted" for p in Experiment(full, tmp_path / "run2").policies())


def test_fmb_assembly_trains_rl_on_the_insertion_stage_and_mixes_human_grasp_segments(tmp_path, monkeypatch):
    """The paper's FMB assembly: RL only for the insertion stage; the RL data is the human demonstrations' grasp and
    transport segments + the specialist's insertion rollouts (recorded with the whole task's instruction)."""
    from rldg_ros.data.rlds import RldsReader
    from rldg_ros.data.synthetic import write_episodes
    from rldg_ros.experiment.pipeline import Experiment
    from rldg_ros.sim.tasks import make_task

    task, stage = "fmb_assembly", "fmb_assembly/insertion"
    cfg = load_experiment_config("quick", overrides={
        "tasks": [task], "unseen_tasks": [], "episodes": 2, "relabel": False, "rl_labels": "executed",
        "collect_human_during_rl": False})
    exp = Experiment(cfg, tmp_path / "run")
    calls = []

    def fake_up(graph, args, *_a, **_k):  # records the graph it would start; train_rl's run_dir appears
        calls.append((graph, dict(args)))
        if "run_dir" in args:
            Path(args["run_dir"]).mkdir(parents=True)
        return 0

    monkeypatch.setattr(exp, "_up", fake_up)
    monkeypatch.setattr(exp, "count_collected", lambda out, t, n: {"rollouts": n, "successes": 2, "bags": 1,
                                                                   "counted": t})
    exp.train_specialists()
    rl, human = exp.collect_one("rl", task), exp.collect_one("human", task)
    (_, train), (_, roll), (_, demo) = calls
    assert train["task"] == stage and roll["task"] == stage and rl["counted"] == stage
    assert roll["instruction"] == make_task(task).instruction and roll["checkpoint"] == exp.specialist_path(task)
    assert demo["task"] == task and "instruction" not in demo and human["counted"] == task
    spec = next(p for p in exp.policies() if p["kind"] == "specialist")
    assert spec["trained_on"] == stage and spec["stage_of"] == task  # evaluated on the stage it learned

    # human demos of the whole task (grasp for 8 steps, then insertion), RL rollouts of the insertion stage
    write_episodes(exp.layout.bags("human", task) / "b0", episodes=2, steps=20, phase_at=8, task=task)
    write_episodes(exp.layout.bags("rl", task) / "b0", episodes=3, steps=12, task=stage)
    exp.convert()
    eps = list(RldsReader(exp.layout.dataset("rl_2", task)).episodes(decode_images=False))
    lengths = sorted(len(e["steps"]["action"]) for e in eps)
    assert lengths == [8, 8, 12, 12], lengths  # 2 human grasp segments + 2 (of 3) RL insertion rollouts
    human_eps = list(RldsReader(exp.layout.dataset("human_2", task)).episodes(decode_images=False))
    assert [len(e["steps"]["action"]) for e in human_eps] == [20, 20]  # the human data: whole demonstrations
    # specialists trained elsewhere are found under the task's name or its RL stage's
    store = tmp_path / "store" / "fmb_assembly__insertion"
    store.mkdir(parents=True)
    exp.cfg.specialist_dir = str(tmp_path / "store")
    assert exp.specialist_path(task) == store
