"""Where a policy's failed insertions end: per episode (tuning seeds 200000+ by default) the peg tip's lateral error
to the port and its insertion depth at the end and along the way, to tell a stall at the port's mouth (a few mm off,
depth 0) from a divergence (the tip leaves the port). Connector and FMB peg tasks only.

    .venv/bin/python scripts/failure_modes.py octo:runs/connectors/models/octo_rl_15 connector_insertion/xlr 8
"""

from __future__ import annotations

import argparse

import numpy as np

from rldg_ros.sim.env import CellConfig, make_env
from rldg_ros.vla.evaluate import _Executed, parse_policy


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("policy")
    ap.add_argument("task")
    ap.add_argument("episodes", type=int)
    ap.add_argument("--first-seed", type=int, default=200000)
    a = ap.parse_args()
    kind, path = parse_policy(a.policy)
    env = make_env(a.task, CellConfig(wrist_camera=True))
    pol = _Executed(kind, path, None)
    at = (9, 19, 39, 59, 79)
    print(f"seed success steps | final lateral (mm) depth (mm) | lateral (mm) after steps {[k + 1 for k in at]}")
    try:
        for i in range(a.episodes):
            seed = a.first_seed + i
            obs, info = env.reset(seed=seed)
            pol.start(env, seed)
            t, lat, depth = env.task, [], []
            for _ in range(t.time_limit):
                obs, _, term, trunc, info = env.step(np.clip(pol.act(obs, t.instruction), -1.0, 1.0))
                lat.append(t.lateral_error(env) * 1000)
                depth.append(t.insertion_depth(env) * 1000)
                if term or trunc:
                    break
            marks = [round(lat[min(k, len(lat) - 1)], 1) for k in at]
            print(f"{seed} {bool(info['success'])} {len(lat)} | {lat[-1]:.1f} {depth[-1]:.1f} | {marks}", flush=True)
    finally:
        env.close()


if __name__ == "__main__":
    main()
