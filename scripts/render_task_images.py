"""Render docs/cell/<task>.png: wrist (left) and front (right) camera after a few expert steps of each task."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from rldg_ros.sim import make_env, task_ids  # noqa: E402
from rldg_ros.sim.policies import make_policy  # noqa: E402

STEPS = {"pick_place": 25, "fmb_assembly": 60}


def main(out_dir: str = "docs/cell") -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for task in task_ids():
        env = make_env(task, image_size=256, front_camera=True)
        try:
            obs, _ = env.reset(seed=3)
            policy = make_policy("expert", env, 3)
            for _ in range(STEPS.get(task.split("/")[0], 12)):
                obs, *_ = env.step(policy.act(obs))
            path = out / f"{task.replace('/', '__')}.png"
            Image.fromarray(np.concatenate([obs["wrist"], obs["front"]], axis=1)).save(path)
            print(f"wrote {path}")
        finally:
            env.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
