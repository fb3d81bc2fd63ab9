"""Fig 9 diagnosis (docs/generalists.md part 8): how far does a generalist's own rollout go from the states it was
trained on? For every visited state, the distance (cm, end-effector position) to the nearest training state.

Usage: python scripts/fig9/coverage.py MODEL_DIR TASK RLDS_DIR EPISODES"""
import sys

import numpy as np

from rldg_ros.sim.env import CellConfig, make_env
from rldg_ros.spec import EVAL_FIRST_SEED, STATE_POS
from rldg_ros.vla.data import load_episodes
from rldg_ros.vla.evaluate import _Executed


def main(model: str, task: str, data: str, episodes: int) -> None:
    train = np.concatenate([e.states[:, STATE_POS] for e in load_episodes([data], 8)])
    pol = _Executed("octo" if "octo" in model else "openvla", model)
    env = make_env(task, CellConfig(wrist_camera=True))
    every = []
    for seed in range(EVAL_FIRST_SEED, EVAL_FIRST_SEED + episodes):
        obs, info = env.reset(seed=seed)
        pol.start(env, seed)
        dist = []
        for _ in range(env.task.time_limit):
            a = np.clip(pol.act(obs, env.task.instruction), -1, 1)
            dist.append(np.min(np.linalg.norm(train - obs["state"][STATE_POS], axis=1)) * 100)
            obs, _, term, trunc, info = env.step(a)
            if term or trunc:
                break
        dist = np.array(dist)
        every.append(dist)
        print(f"seed {seed}: success {info['success']} steps {env.steps}; nearest training state: median "
              f"{np.median(dist):.2f} cm, last 10 steps {np.median(dist[-10:]):.2f} cm", flush=True)
    d = np.concatenate(every)
    print(f"every visited state: nearest training state median {np.median(d):.2f} cm, "
          f"90th percentile {np.percentile(d, 90):.2f} cm")
    env.close()


if __name__ == "__main__":
    main(*sys.argv[1:4], int(sys.argv[4]))
