"""Conversion throughput: 100 episodes x 100 steps of 128x128 rldg bags (textured images: gradients + noise)
-> RLDS: MB/s of bag input, steps/s, peak memory. The conversion runs in a child process so its peak RSS is its
own."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
from rldg_ros.data.convert import ConvertOptions, Converter, TopicMap
t = time.monotonic()
rep = Converter(TopicMap(), ConvertOptions(progress=False)).run([sys.argv[1]], sys.argv[2], "bench")
print(json.dumps({"seconds": time.monotonic() - t, "bag_bytes": rep.bag_bytes, "steps": rep.steps_written,
                  "episodes": rep.episodes_written.get("train", 0),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def measure() -> dict:
    from rldg_ros.data.synthetic import write_episodes

    with tempfile.TemporaryDirectory() as d:
        bags = Path(d) / "bags"
        t = time.monotonic()
        for b in range(10):  # 10 bags of 10 episodes
            write_episodes(bags / f"b{b:02d}", episodes=10, steps=100, t0_ns=1_700_000_000 * 10**9 + b * 10**12,
                           texture=True)
        write_s = time.monotonic() - t
        size = sum(f.stat().st_size for f in bags.rglob("*.mcap"))
        out = subprocess.run([sys.executable, "-c", CHILD, str(bags), str(Path(d) / "out")], capture_output=True,
                             text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        ds = sum(f.stat().st_size for f in (Path(d) / "out").rglob("*tfrecord*"))
    return {"results": {
        "episodes": r["episodes"], "steps": r["steps"], "bag_mb": size / 1e6,
        "convert_s": r["seconds"], "bag_mb_per_s": size / 1e6 / r["seconds"], "steps_per_s": r["steps"] / r["seconds"],
        "peak_rss_mb": r["peak_rss_mb"], "rlds_mb": ds / 1e6, "bag_write_mb_per_s": size / 1e6 / write_s,
        "goal_bag_mb_per_s": 100.0,
    }}
