"""A proxy for RL-specialist data without training specialists (``docs/generalists.md``, "One connector or three"):
the scripted expert executed with Gaussian noise on x, y, z whose std is 0.3 far from the port and shrinks to 0 at
its mouth (as a sampling SAC policy's does), each step labelled with the expert's clean action (as the RL data's
``rl_labels: mean``). Successful episodes only, written as RLDS.

``python -m rldg_ros.vla.proxy_data connector_insertion/usb,connector_insertion/ethernet OUT_DIR 20``
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from rldg_ros.data.rlds import Episode, RldsWriter, encode_jpeg
from rldg_ros.spec import ACTION_POS, COLLECT_FIRST_SEED


def write_noisy_expert(tasks: list[str], out: str | Path, episodes: int, std: float = 0.3) -> Path:
    from rldg_ros.sim.env import CellConfig, make_env
    from rldg_ros.sim.policies import make_policy

    writer = None
    for ti, task in enumerate(tasks):
        env = make_env(task, CellConfig(wrist_camera=True))
        rng = np.random.default_rng(ti)
        done = attempt = 0
        try:
            while done < episodes and attempt < 4 * episodes:
                seed = COLLECT_FIRST_SEED + attempt
                attempt += 1
                obs, _ = env.reset(seed=seed)
                pol = make_policy("expert", env, seed=seed)
                images, states, actions = [], [], []
                info = {"success": False}
                for _ in range(env.task.time_limit):
                    a = pol.act(obs)
                    images.append(encode_jpeg(obs["wrist"]))
                    states.append(obs["state"].copy())
                    actions.append(a.copy())
                    t = env.task
                    s = 0.0 if t.insertion_depth(env) > 0 else std * min(1.0, t.lateral_error(env) / 0.01)
                    executed = a.copy()
                    executed[ACTION_POS] = np.clip(executed[ACTION_POS] + rng.normal(0.0, s, 3), -1.0, 1.0)
                    obs, _, term, trunc, info = env.step(executed)
                    if term or trunc:
                        break
                if not info["success"]:
                    continue
                if writer is None:
                    writer = RldsWriter(out, "noisy_expert", obs["wrist"].shape, len(states[0]),
                                        description="scripted expert, noisy execution, clean labels (RL proxy)")
                rew = np.zeros(len(actions), np.float32)
                rew[-1] = 1.0
                writer.write(Episode(images, np.stack(states), np.stack(actions).astype(np.float32), rew,
                                     env.task.instruction, f"noisy_expert:{task}:{seed}", task, seed, True, 0.0))
                done += 1
            print(f"{task}: {done} episodes in {attempt} attempts", file=sys.stderr)
        finally:
            env.close()
    if writer is None:
        raise RuntimeError("no successful episode")
    return writer.close({"tasks": tasks, "episodes_per_task": episodes, "noise_std": std})


if __name__ == "__main__":
    usage = "usage: python -m rldg_ros.vla.proxy_data TASK[,TASK...] OUT_DIR EPISODES_PER_TASK"
    if len(sys.argv) != 4 or not sys.argv[3].isdigit() or int(sys.argv[3]) < 1:
        sys.exit(f"{usage}\n(EPISODES_PER_TASK: an integer >= 1)")
    from rldg_ros.sim.tasks import task_ids

    unknown = [t for t in sys.argv[1].split(",") if t not in task_ids(None, pretrain=True)]
    if unknown:
        sys.exit(f"{usage}\nunknown task(s) {unknown}")
    print(write_noisy_expert(sys.argv[1].split(","), sys.argv[2], int(sys.argv[3])))
