"""Fig 9 diagnosis (docs/generalists.md part 8): how far does a generalist's own rollout go from the states it was
trained on? For every visited state, the distance (cm, end-effector position) to the nearest training state.

Usage: python scripts/fig9/coverage.py MODEL_DIR TASK RLDS_DIR EPISODES"""
import sys

import numpy as np
from rollout_trace import rollouts  # this folder's (the script's directory is on sys.path)

from rldg_ros.spec import STATE_POS
from rldg_ros.vla.data import load_episodes


def main(model: str, task: str, data: str, episodes: int) -> None:
    train = np.concatenate([e.states[:, STATE_POS] for e in load_episodes([data], 8)])
    every, dist = [], []
    for env, seed, obs, info in rollouts(model, task, episodes):
        if obs is not None:
            dist.append(np.min(np.linalg.norm(train - obs["state"][STATE_POS], axis=1)) * 100)
            continue
        dist = np.array(dist)
        every.append(dist)
        print(f"seed {seed}: success {info['success']} steps {env.steps}; nearest training state: median "
              f"{np.median(dist):.2f} cm, last 10 steps {np.median(dist[-10:]):.2f} cm", flush=True)
        dist = []
    d = np.concatenate(every)
    print(f"every visited state: nearest training state median {np.median(d):.2f} cm, "
          f"90th percentile {np.percentile(d, 90):.2f} cm")


if __name__ == "__main__":
    main(*sys.argv[1:4], int(sys.argv[4]))
