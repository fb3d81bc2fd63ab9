"""rl_actor + rl_learner over DDS in separate processes (rldg up --processes), then eval_rl from the checkpoint."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(600)  # three graphs in turn: train, evaluate, record
def test_actor_and_learner_in_separate_processes_then_eval(tmp_path, ros_env):
    run = tmp_path / "run"
    cmd = [str(BIN / "rldg"), "up", "train_rl", "--processes", "--duration", "75", "task:=connector_insertion/usb",
           "input:=expert", "reward:=sim_ground_truth", "demos:=none", f"run_dir:={run}", "eval_every:=0"]
    out = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=240)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert "process(es)" in log and "rl_learner up (fresh)" in log
    rows = [json.loads(line) for line in (run / "actor" / "metrics.jsonl").read_text().splitlines()]
    episodes = [r for r in rows if r["kind"] != "shutdown"]
    assert episodes and all(e["kind"] == "episode_train" for e in episodes), log[-3000:]
    end = rows[-1]
    assert end["kind"] == "shutdown" and end["acked"] + end["unacked"] == end["transitions"]
    ckpt = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    meta = json.loads((ckpt / "meta.json").read_text())
    assert meta["reason"] == "shutdown" and meta["obs_mode"] == "state" and not meta["privileged_state"]
    (actor, acked), = meta["acked"].items()
    # every transition the learner acknowledged is in its buffer, in order, from one actor session
    assert actor.startswith("rl_actor-") and acked == meta["received"] == meta["online_size"]
    # whole episodes were made into transitions, and the stopping actor handed every one over (it stops first and
    # empties its outbox; the learner stops after it): the learner holds exactly what the actor produced
    assert end["transitions"] >= sum(e["steps"] for e in episodes)
    assert end["unacked"] == 0 and end["acked"] == acked == end["transitions"], (meta, end)
    assert meta["online_size"] >= 50 and meta["step"] > 0
    from rldg_ros.rl.report import write_report

    md, png = write_report(run, None)  # the report reads the run (episodes, learner metrics, the shutdown row)
    assert png.stat().st_size > 1000 and f"| train_episodes | {len(episodes)} |" in md.read_text()

    report = tmp_path / "eval.json"
    cmd = [str(BIN / "rldg"), "up", "eval_rl", "--duration", "150", "task:=connector_insertion/usb",
           "reward:=sim_ground_truth", f"checkpoint:={run}", "episodes:=2", f"report:={report}"]
    out = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=240)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    assert "rl_actor finished" in log  # the graph ended by itself after its episodes
    summary = json.loads(report.read_text())
    assert summary["eval_episodes"] == 2 and summary["train_episodes"] == 0
    assert all(e["eval"] and e["interventions"] == 0 for e in summary["episodes"])


    # the RLDG data: the specialist's rollouts recorded (collect policy:=rl) carry the task's language instruction,
    # as the human demonstrations do (a generalist trained on them is conditioned on it)
    from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
    from rldg_ros.data.rlds import RldsReader

    bags = tmp_path / "bags"
    cmd = [str(BIN / "rldg"), "up", "collect", "--duration", "150", "task:=connector_insertion/usb", "policy:=rl",
           f"checkpoint:={run}", "episodes:=1", f"bag_dir:={bags}", "reward:=sim_ground_truth"]
    out = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=240)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    rep = Converter(TopicMap(), ConvertOptions(progress=False, success_only=False)).run([bags], tmp_path / "rlds", "rl")
    eps = list(RldsReader(rep.dataset).episodes(decode_images=False))
    assert eps and not any("language instruction" in p for p in rep.problems), (rep.episodes_skipped, rep.problems)
    assert all(set(e["steps"]["language_instruction"]) == {"insert the usb connector into the port"} for e in eps)


@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(600)
def test_a_killed_learner_is_respawned_the_actor_keeps_acting_and_no_transition_is_lost(tmp_path, ros_env):
    """kill -9 the learner of a running `rldg up train_rl`: `rldg up` respawns it (back-off), it resumes from its
    checkpoint + write-ahead log, the actor keeps acting on its last policy meanwhile and resends what was not
    acknowledged; at the end the learner holds exactly the transitions the actor had acknowledged."""
    import os
    import re
    import signal
    import time

    run = tmp_path / "run"
    cmd = [str(BIN / "rldg"), "up", "train_rl", "--processes", "--duration", "200", "task:=connector_insertion/usb",
           "input:=expert", "reward:=sim_ground_truth", "demos:=none", f"run_dir:={run}", "eval_every:=0"]
    logf = tmp_path / "up.log"
    with open(logf, "w") as f:
        proc = subprocess.Popen(cmd, env=ros_env, stdout=f, stderr=subprocess.STDOUT, text=True)
    try:
        learner_pid, killed_at = None, None
        deadline = time.monotonic() + 170
        while proc.poll() is None and time.monotonic() < deadline and killed_at is None:
            time.sleep(1.0)
            log = logf.read_text()
            m = re.search(r"rl_learner\[(\d+)\]", log)
            if m and learner_pid is None:
                learner_pid = int(m.group(1))
            latest = run / "checkpoints" / "latest"
            meta = (latest.parent / latest.read_text().strip() / "meta.json") if latest.is_file() else None
            # kill it once it has checkpointed on its step cadence (config/nodes/rl.yaml: every 1000 steps) and taken
            # more transitions since (they are in its write-ahead log)
            if learner_pid and meta and meta.is_file() and json.loads(meta.read_text())["step"] > 0:
                time.sleep(3.0)
                os.kill(learner_pid, signal.SIGKILL)
                killed_at = time.time()
        assert killed_at is not None, logf.read_text()[-3000:]
        proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
    log = logf.read_text()
    assert proc.returncode == 0, log[-3000:]
    assert "rl_learner crashed (exit -9); respawning in 1 s" in log and "rl_learner respawned" in log, log[-3000:]
    assert re.search(r"rl_learner up \(resumed from .*ckpt-\d+\)", log), log[-3000:]
    rows = [json.loads(line) for line in (run / "actor" / "metrics.jsonl").read_text().splitlines()]
    after = [r for r in rows if r["kind"] == "episode_train" and r["time"] > killed_at]
    assert len(after) >= 2, "the actor stopped acting when the learner died"
    end = rows[-1]
    assert end["kind"] == "shutdown" and end["acked"] + end["unacked"] == end["transitions"]
    ckpt = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    meta = json.loads((ckpt / "meta.json").read_text())
    (actor, acked), = meta["acked"].items()  # one actor session throughout: it never restarted
    # nothing lost or duplicated across the crash: every transition the learner acknowledged is in its buffer once,
    # in order, and it holds exactly what the actor produced (`rldg up` stops the actor first, which hands over its
    # outbox before it exits; the learner stops after it)
    assert acked == meta["received"] == meta["online_size"], meta
    assert end["unacked"] == 0 and end["acked"] == acked == end["transitions"], (meta, end)
    resumes = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
               if '"kind": "resume"' in line]
    assert resumes and resumes[0]["step"] > 0  # it came back at its checkpointed step, not at step 0


@pytest.mark.xdist_group("heavy")
@pytest.mark.timeout(600)
def test_two_actor_cells_feed_one_learner_and_every_transition_is_counted(tmp_path, ros_env):
    """train_rl_fleet actors:=2: two cells in their own namespaces (own robot, own seeds), one learner. Each actor's
    transitions carry its id and are acknowledged per actor; at the end the learner holds exactly what the two
    actors produced, and the two ran different episodes."""
    run = tmp_path / "fleet"
    cmd = [str(BIN / "rldg"), "up", "train_rl_fleet", "--processes", "--duration", "90", "actors:=2",
           "task:=connector_insertion/usb", "intervener:=expert", "reward:=sim_ground_truth", "demos:=none",
           f"run_dir:={run}", "eval_every:=0"]
    out = subprocess.run(cmd, env=ros_env, capture_output=True, text=True, timeout=300)
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-3000:]
    actors = {}
    for d in sorted((run / "actors").iterdir()):
        rows = [json.loads(line) for line in (d / "metrics.jsonl").read_text().splitlines()]
        end = rows[-1]
        assert end["kind"] == "shutdown", (d, rows[-3:])
        actors[end["actor_id"]] = {"end": end, "episodes": [r for r in rows if r["kind"] == "episode_train"],
                                   "dir": d.name}
    assert sorted(a["dir"] for a in actors.values()) == ["actor_0", "actor_1"]
    ckpt = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    meta = json.loads((ckpt / "meta.json").read_text())
    assert set(meta["acked"]) == set(actors), (meta["acked"], list(actors))  # one acknowledgement stream per actor
    for actor_id, a in actors.items():
        assert a["episodes"], f"{actor_id} ran no episode"
        end = a["end"]
        assert end["unacked"] == 0 and end["acked"] == end["transitions"] == meta["acked"][actor_id], (actor_id, end)
    assert meta["received"] == meta["online_size"] == sum(a["end"]["transitions"] for a in actors.values())
    seeds = [{e["seed"] for e in a["episodes"]} for a in actors.values()]
    assert not seeds[0] & seeds[1]  # each cell has its own training seeds
    # one policy broadcast reaches every cell: each acted with parameters newer than its first ones
    for actor_id, a in actors.items():
        versions = [e["step"] for e in a["episodes"]] + [a["end"]["step"]]
        assert max(versions) > min(versions), (actor_id, versions)
