"""``rldg demo``: the main job on the embedded default.

At this stage of the project: the ``smoke`` graph (two nodes over DDS with rldg_msgs), then the simulated cell's
scripted demonstrators on a connector task (what RL and the generalists will be compared against), then the learned
reward: labelled wrist frames, a success classifier trained and calibrated on them, and its precision/recall against
the cell's ground truth on held-out episodes (a seen and an unseen connector). Issue #9 replaces it with the RLDG
experiment's quick profile.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rldg_ros.up import up


def run_demo(duration: float = 5.0, episodes: int = 10, out_dir: str | Path = "runs/demo") -> int:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "smoke.json"
        rc = up("smoke", {"report_path": str(report)}, duration=duration)
        if rc != 0 or not report.exists():
            print(f"demo: the smoke graph failed (exit {rc})")
            return rc or 1
        r = json.loads(report.read_text())
    print(f"demo: smoke graph ran {duration:.0f} s: listener received {r['received']} rldg_msgs/Action messages, "
          f"gaps {r['out_of_order_or_gaps']}, latency median {r['latency_ms_median']:.2f} ms, "
          f"p99 {r['latency_ms_p99']:.2f} ms")
    if r["received"] == 0:
        return 1
    from rldg_ros.sim.rollout import rollout

    task = "connector_insertion/usb"
    for policy in ("expert", "human_like"):
        res = rollout(task, policy, episodes, seed=100)
        lo, hi = res["success_rate_ci95"]
        ct = res["mean_cycle_time_s"]
        print(f"demo: {task} {policy}: {res['successes']}/{res['episodes']} successes (95 % CI {100 * lo:.0f}-"
              f"{100 * hi:.0f} %), mean cycle time {'n/a' if ct is None else f'{ct:.1f} s'}")
    return demo_reward(Path(out_dir) / "reward", task)


def demo_reward(out: Path, task: str) -> int:
    """A reduced version of the reward stage: 8 collection episodes, 600 training steps, 5 eval episodes/task."""
    import shutil

    from rldg_ros.reward.data import collect_dataset
    from rldg_ros.reward.evaluate import evaluate, markdown, write_report
    from rldg_ros.reward.train import TrainConfig, train

    shutil.rmtree(out, ignore_errors=True)
    collect_dataset(out / "frames", [task], 8)
    train(out / "frames", out / "model", TrainConfig(steps=600))
    results = evaluate(out / "model", [task, "connector_insertion/type_c"], 5)
    write_report(results, out / "eval")
    print(markdown(results))
    print(f"demo: reward classifier, its plots and evaluation are in {out}")
    return 0
