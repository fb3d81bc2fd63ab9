"""``make bench``: run every benchmark and write one JSON per benchmark to bench/results/.

Each result carries the machine it ran on; numbers are for a 2-core CPU machine unless said otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))  # benchmarks share bench/stamped.py

# name -> (module file, function)
BENCHMARKS = {
    "dds_latency": ("dds_latency.py", "measure"),
    "sim": ("sim.py", "measure"),
    "mux": ("mux.py", "measure"),
    "hold": ("hold.py", "measure"),
    "reward": ("reward.py", "measure"),
    "rl": ("rl.py", "measure"),
    "data": ("data.py", "measure"),
    "vla": ("vla.py", "measure"),
    "scale": ("scale.py", "measure"),
}


def _load(file: str):
    spec = importlib.util.spec_from_file_location(file.removesuffix(".py"), HERE / file)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def machine() -> dict:
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
            "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {sorted(BENCHMARKS)})")
    names = ap.parse_args().names or list(BENCHMARKS)
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in names:
        file, fn = BENCHMARKS[name]
        print(f"bench: {name} ...", flush=True)
        result = {"benchmark": name, "machine": machine(), **getattr(_load(file), fn)()}
        out = RESULTS / f"{name}.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(json.dumps(result["results"], indent=2))
        print(f"bench: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
