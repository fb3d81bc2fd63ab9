"""Training batches for the generalists from RLDS directories, through the TF-free reader.

Episodes are read once (images decoded and resized to the model's size), split into train / validation **by
episode** (the dataset's ``val`` split if it has one, else a held-out fraction), and sampled as windows: the last
``window`` observations up to step t (padded at the episode start, with a mask) and the ``horizon`` actions from t
(padded at the end, with a mask), normalized with the training data's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rldg_ros.data.rlds import RldsReader, dimension_statistics
from rldg_ros.spec import STATE_FORCE
from rldg_ros.vla.normalize import Normalizer

GRIPPER = (6,)


def resize(images: np.ndarray, size: int) -> np.ndarray:
    if images.shape[1:3] == (size, size):
        return images
    from PIL import Image

    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), Image.BILINEAR)) for im in images])


def random_shift(images: np.ndarray, pad: int, rng: np.random.Generator) -> np.ndarray:
    """DrQ-style random shift of (B, W, S, S, 3) windows: edge-pad by ``pad`` and crop back at a random offset, the
    same offset for every frame of a window (the camera does not jump between steps)."""
    b, w, s = images.shape[:3]
    padded = np.pad(images, ((0, 0), (0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(rng.integers(0, 2 * pad + 1, (b, 2))):
        out[i] = padded[i, :, dy:dy + s, dx:dx + s]
    return out


@dataclass(frozen=True)
class ImageAugment:
    """Octo's fine-tuning image augmentation (octo/data/utils/data_utils + its finetune config): a random resized
    crop (area ``scale``, aspect ``ratio``) resized back, then brightness, contrast, saturation and hue jitter. One
    draw per window: every frame of a window gets the same transform (the camera does not jump between steps)."""

    scale: tuple[float, float] = (0.8, 1.0)
    ratio: tuple[float, float] = (0.9, 1.1)
    brightness: float = 0.1
    contrast: tuple[float, float] = (0.9, 1.1)
    saturation: tuple[float, float] = (0.9, 1.1)
    hue: float = 0.05

    def __call__(self, images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, W, S, S, 3) uint8 windows -> the same shape, augmented."""
        from PIL import Image

        b, w, s = images.shape[:3]
        out = np.empty_like(images)
        for i in range(b):
            area = rng.uniform(*self.scale) * s * s
            aspect = np.exp(rng.uniform(np.log(self.ratio[0]), np.log(self.ratio[1])))
            cw = int(np.clip(round(np.sqrt(area * aspect)), 1, s))
            ch = int(np.clip(round(np.sqrt(area / aspect)), 1, s))
            y, x = int(rng.integers(0, s - ch + 1)), int(rng.integers(0, s - cw + 1))
            for j in range(w):
                crop = images[i, j, y:y + ch, x:x + cw]
                out[i, j] = crop if (ch, cw) == (s, s) else np.asarray(
                    Image.fromarray(crop).resize((s, s), Image.BILINEAR))
        x = out.astype(np.float32) / 255.0
        shape = (b, 1, 1, 1, 1)
        x = x + rng.uniform(-self.brightness, self.brightness, shape)
        mean = x.mean(axis=(2, 3, 4), keepdims=True)
        x = (x - mean) * rng.uniform(*self.contrast, shape) + mean
        gray = x @ np.array([0.299, 0.587, 0.114], np.float32)
        x = gray[..., None] + (x - gray[..., None]) * rng.uniform(*self.saturation, shape)
        x = _rotate_hue(x, rng.uniform(-self.hue, self.hue, b) * 2 * np.pi)
        return (np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


IMAGE_AUGMENTS = {
    "octo": ImageAugment(),
    # colour only, wide: the unseen connectors differ from the seen ones in colour as much as in shape (a light grey
    # USB plug, a dark grey Type-C one), and a crop takes away what octo-style aims by (docs/generalists.md)
    "colour": ImageAugment(scale=(1.0, 1.0), ratio=(1.0, 1.0), brightness=0.2, contrast=(0.6, 1.4),
                           saturation=(0.0, 1.5), hue=0.5),
}


def image_augment(name: str) -> ImageAugment | None:
    """A preset of IMAGE_AUGMENTS by name ("" or "none": no augmentation)."""
    if name in ("", "none", None):
        return None
    if name not in IMAGE_AUGMENTS:
        raise ValueError(f"unknown image augmentation {name!r}; known: none, {', '.join(IMAGE_AUGMENTS)}")
    return IMAGE_AUGMENTS[name]


def _rotate_hue(x: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Hue rotation by ``angle`` (radians, one per window) in YIQ space: luma kept, chroma turned."""
    to_yiq = np.array([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]], np.float32)
    yiq = x @ to_yiq.T
    c, s = np.cos(angle).reshape(-1, 1, 1, 1), np.sin(angle).reshape(-1, 1, 1, 1)
    i, q = yiq[..., 1] * c - yiq[..., 2] * s, yiq[..., 1] * s + yiq[..., 2] * c
    return np.stack([yiq[..., 0], i, q], -1) @ np.linalg.inv(to_yiq).T.astype(np.float32)


@dataclass
class EpisodeData:
    images: np.ndarray  # (T, S, S, 3) uint8
    states: np.ndarray  # (T, D)
    actions: np.ndarray  # (T, 7) raw
    instruction: str
    task: str


def load_episodes(paths: list[str | Path], image_size: int, split: str = "train",
                  progress: bool = False) -> list[EpisodeData]:
    from tqdm import tqdm

    out = []
    for p in paths:
        r = RldsReader(p)
        if split not in r.splits:
            continue
        for e in tqdm(r.episodes(split), total=r.splits[split], desc=f"load {r.name}/{split}", disable=not progress):
            st = e["steps"]
            out.append(EpisodeData(resize(st["observation"]["image"], image_size),
                                   st["observation"]["state"].astype(np.float32), st["action"].astype(np.float32),
                                   st["language_instruction"][0], e["episode_metadata"]["task"]))
    return out


def merged_statistics(paths: list[str | Path], episodes: list[EpisodeData]) -> dict:
    """Statistics of the training episodes actually used (several datasets: recomputed over their union)."""
    a = np.concatenate([e.actions for e in episodes])
    s = np.concatenate([e.states for e in episodes])
    return {"action": dimension_statistics(a), "proprio": dimension_statistics(s), "num_transitions": int(len(a)),
            "num_trajectories": len(episodes), "datasets": [str(p) for p in paths]}


def write_summary(out: Path, info: dict, step: int, seconds: float, history: list[dict]) -> dict:
    """``training_summary.json`` at the end of a training run (both generalists)."""
    import json

    summary = {**info, "step": step, "seconds": seconds, "history": history,
               "final_val_loss": next((h["val_loss"] for h in reversed(history) if "val_loss" in h), None)}
    (Path(out) / "training_summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def split_episodes(paths: list[str | Path], image_size: int, val_fraction: float, seed: int,
                   progress: bool = False) -> tuple[list[EpisodeData], list[EpisodeData]]:
    train = load_episodes(paths, image_size, "train", progress)
    if not train:
        raise ValueError(f"no training episodes in {[str(p) for p in paths]}")
    val = load_episodes(paths, image_size, "val", progress)
    if not val and val_fraction > 0 and len(train) >= 2:
        rng = np.random.default_rng(seed)
        idx = rng.permutation(len(train))
        n_val = max(1, int(round(val_fraction * len(train))))
        val = [train[i] for i in idx[:n_val]]
        train = [train[i] for i in idx[n_val:]]
    return train, val


def contact_weights(episodes: list[EpisodeData], oversample: float, force_n: float) -> np.ndarray | None:
    """Sampling weights, one per frame in WindowSampler's order: ``oversample`` for frames whose measured force
    exceeds ``force_n`` newtons (in contact), 1 for the others; None when ``oversample`` is 1 (uniform)."""
    if not (0 < oversample < np.inf):
        raise ValueError(f"contact_oversample must be a finite number > 0, got {oversample}")
    if oversample == 1.0:
        return None
    force = np.concatenate([np.linalg.norm(e.states[:, STATE_FORCE], axis=1) for e in episodes])
    return np.where(force > force_n, float(oversample), 1.0)


class WindowSampler:
    def __init__(self, episodes: list[EpisodeData], norm: Normalizer, window: int, horizon: int,
                 text_fn, seed: int = 0, state_norm: Normalizer | None = None, augment: int = 0,
                 word_dropout: float = 0.0, pad_id: int = 0, unk_id: int = 1,
                 image_augment: ImageAugment | None = None, image_dropout: float = 0.0,
                 weights: np.ndarray | None = None) -> None:
        if not episodes:
            raise ValueError("no episodes to sample from")
        self.eps, self.norm, self.window, self.horizon = episodes, norm, window, horizon
        self.text = [text_fn(e.instruction) for e in episodes]
        self.norm_actions = [norm.normalize(e.actions) for e in episodes]
        self.norm_states = None if state_norm is None else [
            np.clip(state_norm.normalize(e.states), -5.0, 5.0).astype(np.float32) for e in episodes]
        self.index = np.array([(i, t) for i, e in enumerate(episodes) for t in range(len(e.actions))])
        # training batches: frame (i, t) drawn with probability weights[k] / sum (None: uniform); one per index row
        if weights is not None:
            w = np.asarray(weights, float)
            if w.shape != (len(self.index),) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
                raise ValueError(f"weights: {len(self.index)} finite non-negative values expected, one per frame, "
                                 f"not all zero; got {w.size} value(s)")
        self.p = None if weights is None else np.asarray(weights, float) / np.sum(weights)
        self.rng = np.random.default_rng(seed)
        self.augment = int(augment)  # random-shift augmentation (pixels), training batches only
        self.image_augment = image_augment  # Octo's crop + colour jitter, training batches only
        # training batches only: each instruction word becomes the unknown-word token with this probability, so the
        # model meets <unk> in context and an instruction with a word it never saw (an unseen connector's name) is
        # not out of distribution
        self.word_dropout, self.pad_id, self.unk_id = float(word_dropout), pad_id, unk_id
        # training batches only: each example's image is hidden from the model with this probability (an
        # ``image_keep`` flag per example), so the state alone must also predict the action
        self.image_dropout = float(image_dropout)

    def __len__(self) -> int:
        return len(self.index)

    def item(self, i: int, t: int) -> dict[str, np.ndarray]:
        e, W, H = self.eps[i], self.window, self.horizon
        steps = np.arange(t - W + 1, t + 1)
        pad = steps >= 0
        img = e.images[np.clip(steps, 0, None)]
        img[~pad] = 0
        a_idx = np.arange(t, t + H)
        a_pad = a_idx < len(e.actions)
        act = self.norm_actions[i][np.clip(a_idx, None, len(e.actions) - 1)]
        act[~a_pad] = 0.0
        out = {"image": img, "text": self.text[i], "timestep_pad": pad, "action": act, "action_pad": a_pad}
        if self.norm_states is not None:
            st = self.norm_states[i][np.clip(steps, 0, None)]
            st[~pad] = 0.0
            out["proprio"] = st
        return out

    def batch(self, n: int) -> dict[str, np.ndarray]:
        rows = self.index[self.rng.integers(0, len(self.index), n) if self.p is None
                          else self.rng.choice(len(self.index), n, p=self.p)]
        items = [self.item(i, t) for i, t in rows]
        out = {k: np.stack([it[k] for it in items]) for k in items[0]}
        if self.augment:
            out["image"] = random_shift(out["image"], self.augment, self.rng)
        if self.image_augment is not None:
            out["image"] = self.image_augment(out["image"], self.rng)
        if self.word_dropout > 0:
            drop = (out["text"] != self.pad_id) & (self.rng.random(out["text"].shape) < self.word_dropout)
            out["text"] = np.where(drop, self.unk_id, out["text"]).astype(out["text"].dtype)
        if self.image_dropout > 0:
            out["image_keep"] = self.rng.random(n) >= self.image_dropout
        return out

    def all_batches(self, n: int):
        """Every window once, in order (validation)."""
        for s in range(0, len(self.index), n):
            items = [self.item(i, t) for i, t in self.index[s:s + n]]
            yield {k: np.stack([it[k] for it in items]) for k in items[0]}
