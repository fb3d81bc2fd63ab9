"""Fig 9 diagnosis (docs/generalists.md part 8): roll octo-style out as it is evaluated (receding horizon 1) and at
every visited state ask the same model what it would do with its inputs changed: the history replaced by the current
frame twice ('static'), the history padded away ('pad'), the end-effector velocity zeroed ('novel'). Each is compared
with the specialist's action at that state.

Usage: python scripts/fig9/inputs.py OCTO_MODEL_DIR TASK SPECIALIST_RUN_DIR EPISODES"""
import sys

import numpy as np

from rldg_ros.rl.policy import RLPolicy
from rldg_ros.sim.env import CellConfig, make_env
from rldg_ros.spec import EVAL_FIRST_SEED, STATE_LIN_VEL
from rldg_ros.vla.train_octo import OctoPolicy


def cosine(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-9))


def main(model: str, task: str, spec_path: str, episodes: int) -> None:
    pol, spec = OctoPolicy(model), RLPolicy(spec_path)
    env = make_env(task, CellConfig(wrist_camera=True))
    stats = {k: [] for k in ("normal", "static", "pad", "novel")}
    for seed in range(EVAL_FIRST_SEED, EVAL_FIRST_SEED + episodes):
        obs, info = env.reset(seed=seed)
        pol.reset()
        for _ in range(env.task.time_limit):
            s = obs["state"]
            observation = {"image": obs["wrist"], "state": s}
            label = spec.act(s, None, env.task.privileged(env), gripper=1.0)[:3]
            history, states = list(pol.history), list(pol.states)
            outs = {}
            pol.history, pol.states = [], []
            outs["pad"] = pol.act(observation, env.task.instruction)[0][:3]
            outs["static"] = pol.act(observation, env.task.instruction)[0][:3]  # the current frame twice
            pol.history, pol.states = list(history), list(states)
            still = dict(observation, state=s.copy())
            still["state"][STATE_LIN_VEL] = 0.0
            outs["novel"] = pol.act(still, env.task.instruction)[0][:3]
            pol.history, pol.states = history, states
            a = pol.act(observation, env.task.instruction)[0]
            outs["normal"] = a[:3]
            for k, v in outs.items():
                stats[k].append((cosine(v, label), np.linalg.norm(v - label)))
            obs, _, term, trunc, info = env.step(np.clip(a, -1, 1))
            if term or trunc:
                break
        print(f"seed {seed}: success {info['success']} steps {env.steps}", flush=True)
    for k, v in stats.items():
        v = np.array(v)
        print(f"{k:7s} cos to label {v[:, 0].mean():.2f}  |a - label| {v[:, 1].mean():.3f}")
    env.close()


if __name__ == "__main__":
    main(*sys.argv[1:4], int(sys.argv[4]))
