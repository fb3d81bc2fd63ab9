"""The multi-task sim corpus the tiny generalists' bases are pretrained on (``rldg pretrain``), the analogue of
Open X-Embodiment: scripted demonstrations (expert and human-like styles) with varied instructions, written as RLDS
through the same writer as ``rldg convert``, so pretraining reads the same format as fine-tuning.

The default corpus (``CORPUS``) is the pretraining-only tasks of ``rldg_ros.sim.tasks.pretrain``: no evaluation
task, no connector, no evaluation object is in it (the paper's generalists never saw the connectors either).
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np

from rldg_ros.data.rlds import Episode, RldsWriter, decode_jpeg, encode_jpeg

_TEMPLATES = {
    "connector_insertion": ["insert the {x} connector into the port", "plug the {x} connector in",
                            "put the {x} plug into its port", "connect the {x} cable"],
    "fmb_insertion": ["insert the hexagonal block into the board", "put the hexagon block into the hole",
                      "fit the block into the board"],
    "fmb_assembly": ["pick up the hexagonal block and insert it into the board",
                     "grasp the hexagon block and fit it into the board"],
    "pick_place": ["put the {x} in the bowl", "place the {x} into the bowl", "move the {x} to the bowl"],
    "pick_place_pretrain": ["put the {x} in the bowl", "place the {x} into the bowl", "move the {x} to the bowl"],
    "peg_insertion": ["insert the peg into the hole", "put the peg in the hole", "fit the peg into its hole"],
    "fmb_shapes": ["insert the {x} block into the board", "put the {x} block into its hole"],
    "reach": ["move the gripper over the {x} target", "reach the {x} target", "go to the {x} target"],
}


def corpus_counts(pegs: int = 10, fmb: int = 8, reach: int = 10, pick: int = 8) -> dict[str, int]:
    """The default corpus: episodes per pretraining task (``rldg_ros.sim.tasks.PRETRAIN_TASKS``)."""
    from rldg_ros.sim.tasks import PRETRAIN_TASKS

    per = {"peg_insertion": pegs, "fmb_shapes": fmb, "reach": reach, "pick_place_pretrain": pick}
    return {t: per[t.split("/")[0]] for t in PRETRAIN_TASKS}


def instructions(task) -> list[str]:
    family = task.task_id.split("/")[0]
    name = ""
    if family == "connector_insertion":
        name = task.task_id.split("/")[1].replace("_", "-")
    elif family in ("pick_place", "pick_place_pretrain"):
        name = task.item.name
    elif family in ("fmb_shapes", "reach"):
        name = task.variant
    out = [task.instruction]
    for t in _TEMPLATES.get(family, []):
        s = t.format(x=name)
        if s not in out:
            out.append(s)
    return out


def record_task(task_id: str, episodes: int, seed: int = 0,
                styles: tuple[str, ...] = ("expert", "human_like")) -> tuple[list[Episode], dict]:
    """Scripted demonstrations of one task (``styles`` in turn), the successful ones only, with an instruction drawn
    per episode; and the task's line of the corpus manifest."""
    from rldg_ros.sim import make_env
    from rldg_ros.sim.env import CellConfig
    from rldg_ros.sim.policies import make_policy

    rng = np.random.default_rng([seed, zlib.crc32(task_id.encode())])
    first = seed * 10_000_000 + (zlib.crc32(task_id.encode()) % 9000) * 1000
    env = make_env(task_id, CellConfig(wrist_camera=True))
    variants = instructions(env.task)
    out: list[Episode] = []
    attempt = 0
    counts = dict.fromkeys(styles, 0)
    try:
        while len(out) < episodes and attempt < 3 * episodes:
            s = first + attempt  # each task its own starts (tasks sharing seeds would share port/start poses)
            attempt += 1
            style = styles[(attempt - 1) % len(styles)]
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
            rew = np.zeros(len(actions), np.float32)
            rew[-1] = 1.0
            out.append(Episode(images, np.stack(states), np.stack(actions), rew,
                               variants[int(rng.integers(len(variants)))], f"sim:{task_id}:{style}:{s}", task_id, s,
                               True, 1.0))
            counts[style] += 1
    finally:
        env.close()
    line = {"task": task_id, "family": task_id.split("/")[0], "episodes": len(out), "attempts": attempt,
            "frames": int(sum(len(e) for e in out)), "styles": counts, "instructions": variants}
    return out, line


def _record(args):
    return record_task(*args)


def write_pretraining_dataset(out_dir: str | Path, name: str, tasks: list[str], episodes_per_task: int | dict,
                              seed: int = 0, progress: bool = True, workers: int = 1,
                              styles: tuple[str, ...] = ("expert", "human_like")) -> Path:
    """Record ``episodes_per_task`` (a number, or {task: number}) successful demonstrations of each task into one
    RLDS dataset (every 10th episode of a task in ``val``), with the corpus composition in its statistics file
    (``rldg.corpus``); ``workers`` processes record tasks in parallel."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    counts = episodes_per_task if isinstance(episodes_per_task, dict) else dict.fromkeys(tasks, episodes_per_task)
    jobs = [(t, int(counts[t]), seed, tuple(styles)) for t in tasks]
    writer = None
    corpus = []
    bar = tqdm(total=sum(j[1] for j in jobs), desc="pretraining data", unit="ep", disable=not progress)
    # spawned, not forked: a fork of a process whose JAX/torch threads hold locks can deadlock in the child
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers > 1 else None
    try:
        results = pool.map(_record, jobs) if pool else map(_record, jobs)
        for eps, line in results:
            for k, ep in enumerate(eps):
                if writer is None:
                    writer = RldsWriter(out_dir, name, decode_jpeg(ep.images[0]).shape, ep.state.shape[1],
                                        description="rldg multi-task sim pretraining corpus (scripted demonstrations)")
                writer.write(ep, "val" if k % 10 == 9 else "train")
            corpus.append(line)
            bar.update(line["episodes"])
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
        bar.close()
    if writer is None:
        raise RuntimeError("no successful demonstration was recorded")
    families: dict[str, dict] = {}
    for line in corpus:
        f = families.setdefault(line["family"], {"tasks": 0, "episodes": 0, "frames": 0})
        f["tasks"] += 1
        f["episodes"] += line["episodes"]
        f["frames"] += line["frames"]
    return writer.close({"tasks": tasks, "episodes_per_task": counts, "seed": seed,
                         "corpus": {"families": families, "tasks": corpus}})
