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
    # whole episodes were made into transitions; the graph stops actor and learner together, so the last few may
    # still be unacknowledged at that moment (the actor logs them); all acknowledged ones are in the buffer
    assert end["transitions"] >= sum(e["steps"] for e in episodes) and acked >= end["acked"]
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
