"""Action / proprio normalization from ``dataset_statistics.json`` (OpenVLA/Octo convention), done in one place.

``bounds_q99``: ``x -> clip(2 (x - q01) / (q99 - q01) - 1, -1, 1)`` per dimension, as OpenVLA normalizes actions
before tokenizing them; dimensions listed in ``skip`` (the gripper, already in [-1, 1]) pass through. A dimension
with ``q99 == q01`` (constant in the data, e.g. an unused rotation) maps to 0 and back to its constant, never to NaN.
``normal``: ``(x - mean) / std`` (Octo's default for proprio), with ``std`` floored.

The statistics a policy was trained with travel with its checkpoint (``dataset_statistics.json`` next to the
weights, keyed by dataset name when several were mixed), so un-normalizing at inference uses exactly those.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

EPS = 1e-8


@dataclass(frozen=True)
class Normalizer:
    low: np.ndarray
    high: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    mode: str = "bounds_q99"
    skip: tuple[int, ...] = ()

    @staticmethod
    def from_stats(stats: dict, key: str = "action", mode: str = "bounds_q99",
                   skip: tuple[int, ...] = ()) -> Normalizer:
        if key not in stats:
            raise KeyError(f"dataset statistics have no {key!r} entry (keys: {sorted(stats)})")
        s = stats[key]
        arr = {k: np.asarray(s[k], np.float64) for k in ("q01", "q99", "mean", "std")}
        n = len(arr["mean"])
        if any(len(v) != n for v in arr.values()):
            raise ValueError(f"dataset statistics for {key!r} disagree in length")
        if mode not in ("bounds_q99", "normal"):
            raise ValueError(f"normalization mode {mode!r}: use bounds_q99 or normal")
        return Normalizer(arr["q01"], arr["q99"], arr["mean"], arr["std"], mode, tuple(skip))

    @staticmethod
    def from_file(path: str | Path, key: str = "action", dataset: str | None = None, **kw) -> Normalizer:
        stats = json.loads(Path(path).read_text())
        if key not in stats:  # several datasets: {name: stats}
            if dataset is None:
                if len(stats) != 1:
                    raise KeyError(f"{path}: statistics for several datasets {sorted(stats)}: name one")
                dataset = next(iter(stats))
            stats = stats[dataset]
        return Normalizer.from_stats(stats, key, **kw)

    def _mask(self, n: int) -> np.ndarray:
        m = np.ones(n, bool)
        m[list(self.skip)] = False
        return m

    def normalize(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, np.float64)
        if x.shape[-1] != len(self.mean):
            raise ValueError(f"expected {len(self.mean)} dimensions, got {x.shape[-1]}")
        m = self._mask(x.shape[-1])
        if self.mode == "normal":
            out = (x - self.mean) / np.maximum(self.std, 1e-6)
        else:
            span = self.high - self.low
            const = span < EPS
            out = np.where(const, 0.0, 2.0 * (x - self.low) / np.where(const, 1.0, span) - 1.0)
            out = np.clip(out, -1.0, 1.0)
        return np.where(m, out, x).astype(np.float32)

    def unnormalize(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, np.float64)
        if y.shape[-1] != len(self.mean):
            raise ValueError(f"expected {len(self.mean)} dimensions, got {y.shape[-1]}")
        m = self._mask(y.shape[-1])
        if self.mode == "normal":
            out = y * np.maximum(self.std, 1e-6) + self.mean
        else:
            out = 0.5 * (np.clip(y, -1.0, 1.0) + 1.0) * (self.high - self.low) + self.low
        return np.where(m, out, y).astype(np.float32)
