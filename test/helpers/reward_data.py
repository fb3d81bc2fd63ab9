"""A small synthetic frames dataset a classifier can learn in seconds: success = a bright square low in the image."""

import numpy as np

from rldg_ros.reward.data import Frames, write_frames


def scene(rng: np.random.Generator, success: bool, size: int = 32) -> np.ndarray:
    img = rng.integers(40, 90, (size, size, 3), dtype=np.uint8)
    y = int(rng.integers(size // 2 + 2, size - 8)) if success else int(rng.integers(2, size // 2 - 8))
    x = int(rng.integers(2, size - 8))
    img[y:y + 6, x:x + 6] = 230  # the "peg": low = inserted, high = hovering
    return img


def synthetic_frames(episodes: int = 16, length: int = 20, positives_per_episode: int = 5, size: int = 32,
                     seed: int = 0) -> Frames:
    rng = np.random.default_rng(seed)
    imgs, labels, ep, step = [], [], [], []
    for e in range(episodes):
        for t in range(length):
            y = t >= length - positives_per_episode
            imgs.append(scene(rng, y, size))
            labels.append(int(y))
            ep.append(e)
            step.append(t)
    n = len(labels)
    return Frames(np.stack(imgs), np.array(labels, np.uint8), np.array(ep, np.int32), np.array(step, np.int32),
                  np.zeros(n, np.int16), np.zeros(n, np.uint8))


def write_synthetic(path, **kw):
    return write_frames(path, synthetic_frames(**kw), ["connector_insertion/usb"], source="synthetic (test)")
