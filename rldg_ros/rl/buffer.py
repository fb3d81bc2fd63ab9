"""Replay buffers (numpy ring buffers), their files, and the learner's write-ahead log.

A transition is a dict of arrays: ``state``, ``next_state`` (normalised features, float32), ``image``,
``next_image`` (uint8, pixels mode only; with an embedding cache ``embedding``, ``next_embedding`` instead: K
encodings of augmented crops per frame, float16), ``action`` (the executed action's continuous dims),
``gripper`` (0 open / 1 close), ``gripper_changed``, ``reward``, ``terminal`` (no bootstrap), ``intervention``.

Memory: numpy zero-filled arrays are allocated lazily by the OS, so a large capacity costs only what is filled.
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np

SCALARS = {"reward": np.float32, "terminal": np.float32, "gripper": np.int32, "gripper_changed": np.float32,
           "intervention": np.float32}


def field_specs(state_dim: int, action_dim: int, image_size: int | None,
                embed: tuple[int, int] | None = None) -> dict[str, tuple[tuple, type]]:
    """``embed``: (K, D) with an embedding cache, stored instead of the images."""
    spec: dict[str, tuple[tuple, type]] = {
        "state": ((state_dim,), np.float32), "next_state": ((state_dim,), np.float32),
        "action": ((action_dim,), np.float32),
    }
    if embed:
        spec["embedding"] = (tuple(embed), np.float16)
        spec["next_embedding"] = (tuple(embed), np.float16)
    elif image_size:
        spec["image"] = ((image_size, image_size, 3), np.uint8)
        spec["next_image"] = ((image_size, image_size, 3), np.uint8)
    spec.update({k: ((), t) for k, t in SCALARS.items()})
    return spec


class ReplayBuffer:
    def __init__(self, capacity: int, specs: dict[str, tuple[tuple, type]]) -> None:
        self.capacity = int(capacity)
        self.specs = specs
        self.data = {k: np.zeros((self.capacity, *shape), dtype) for k, (shape, dtype) in specs.items()}
        self.size = 0
        self.ptr = 0
        self.added = 0  # ever added (a ring buffer overwrites the oldest)

    def __len__(self) -> int:
        return self.size

    def add(self, t: dict[str, np.ndarray]) -> None:
        missing = set(self.specs) - set(t)
        if missing:
            raise KeyError(f"transition lacks {sorted(missing)}")
        for k, (shape, _) in self.specs.items():
            v = np.asarray(t[k])
            if v.shape != shape:
                raise ValueError(f"transition field {k!r} has shape {v.shape}, expected {shape}")
            self.data[k][self.ptr] = v
        self.ptr = (self.ptr + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)
        self.added += 1

    def sample(self, rng: np.random.Generator, n: int) -> dict[str, np.ndarray]:
        if self.size == 0:
            raise ValueError("cannot sample an empty buffer")
        idx = rng.integers(0, self.size, size=n)
        return {k: v[idx] for k, v in self.data.items()}

    def intervention_count(self) -> int:
        return int(self.data["intervention"][: self.size].sum())

    # -- files -------------------------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """The filled part in order of age, as one .npz (written to a temp name, then renamed)."""
        path = Path(path)
        order = np.arange(self.size) if self.size < self.capacity else (np.arange(self.size) + self.ptr) % self.capacity
        tmp = path.with_suffix(".tmp.npz")
        with open(tmp, "wb") as f:
            np.savez(f, __added=np.asarray(self.added), **{k: v[order] for k, v in self.data.items()})
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def load(self, path: str | Path) -> None:
        with np.load(path) as z:
            n = len(z["reward"])
            for k in self.specs:
                if k not in z:
                    raise ValueError(f"{path}: buffer file lacks field {k!r} (saved with another observation mode?)")
                arr = z[k][-self.capacity:]
                if arr.shape[1:] != self.data[k].shape[1:]:
                    raise ValueError(f"{path}: field {k!r} has shape {arr.shape[1:]}, this buffer "
                                     f"{self.data[k].shape[1:]}")
                self.data[k][: len(arr)] = arr
            self.size = min(n, self.capacity)
            self.ptr = self.size % self.capacity
            self.added = int(z["__added"]) if "__added" in z else n


class WriteAheadLog:
    """Append-only log of transitions received since the last checkpoint: ``[u32 length][pickle]`` records, each
    flushed and fsync'ed before the learner acknowledges it. A crash mid-record leaves a torn tail, which
    :meth:`read` ignores (those transitions were never acknowledged, so the actor sends them again)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.f = open(self.path, "ab")  # noqa: SIM115 - kept open for appends

    def append(self, records: list) -> None:
        if not records:
            return
        for r in records:
            blob = pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL)
            self.f.write(struct.pack("<I", len(blob)))
            self.f.write(blob)
        self.f.flush()
        os.fsync(self.f.fileno())

    def close(self) -> None:
        self.f.close()

    @staticmethod
    def read(path: str | Path, repair: bool = False) -> tuple[list, int]:
        """-> (intact records, bytes of torn tail ignored). ``repair`` truncates the torn tail, so records
        appended later are not hidden behind it."""
        path = Path(path)
        if not path.exists():
            return [], 0
        data = path.read_bytes()
        out, pos = [], 0
        while pos + 4 <= len(data):
            (n,) = struct.unpack_from("<I", data, pos)
            if pos + 4 + n > len(data):
                break
            try:
                out.append(pickle.loads(data[pos + 4: pos + 4 + n]))  # noqa: S301 - our own file
            except Exception:  # noqa: BLE001 - a torn record
                break
            pos += 4 + n
        if repair and pos < len(data):
            with open(path, "r+b") as f:
                f.truncate(pos)
        return out, len(data) - pos
