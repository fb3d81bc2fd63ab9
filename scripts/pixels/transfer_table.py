"""The pixel specialists' transfer table (docs/rl/pixels.md): each specialist on its own connector and on the others,
from `rldg eval --json` files. Usage: python scripts/pixels/transfer_table.py NAME=EVAL.json [NAME=EVAL.json ...]"""

from __future__ import annotations

import json
import sys

from rldg_ros.sim.rollout import wilson_interval
from rldg_ros.sim.tasks import SEEN

ORDER = ["usb", "ethernet", "vga", "type_c", "hdmi", "displayport", "xlr"]


def main(argv: list[str]) -> None:
    rows = {}
    for arg in argv:
        name, _, path = arg.partition("=")
        rows[name] = {t["task"].split("/")[-1]: t for t in json.loads(open(path).read())["tasks"]}
    head = [c + ("" if SEEN[f"connector_insertion/{c}"] else "*") for c in ORDER]
    print("| specialist | " + " | ".join(head) + " | unseen (pooled) |")
    print("|---|" + "---|" * (len(ORDER) + 1))
    for name, by in rows.items():
        cells = [f"{by[c]['successes']}/{by[c]['episodes']}" if c in by else "-" for c in ORDER]
        unseen = [by[c] for c in ORDER if c in by and not SEEN[f"connector_insertion/{c}"]]
        k, n = sum(t["successes"] for t in unseen), sum(t["episodes"] for t in unseen)
        lo, hi = wilson_interval(k, n)
        pooled = f"{k}/{n} ({100 * k / n:.0f} %, CI {100 * lo:.0f}-{100 * hi:.0f})"
        print(f"| {name} | " + " | ".join(cells) + f" | {pooled} |")


if __name__ == "__main__":
    main(sys.argv[1:])
