"""Where a policy's failed insertions end: per episode (tuning seeds 200000+ by default) the peg tip's lateral error
to the port and its insertion depth at the end and along the way, to tell a stall at the port's mouth (a few mm off,
depth 0) from a divergence (the tip leaves the port). Connector and FMB peg tasks only.

    .venv/bin/python scripts/failure_modes.py octo:runs/connectors/models/octo_rl_15 connector_insertion/xlr 8
"""

from __future__ import annotations

import argparse

from rldg_ros.vla.evaluate import evaluate_inprocess


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy")
    ap.add_argument("task")
    ap.add_argument("episodes", type=int)
    ap.add_argument("--first-seed", type=int, default=200000)
    a = ap.parse_args()
    trace: dict[int, list[tuple[float, float]]] = {}  # seed -> (lateral error, depth) in mm after each step

    def on_step(env, seed: int) -> None:
        trace.setdefault(seed, []).append((env.task.lateral_error(env) * 1000, env.task.insertion_depth(env) * 1000))

    res = evaluate_inprocess(a.policy, a.task, a.episodes, a.first_seed, on_step=on_step)
    at = (9, 19, 39, 59, 79)
    print(f"seed success steps | final lateral (mm) depth (mm) | lateral (mm) after steps {[k + 1 for k in at]}")
    for e in res["episodes_detail"]:
        tr = trace[e["seed"]]
        marks = [round(tr[min(k, len(tr) - 1)][0], 1) for k in at]
        print(f"{e['seed']} {e['success']} {e['steps']} | {tr[-1][0]:.1f} {tr[-1][1]:.1f} | {marks}")


if __name__ == "__main__":
    main()
