"""Labelled wrist frames for the success classifier: the on-disk format and sim collection.

On-disk format (a directory, ``FORMAT`` / ``VERSION`` below):

* ``frames.json`` - ``{"format", "version", "image_shape": [H, W, 3], "tasks": [task ids], "shards": [file names],
  "counts": {"positive", "negative"}, "source": how the labels were made, "protocol": collection settings}``
* ``shard-NNNNN.npz`` - ``images`` uint8 [N, H, W, 3]; ``labels`` uint8 [N] (1 = success); ``episode`` int32 [N]
  (episode ids are unique across the dataset's shards); ``step`` int32 [N] (control step in the episode);
  ``task`` int16 [N] (index into ``tasks``); ``phase`` uint8 [N] (0 = task rollout, 1 = after-success exploration,
  2 = withdrawal, 3 = survey).

Sim labels come from the cell's ground truth. On a real robot the same files are written from frames the operator
marks (success / failure) in the panel, or from recorded bags once recording lands.

Collection protocol (per episode, the HIL-SERL recipe transcribed to a scripted operator): the operator first
moves the robot around at random for ``survey_steps`` (views of the workspace the task never passes through, so
they are known negatives), then a demonstrator
(``expert`` and ``human_like`` alternately) runs the task; after a success the "operator" keeps the robot in and
around the success state for ``explore_steps`` (small random motions: positives, and the negatives they cause), then
withdraws along the approach axis for ``withdraw_steps`` (near-boundary negatives). Failed episodes contribute their
frames as negatives. The result is subsampled to the frame budget: near-boundary negatives first, the rest by
coverage of image space (k-center on thumbnails, no labels or model involved).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.spec import ACTION_POS, GRIPPER_DIM

FORMAT = "rldg-reward-frames"
VERSION = 1
PHASES = ("rollout", "explore", "withdraw", "survey")


@dataclass
class Frames:
    images: np.ndarray  # uint8 [N, H, W, 3]
    labels: np.ndarray  # uint8 [N]
    episode: np.ndarray  # int32 [N]
    step: np.ndarray  # int32 [N]
    task: np.ndarray  # int16 [N]
    phase: np.ndarray  # uint8 [N]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, idx) -> Frames:
        return Frames(*(getattr(self, k)[idx] for k in _FIELDS))

    @staticmethod
    def concat(parts: list[Frames]) -> Frames:
        return Frames(*(np.concatenate([getattr(p, k) for p in parts]) for k in _FIELDS))

    @property
    def counts(self) -> dict:
        pos = int(self.labels.sum())
        return {"positive": pos, "negative": len(self) - pos}


_FIELDS = ("images", "labels", "episode", "step", "task", "phase")
_DTYPES = {"images": np.uint8, "labels": np.uint8, "episode": np.int32, "step": np.int32, "task": np.int16,
           "phase": np.uint8}


class FrameDatasetError(ValueError):
    """A frames directory is missing, malformed, or inconsistent; the message says which file and why."""


def write_frames(out_dir: str | Path, frames: Frames, tasks: list[str], *, source: str, protocol: dict | None = None,
                 shard_size: int = 512) -> Path:
    out = Path(out_dir)
    if (out / "frames.json").exists():
        raise FileExistsError(f"{out}: a frames dataset already exists here (choose another --out or delete it)")
    out.mkdir(parents=True, exist_ok=True)
    shards = []
    for i, start in enumerate(range(0, len(frames), shard_size)):
        part = frames.take(slice(start, start + shard_size))
        name = f"shard-{i:05d}.npz"
        np.savez_compressed(out / name, **{k: getattr(part, k).astype(_DTYPES[k]) for k in _FIELDS})
        shards.append(name)
    meta = {"format": FORMAT, "version": VERSION, "image_shape": list(frames.images.shape[1:]), "tasks": tasks,
            "shards": shards, "counts": frames.counts, "source": source, "protocol": protocol or {}}
    (out / "frames.json").write_text(json.dumps(meta, indent=2))
    return out


def read_meta(path: str | Path) -> dict:
    path = Path(path)
    meta_file = path / "frames.json"
    if not meta_file.is_file():
        raise FrameDatasetError(f"{path}: no frames.json (not a reward frames dataset; make one with "
                                "'rldg reward collect')")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FORMAT or meta.get("version") != VERSION:
        raise FrameDatasetError(f"{meta_file}: format {meta.get('format')!r} version {meta.get('version')!r}, "
                                f"expected {FORMAT!r} version {VERSION}")
    return meta


def read_frames(path: str | Path) -> tuple[Frames, dict]:
    """Load every shard; checks shapes, dtypes and label values against ``frames.json``."""
    path = Path(path)
    meta = read_meta(path)
    shape = tuple(meta["image_shape"])
    parts = []
    for name in meta["shards"]:
        f = path / name
        if not f.is_file():
            raise FrameDatasetError(f"{f}: shard listed in frames.json is missing")
        with np.load(f) as z:
            missing = [k for k in _FIELDS if k not in z]
            if missing:
                raise FrameDatasetError(f"{f}: missing arrays {missing}")
            part = Frames(*(z[k] for k in _FIELDS))
        if part.images.shape[1:] != shape or part.images.dtype != np.uint8:
            raise FrameDatasetError(f"{f}: images are {part.images.dtype} {list(part.images.shape)}, frames.json "
                                    f"says uint8 [N, {', '.join(map(str, shape))}]")
        n = len(part.images)
        if any(len(getattr(part, k)) != n for k in _FIELDS):
            raise FrameDatasetError(f"{f}: arrays have different lengths")
        if not np.isin(part.labels, (0, 1)).all():
            raise FrameDatasetError(f"{f}: labels must be 0 or 1")
        parts.append(part)
    if not parts:
        raise FrameDatasetError(f"{path}: the dataset has no frames")
    return Frames.concat(parts), meta


# -- sim collection ----------------------------------------------------------------------------------------------
@dataclass
class CollectProtocol:
    survey_steps: int = 5  # random moves at the start of the episode
    explore_steps: int = 12  # after a success: small random motions around the success state
    explore_scale: float = 0.25  # |action| of those motions (fraction of the action range)
    withdraw_steps: int = 8  # then back out along the approach axis
    withdraw_speed: float = 0.25
    policies: tuple[str, ...] = ("expert", "human_like")


def sim_episode(env, policy_name: str, seed: int, protocol: CollectProtocol) -> Iterator[tuple[np.ndarray, bool, int,
                                                                                                 int]]:
    """Yield (wrist image, ground-truth success, step, phase) for one collection episode in the cell."""
    from rldg_ros.sim.policies import make_policy

    rng = np.random.default_rng(seed + 7919)
    obs, info = env.reset(seed=seed)
    pol = make_policy(policy_name, env, seed=seed)
    step = 0
    yield obs["wrist"], bool(info["success"]), step, 3
    # open for a grasping task (to grasp at the start, released at the end), closed on a held peg throughout
    grip = -1.0 if env.task.grasping else 1.0
    for _ in range(protocol.survey_steps):
        a = np.zeros(7)
        a[ACTION_POS] = rng.uniform(-1.0, 1.0, 3)
        a[5] = rng.uniform(-1.0, 1.0)
        a[GRIPPER_DIM] = grip
        obs, _, _, _, info = env.step(a)
        step += 1
        yield obs["wrist"], bool(info["success"]), step, 3
    done = False
    limit = step + env.task.time_limit
    while not done and step < limit:
        obs, _, done, _, info = env.step(pol.act(obs))
        step += 1
        yield obs["wrist"], bool(info["success"]), step, 0
    if not info["success"]:
        return
    for _ in range(protocol.explore_steps):
        # the operator finishes the job (the demonstrator keeps going: seats the connector, lifts off the object)
        # while wobbling sideways and in yaw around it
        a = np.asarray(pol.act(obs), np.float64).copy()
        a[:2] += rng.normal(0.0, protocol.explore_scale, 2)
        a[5] += rng.normal(0.0, protocol.explore_scale)
        a[GRIPPER_DIM] = grip
        obs, _, _, _, info = env.step(np.clip(a, -1, 1))
        step += 1
        yield obs["wrist"], bool(info["success"]), step, 1
    for _ in range(protocol.withdraw_steps):
        a = np.zeros(7)
        a[2] = -protocol.withdraw_speed  # wrist -z = up for a gripper pointing down
        a[GRIPPER_DIM] = grip
        obs, _, _, _, info = env.step(a)
        step += 1
        yield obs["wrist"], bool(info["success"]), step, 2


def collect_sim(tasks: list[str], episodes_per_task: int, *, seed: int = 0, protocol: CollectProtocol | None = None,
                image_size: int = 128, progress: bool = True) -> Frames:
    """Run collection episodes on every task (seeds ``seed .. seed + episodes_per_task - 1``) and return all frames."""
    from tqdm import tqdm

    from rldg_ros.sim.env import CellConfig, make_env

    protocol = protocol or CollectProtocol()
    parts: list[Frames] = []
    episode_id = 0
    bar = tqdm(total=len(tasks) * episodes_per_task, desc="collect", unit="ep", disable=not progress)
    for ti, task_id in enumerate(tasks):
        env = make_env(task_id, CellConfig(image_size=image_size))
        try:
            for e in range(episodes_per_task):
                policy = protocol.policies[e % len(protocol.policies)]
                rows = list(sim_episode(env, policy, seed + e, protocol))
                n = len(rows)
                parts.append(Frames(np.stack([r[0] for r in rows]), np.array([r[1] for r in rows], np.uint8),
                                    np.full(n, episode_id, np.int32), np.array([r[2] for r in rows], np.int32),
                                    np.full(n, ti, np.int16), np.array([r[3] for r in rows], np.uint8)))
                episode_id += 1
                bar.update(1)
                bar.set_postfix(pos=sum(int(p.labels.sum()) for p in parts))
        finally:
            env.close()
    bar.close()
    return Frames.concat(parts)


def near_boundary(frames: Frames, window: int = 4) -> np.ndarray:
    """Negatives within ``window`` steps of a positive in the same episode (the hard ones)."""
    out = np.zeros(len(frames), bool)
    for ep in np.unique(frames.episode):
        idx = np.flatnonzero(frames.episode == ep)
        pos_steps = frames.step[idx][frames.labels[idx] == 1]
        if len(pos_steps) == 0:
            continue
        d = np.min(np.abs(frames.step[idx][:, None] - pos_steps[None, :]), axis=1)
        out[idx] = (d <= window) & (frames.labels[idx] == 0)
    return out


def thumbnails(images: np.ndarray, side: int = 16) -> np.ndarray:
    """[N, H, W, 3] uint8 -> [N, side*side*3] float32 block means (a cheap image descriptor for coverage)."""
    n, h, w, c = images.shape
    fh, fw = h // side, w // side
    x = images[:, :fh * side, :fw * side].reshape(n, side, fh, side, fw, c).mean(axis=(2, 4))
    return (x / 255.0).reshape(n, -1).astype(np.float32)


def coverage_order(images: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    """Indices of ``k`` frames chosen greedily to cover image space (k-center on thumbnails): every pick is the frame
    farthest from those already picked, so rare views (the port far off to one side) are kept and near-duplicates
    (a peg resting on the port for 30 frames) are not. Uses no labels and no model."""
    n = len(images)
    if k >= n:
        return np.arange(n)
    feats = thumbnails(images)
    first = int(np.random.default_rng(seed).integers(n))
    chosen = [first]
    dist = np.sum((feats - feats[first]) ** 2, axis=1)
    for _ in range(k - 1):
        nxt = int(np.argmax(dist))
        chosen.append(nxt)
        dist = np.minimum(dist, np.sum((feats - feats[nxt]) ** 2, axis=1))
    return np.array(chosen)


def subsample(frames: Frames, max_positive: int, max_negative: int, seed: int = 0) -> Frames:
    """At most ``max_positive`` positives and ``max_negative`` negatives: near-boundary negatives first (up to half
    the negative budget, at random), then the rest of each class by coverage of image space (:func:`coverage_order`)."""
    rng = np.random.default_rng(seed)
    pos = np.flatnonzero(frames.labels == 1)
    hard = np.flatnonzero(near_boundary(frames))
    easy = np.setdiff1d(np.flatnonzero(frames.labels == 0), hard)
    pos = pos[coverage_order(frames.images[pos], max_positive, seed)]
    hard = rng.permutation(hard)[:max_negative // 2]
    easy = easy[coverage_order(frames.images[easy], max_negative - len(hard), seed)]
    return frames.take(np.sort(np.concatenate([pos, hard, easy])))


def collect_dataset(out_dir: str | Path, tasks: list[str], episodes_per_task: int, *, max_positive: int = 300,
                    max_negative: int = 1500, seed: int = 0, protocol: CollectProtocol | None = None,
                    progress: bool = True) -> tuple[Frames, Frames]:
    """Collect in sim, cut to the budget, write ``out_dir``: what ``rldg reward collect`` does.
    Returns (all collected frames, the kept ones)."""
    protocol = protocol or CollectProtocol()
    frames = collect_sim(tasks, episodes_per_task, seed=seed, protocol=protocol, progress=progress)
    kept = subsample(frames, max_positive, max_negative, seed=seed)
    write_frames(out_dir, kept, tasks, source="sim ground truth",
                 protocol={**protocol_dict(protocol), "episodes_per_task": episodes_per_task, "seed": seed,
                           "collected": frames.counts})
    return frames, kept


def protocol_dict(p: CollectProtocol) -> dict:
    d = asdict(p)
    d["policies"] = list(p.policies)
    return d
