"""RLDS datasets in the TFDS on-disk format, written and read without TensorFlow.

A dataset is ``<out>/<name>/<version>/`` with ``dataset_info.json``, ``features.json``, TFRecord shards named
``<name>-<split>.tfrecord-NNNNN-of-MMMMM`` (one ``tf.train.Example`` per episode, the step features flattened as
``steps/<key>`` lists, the layout TFDS uses for a ``tfds.features.Dataset``), and ``dataset_statistics.json`` in the
OpenVLA/Octo convention. ``tfds.builder_from_directory(path).as_dataset(split="train")`` reads it with TensorFlow,
which is how OpenVLA's and Octo's data loaders open RLDS; :class:`RldsReader` reads it here without TensorFlow.

The step schema (RLDS: https://github.com/google-research/rlds):

* ``observation/image``: the wrist image, JPEG-encoded uint8 HxWx3;
* ``observation/state``: float32 robot state (``rldg_ros.sim.env.STATE_NAMES`` for rldg bags);
* ``action``: float32 7-D (wrist-frame deltas in [-1, 1] + gripper), ``reward``, ``discount``;
* ``is_first``, ``is_last``, ``is_terminal``; ``language_instruction``.

Episode metadata: ``file_path`` (source bag), ``task``, ``episode_id``, ``success``, ``intervention_fraction``.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rldg_ros import spec
from rldg_ros.data.tfrecord import TFRecordWriter, decode_example, encode_example, read_records

STEP_KEYS = ("observation/image", "observation/state", "action", "reward", "discount", "is_first", "is_last",
             "is_terminal", "language_instruction")
META_KEYS = ("file_path", "task", "episode_id", "success", "intervention_fraction")
ACTION_DIM = spec.ACTION_DIM


def encode_jpeg(img: np.ndarray, quality: int = 95) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img, dtype=np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def decode_jpeg(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


# -- features.json (the TFDS FeaturesDict proto as JSON) ---------------------------------------------------------
def _tensor(dtype: str, shape: tuple[int, ...] = (), scalar: bool = False) -> dict:
    t = {"dtype": dtype, "encoding": "none", "shape": {"dimensions": [str(d) for d in shape]} if shape else {}}
    cls = "scalar.Scalar" if scalar else "tensor_feature.Tensor"
    return {"pythonClassName": f"tensorflow_datasets.core.features.{cls}", "tensor": t}


def _text() -> dict:
    return {"pythonClassName": "tensorflow_datasets.core.features.text_feature.Text", "text": {}}


def _dict(features: dict) -> dict:
    return {"featuresDict": {"features": features},
            "pythonClassName": "tensorflow_datasets.core.features.features_dict.FeaturesDict"}


def features_json(image_shape: tuple[int, int, int], state_dim: int) -> dict:
    image = {"image": {"dtype": "uint8", "encodingFormat": "jpeg",
                       "shape": {"dimensions": [str(d) for d in image_shape]}},
             "pythonClassName": "tensorflow_datasets.core.features.image_feature.Image"}
    step = _dict({
        "observation": _dict({"image": image, "state": _tensor("float32", (state_dim,))}),
        "action": _tensor("float32", (ACTION_DIM,)),
        "reward": _tensor("float32", scalar=True),
        "discount": _tensor("float32", scalar=True),
        "is_first": _tensor("bool", scalar=True),
        "is_last": _tensor("bool", scalar=True),
        "is_terminal": _tensor("bool", scalar=True),
        "language_instruction": _text(),
    })
    meta = _dict({
        "file_path": _text(),
        "task": _text(),
        "episode_id": _tensor("int64", scalar=True),
        "success": _tensor("bool", scalar=True),
        "intervention_fraction": _tensor("float32", scalar=True),
    })
    steps = {"pythonClassName": "tensorflow_datasets.core.features.dataset_feature.Dataset",
             "sequence": {"feature": step, "length": "-1"}}
    return _dict({"steps": steps, "episode_metadata": meta})


# -- episodes ------------------------------------------------------------------------------------------------------
@dataclass
class Episode:
    """One RLDS episode in memory (T steps)."""

    images: list[bytes]  # JPEG per step
    state: np.ndarray  # (T, D) float32
    action: np.ndarray  # (T, 7) float32
    reward: np.ndarray  # (T,) float32
    instruction: str
    file_path: str = ""
    task: str = ""
    episode_id: int = 0
    success: bool = False
    intervention_fraction: float = 0.0
    terminal: bool = True  # the last step ends the task (success/failure), not a time limit
    discount: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.images)

    def to_features(self) -> dict:
        n = len(self)
        if n == 0:
            raise ValueError("an RLDS episode needs at least one step")
        if self.state.shape[0] != n or self.action.shape != (n, ACTION_DIM) or self.reward.shape != (n,):
            raise ValueError(f"episode arrays disagree: {n} images, state {self.state.shape}, action "
                             f"{self.action.shape}, reward {self.reward.shape}")
        first, last = np.zeros(n, bool), np.zeros(n, bool)
        first[0], last[-1] = True, True
        discount = np.ones(n, np.float32) if self.discount is None else self.discount
        return {
            "steps/observation/image": list(self.images),
            "steps/observation/state": self.state.astype(np.float32),
            "steps/action": self.action.astype(np.float32),
            "steps/reward": self.reward.astype(np.float32),
            "steps/discount": np.asarray(discount, np.float32),
            "steps/is_first": first,
            "steps/is_last": last,
            "steps/is_terminal": last & self.terminal,
            "steps/language_instruction": [self.instruction.encode()] * n,
            "episode_metadata/file_path": [self.file_path.encode()],
            "episode_metadata/task": [self.task.encode()],
            "episode_metadata/episode_id": np.array([self.episode_id], np.int64),
            "episode_metadata/success": np.array([self.success]),
            "episode_metadata/intervention_fraction": np.array([self.intervention_fraction], np.float32),
        }


def dimension_statistics(x: np.ndarray) -> dict:
    """Per-dimension mean, std, max, min, q01, q99 (the OpenVLA/Octo ``dataset_statistics.json`` entries)."""
    x = np.asarray(x, np.float64)
    return {k: v.astype(np.float32).tolist() for k, v in (
        ("mean", x.mean(0)), ("std", x.std(0)), ("max", x.max(0)), ("min", x.min(0)),
        ("q01", np.quantile(x, 0.01, axis=0)), ("q99", np.quantile(x, 0.99, axis=0)))}


@dataclass
class _Split:
    shards: list[Path] = field(default_factory=list)
    lengths: list[int] = field(default_factory=list)
    num_bytes: int = 0
    writer: TFRecordWriter | None = None


class RldsWriter:
    """Streams episodes into shards (``shard_mb`` each); ``close()`` names the shards and writes the metadata."""

    def __init__(self, out_dir: str | Path, name: str, image_shape: tuple[int, int, int], state_dim: int,
                 version: str = spec.DATASET_VERSION, shard_mb: float = 256.0, description: str = "") -> None:
        if not name.replace("_", "").isalnum() or not name[0].isalpha() or name.lower() != name:
            raise ValueError(f"dataset name {name!r}: use lower_snake_case starting with a letter (a TFDS name)")
        self.name, self.version = name, version
        self.dir = Path(out_dir) / name / version
        if self.dir.exists() and any(self.dir.iterdir()):
            raise FileExistsError(f"{self.dir} already holds a dataset; choose another --out or --name")
        # the folders this writer creates: abort() removes them again, so a failed run leaves nothing that blocks
        # the next one
        self._created = [d for d in (self.dir, self.dir.parent, self.dir.parent.parent) if not d.exists()]
        self.dir.mkdir(parents=True, exist_ok=True)
        self.image_shape, self.state_dim = tuple(image_shape), int(state_dim)
        self.shard_bytes = int(shard_mb * 1e6)
        self.description = description
        self.splits: dict[str, _Split] = {}
        self.actions: list[np.ndarray] = []  # statistics: actions and states are small next to the images
        self.states: list[np.ndarray] = []

    def write(self, ep: Episode, split: str = "train") -> int:
        if ep.state.shape[1] != self.state_dim:
            raise ValueError(f"episode state has {ep.state.shape[1]} dims, the dataset {self.state_dim}")
        data = encode_example(ep.to_features())
        s = self.splits.setdefault(split, _Split())
        if s.writer is None or s.writer.bytes >= self.shard_bytes:
            if s.writer is not None:
                s.writer.close()
            path = self.dir / f".{self.name}-{split}.tfrecord-{len(s.shards):05d}.partial"
            s.shards.append(path)
            s.lengths.append(0)
            s.writer = TFRecordWriter(path)
        s.writer.write(data)
        s.lengths[-1] += 1
        s.num_bytes += len(data)
        if split == "train":
            self.actions.append(ep.action.astype(np.float32))
            self.states.append(ep.state.astype(np.float32))
        return len(data)

    def abort(self) -> None:
        """Give up: close and delete the partial shards, and the folders this writer created if they are empty."""
        for s in self.splits.values():
            if s.writer is not None:
                s.writer.close()
                s.writer = None
            for path in s.shards:
                path.unlink(missing_ok=True)
        for d in self._created:
            if d.is_dir() and not any(d.iterdir()):
                d.rmdir()

    def close(self, extra_info: dict | None = None) -> Path:
        splits_info = []
        for split, s in self.splits.items():
            if s.writer is not None:
                s.writer.close()
            n = len(s.shards)
            for i, path in enumerate(s.shards):
                os.replace(path, self.dir / f"{self.name}-{split}.tfrecord-{i:05d}-of-{n:05d}")
            splits_info.append({"filepathTemplate": "{DATASET}-{SPLIT}.{FILEFORMAT}-{SHARD_X_OF_Y}", "name": split,
                                "numBytes": str(s.num_bytes), "shardLengths": [str(x) for x in s.lengths]})
        info = {"description": self.description or f"{self.name}: RLDS episodes converted by rldg",
                "fileFormat": "tfrecord", "moduleName": "rldg_ros.data.rlds", "name": self.name,
                "splits": splits_info, "version": self.version}
        (self.dir / "dataset_info.json").write_text(json.dumps(info, indent=2))
        (self.dir / "features.json").write_text(json.dumps(features_json(self.image_shape, self.state_dim),
                                                           indent=1))
        stats = self.statistics()
        if extra_info:
            stats["rldg"] = extra_info
        (self.dir / "dataset_statistics.json").write_text(json.dumps(stats, indent=1))
        return self.dir

    def statistics(self) -> dict:
        """OpenVLA/Octo ``dataset_statistics.json``: action and proprio (state) per-dimension statistics."""
        if not self.actions:
            return {"num_transitions": 0, "num_trajectories": 0}
        a, s = np.concatenate(self.actions), np.concatenate(self.states)
        return {"action": dimension_statistics(a), "proprio": dimension_statistics(s), "num_transitions": int(len(a)),
                "num_trajectories": len(self.actions)}


# -- reading, TF-free ------------------------------------------------------------------------------------------------
class RldsReader:
    """Episodes of a TFDS RLDS directory as numpy (images decoded unless ``decode_images=False``)."""

    def __init__(self, path: str | Path) -> None:
        self.dir = Path(path)
        info_path = self.dir / "dataset_info.json"
        if not info_path.exists():
            raise FileNotFoundError(f"{self.dir}: no dataset_info.json (pass the <name>/<version> directory)")
        self.info = json.loads(info_path.read_text())
        self.features = json.loads((self.dir / "features.json").read_text())
        stats = self.dir / "dataset_statistics.json"
        self.statistics = json.loads(stats.read_text()) if stats.exists() else None
        self.name = self.info["name"]

    @property
    def splits(self) -> dict[str, int]:
        return {s["name"]: sum(int(x) for x in s["shardLengths"]) for s in self.info["splits"]}

    def shard_paths(self, split: str) -> list[Path]:
        for s in self.info["splits"]:
            if s["name"] == split:
                n = len(s["shardLengths"])
                return [self.dir / f"{self.name}-{split}.tfrecord-{i:05d}-of-{n:05d}" for i in range(n)]
        raise KeyError(f"{self.dir}: no split {split!r} (has {sorted(self.splits)})")

    def episodes(self, split: str = "train", decode_images: bool = True) -> Iterator[dict]:
        for shard in self.shard_paths(split):
            for raw in read_records(shard):
                yield self.parse(raw, decode_images)

    def parse(self, raw: bytes, decode_images: bool = True) -> dict:
        f = decode_example(raw)
        n = len(f["steps/is_first"])
        images = f["steps/observation/image"]
        return {
            "steps": {
                "observation": {
                    "image": np.stack([decode_jpeg(b) for b in images]) if decode_images else images,
                    "state": f["steps/observation/state"].reshape(n, -1),
                },
                "action": f["steps/action"].reshape(n, -1),
                "reward": f["steps/reward"],
                "discount": f["steps/discount"],
                "is_first": f["steps/is_first"].astype(bool),
                "is_last": f["steps/is_last"].astype(bool),
                "is_terminal": f["steps/is_terminal"].astype(bool),
                "language_instruction": [b.decode() for b in f["steps/language_instruction"]],
            },
            "episode_metadata": {
                "file_path": f["episode_metadata/file_path"][0].decode(),
                "task": f["episode_metadata/task"][0].decode(),
                "episode_id": int(f["episode_metadata/episode_id"][0]),
                "success": bool(f["episode_metadata/success"][0]),
                "intervention_fraction": float(f["episode_metadata/intervention_fraction"][0]),
            },
        }
