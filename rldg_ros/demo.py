"""``rldg demo``: the main job on the embedded default.

At this stage of the project it brings up the ``smoke`` graph (two nodes over DDS with rldg_msgs) and prints
what crossed the middleware. Later stages replace it with the RLDG experiment's quick profile.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from rldg_ros.up import up


def run_demo(duration: float = 5.0) -> int:
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
    return 0 if r["received"] > 0 else 1
