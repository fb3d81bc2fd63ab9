"""The multi-task sim dataset the tiny generalists are pretrained on (``rldg pretrain``): scripted demonstrations
(expert and human-like styles) of the sim tasks with varied instructions, written as RLDS through the same writer as
``rldg convert``, so pretraining reads the same format as fine-tuning.

By default only the **seen** tasks are included: the unseen connectors and the unseen pick-place variant stay
unseen by every stage before evaluation (as the paper's generalists never saw them in pretraining).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rldg_ros.data.rlds import Episode, RldsWriter, encode_jpeg

_TEMPLATES = {
    "connector_insertion": ["insert the {x} connector into the port", "plug the {x} connector in",
                            "put the {x} plug into its port", "connect the {x} cable"],
    "fmb_insertion": ["insert the hexagonal block into the board", "put the hexagon block into the hole",
                      "fit the block into the board"],
    "fmb_assembly": ["pick up the hexagonal block and insert it into the board",
                     "grasp the hexagon block and fit it into the board"],
    "pick_place": ["put the {x} in the bowl", "place the {x} into the bowl", "move the {x} to the bowl"],
}


def instructions(task) -> list[str]:
    family = task.task_id.split("/")[0]
    name = ""
    if family == "connector_insertion":
        name = task.task_id.split("/")[1].replace("_", "-")
    elif family == "pick_place":
        name = task.item.name
    out = [task.instruction]
    for t in _TEMPLATES.get(family, []):
        s = t.format(x=name)
        if s not in out:
            out.append(s)
    return out


def write_pretraining_dataset(out_dir: str | Path, name: str, tasks: list[str], episodes_per_task: int,
                              seed: int = 0, progress: bool = True) -> Path:
    from tqdm import tqdm

    from rldg_ros.sim import make_env
    from rldg_ros.sim.env import CellConfig
    from rldg_ros.sim.policies import make_policy

    rng = np.random.default_rng(seed)
    writer = None
    bar = tqdm(total=len(tasks) * episodes_per_task, desc="pretraining data", unit="ep", disable=not progress)
    for task_id in tasks:
        env = make_env(task_id, CellConfig(wrist_camera=True))
        variants = instructions(env.task)
        try:
            done, attempt = 0, 0
            while done < episodes_per_task and attempt < 3 * episodes_per_task:
                s = seed * 100000 + attempt
                attempt += 1
                style = "expert" if attempt % 2 else "human_like"
                obs, _ = env.reset(seed=s)
                pol = make_policy(style, env, seed=s)
                images, states, actions = [], [], []
                success = False
                for _ in range(env.task.time_limit):
                    a = pol.act(obs)
                    images.append(encode_jpeg(obs["wrist"]))
                    states.append(obs["state"].copy())
                    actions.append(np.asarray(a, np.float32))
                    obs, _, term, trunc, info = env.step(a)
                    if term or trunc:
                        success = bool(info["success"])
                        break
                if not success:
                    continue
                if writer is None:
                    writer = RldsWriter(out_dir, name, obs["wrist"].shape, len(states[0]),
                                        description="rldg multi-task sim pretraining data (scripted demonstrations)")
                rew = np.zeros(len(actions), np.float32)
                rew[-1] = 1.0
                ep = Episode(images, np.stack(states), np.stack(actions), rew,
                             variants[int(rng.integers(len(variants)))], f"sim:{task_id}:{style}:{s}", task_id,
                             s, True, 1.0)
                writer.write(ep, "val" if done % 10 == 9 else "train")
                done += 1
                bar.update(1)
        finally:
            env.close()
    bar.close()
    if writer is None:
        raise RuntimeError("no successful demonstration was recorded")
    return writer.close({"tasks": tasks, "episodes_per_task": episodes_per_task})
