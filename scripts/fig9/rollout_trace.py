"""Fig 9 diagnosis (docs/generalists.md part 8): roll a generalist out on held-out seeds and, at every visited
state, ask the specialist what it would do (the label the relabelled data carries there): where do they part?

Usage: python scripts/fig9/rollout_trace.py MODEL_DIR TASK SPECIALIST_RUN_DIR [EPISODES]"""
import sys

import numpy as np

from rldg_ros.rl.policy import RLPolicy
from rldg_ros.sim.env import CellConfig, make_env
from rldg_ros.spec import EVAL_FIRST_SEED
from rldg_ros.vla.evaluate import _Executed


def rollouts(model: str, task: str, episodes: int):
    """The generalist as evaluated, on the held-out seeds: yields (env, seed, obs, action) before every step and
    (env, seed, None, info) once an episode ends."""
    pol = _Executed("octo" if "octo" in model else "openvla", model)
    env = make_env(task, CellConfig(wrist_camera=True))
    try:
        for seed in range(EVAL_FIRST_SEED, EVAL_FIRST_SEED + episodes):
            obs, info = env.reset(seed=seed)
            pol.start(env, seed)
            for _ in range(env.task.time_limit):
                a = np.clip(pol.act(obs, env.task.instruction), -1, 1)
                yield env, seed, obs, a
                obs, _, term, trunc, info = env.step(a)
                if term or trunc:
                    break
            yield env, seed, None, info
    finally:
        env.close()


def main(model: str, task: str, spec_path: str, episodes: int = 3) -> None:
    spec = RLPolicy(spec_path)
    rows = []
    for env, seed, obs, a in rollouts(model, task, episodes):
        if obs is not None:
            s = obs["state"]
            label = spec.act(s, None, env.task.privileged(env), gripper=float(a[6]))
            rows.append((env.steps, s[:3].copy(), np.linalg.norm(s[7:10]), a[:3].copy(), label[:3].copy()))
            continue
        print(f"seed {seed}: success {a['success']} steps {env.steps}")
        for t, p, v, a, lab in rows[::5]:
            cos = np.dot(a, lab) / (np.linalg.norm(a) * np.linalg.norm(lab) + 1e-9)
            print(f"  t{t:3d} pos {np.round(p * 100, 1)} cm |v| {v:.3f} gen {np.round(a, 2)} "
                  f"spec {np.round(lab, 2)} cos {cos:.2f}")
        rows = []


if __name__ == "__main__":
    main(*sys.argv[1:4], *(int(x) for x in sys.argv[4:5]))
