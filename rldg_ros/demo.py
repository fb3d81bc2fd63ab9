"""``rldg demo`` (``make demo``): the main job on the embedded default.

A 5-second check that rclpy, DDS and rldg_msgs work here (the ``smoke`` graph), then the RLDG experiment's quick
profile end to end (``rldg experiment rldg --profile quick``: an RL specialist on the USB connector, its rollouts and
human-like demos recorded as rosbag2 and converted to RLDS, the octo-style generalist fine-tuned on each, evaluated on
the seen connector and an unseen one) and its report. A second run continues where the first stopped.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from rldg_ros.up import up


def run_demo(duration: float = 5.0, out_dir: str | Path = "runs/demo", fresh: bool = False) -> int:
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
    import shutil

    from rldg_ros.experiment.config import load_experiment_config
    from rldg_ros.experiment.pipeline import Experiment
    from rldg_ros.experiment.report import write_report

    run = Path(out_dir)
    if fresh:
        shutil.rmtree(run, ignore_errors=True)
    t0 = time.monotonic()
    try:
        Experiment(load_experiment_config("quick"), run, profile="quick").run_all()
    except RuntimeError as exc:
        print(f"demo: {exc}\n(run 'make demo' again to continue from the stage that failed)")
        return 1
    path = write_report(run)
    print(f"demo: the RLDG experiment (quick profile) took {(time.monotonic() - t0) / 60:.1f} min here")
    print(f"demo: report: {path.resolve()}")
    return 0
