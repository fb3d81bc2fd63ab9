"""The success classifier: a small CNN over one wrist image -> P(success), in JAX/flax.

Architecture (HIL-SERL-like, scaled to a CPU): 3 strided 3x3 conv blocks (GroupNorm, ReLU) down to a 16x16 grid, then a
*learned spatial embedding* (a per-location, per-channel weighting summed over the grid, as HIL-SERL's image
encoder uses instead of global pooling, so *where* things are in the image still counts: an inserted connector
differs from a hovering one mostly by where the port sits under the fingers), dropout, a 256-unit MLP and one logit.

An optional frozen encoder: ``encoder`` params taken from another checkpoint with the same architecture (e.g. a
classifier trained on a related task) and not updated by training (``stop_gradient``).

Checkpoint = a directory: ``classifier.json`` (architecture, image size, threshold, provenance, metrics) and
``params.msgpack`` (flax serialization). :class:`SuccessClassifier` loads it for inference.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "rldg-reward-classifier"
VERSION = 1


@dataclass
class ArchConfig:
    image_size: int = 128
    channels: tuple[int, ...] = (16, 32, 64)
    embed_features: int = 8  # learned spatial embedding: features per channel
    hidden: int = 256
    dropout: float = 0.1

    @classmethod
    def from_dict(cls, d: dict) -> ArchConfig:
        d = dict(d)
        d["channels"] = tuple(d.get("channels", cls.channels))
        return cls(**d)


@dataclass
class CheckpointInfo:
    arch: ArchConfig = field(default_factory=ArchConfig)
    threshold: float = 0.5
    target_precision: float = 0.99
    tasks: list[str] = field(default_factory=list)
    frozen_encoder: str = ""
    metrics: dict = field(default_factory=dict)


def encoder_module():
    """The conv + learned-spatial-embedding encoder (flax class); the RL agent's pixel encoder is the same, so a
    classifier checkpoint's ``encoder`` params can start (and freeze) it."""
    import flax.linen as nn
    import jax.numpy as jnp

    class Encoder(nn.Module):
        channels: tuple[int, ...]
        embed_features: int

        @nn.compact
        def __call__(self, x):
            for i, c in enumerate(self.channels):
                x = nn.Conv(c, (3, 3), strides=(2, 2), padding="SAME", name=f"conv{i}")(x)
                x = nn.GroupNorm(num_groups=min(8, c), name=f"norm{i}")(x)
                x = nn.relu(x)
            b, h, w, c = x.shape
            kernel = self.param("spatial_embedding", nn.initializers.lecun_normal(), (h, w, c, self.embed_features))
            return jnp.einsum("bhwc,hwcf->bcf", x, kernel).reshape(b, c * self.embed_features)

    return Encoder


def build_module():
    """The flax module class (imports JAX lazily: ROS-side code can import this file cheaply)."""
    import flax.linen as nn
    import jax.numpy as jnp

    Encoder = encoder_module()

    class Classifier(nn.Module):
        arch: ArchConfig
        freeze_encoder: bool = False

        @nn.compact
        def __call__(self, images, train: bool = False):
            x = images.astype(jnp.float32) / 255.0 - 0.5
            z = Encoder(tuple(self.arch.channels), self.arch.embed_features, name="encoder")(x)
            if self.freeze_encoder:
                import jax

                z = jax.lax.stop_gradient(z)
            z = nn.LayerNorm(name="embed_norm")(z)
            z = nn.Dropout(self.arch.dropout, deterministic=not train)(z)
            z = nn.relu(nn.Dense(self.arch.hidden, name="hidden")(z))
            z = nn.Dropout(self.arch.dropout, deterministic=not train)(z)
            return nn.Dense(1, name="logit")(z)[:, 0]

    return Classifier


def init_params(arch: ArchConfig, seed: int = 0, freeze_encoder: bool = False):
    import jax
    import jax.numpy as jnp

    module = build_module()(arch, freeze_encoder)
    dummy = jnp.zeros((1, arch.image_size, arch.image_size, 3), jnp.uint8)
    return module, module.init(jax.random.PRNGKey(seed), dummy)["params"]


def save_checkpoint(out_dir: str | Path, info: CheckpointInfo, params) -> Path:
    from flax import serialization

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "params.msgpack").write_bytes(serialization.to_bytes(params))
    meta = {"format": FORMAT, "version": VERSION, **asdict(info)}
    meta["arch"]["channels"] = list(info.arch.channels)
    (out / "classifier.json").write_text(json.dumps(meta, indent=2))
    return out


def load_checkpoint(path: str | Path):
    """-> (CheckpointInfo, params). Errors name what is wrong with the directory."""
    from flax import serialization

    path = Path(path)
    meta_file, params_file = path / "classifier.json", path / "params.msgpack"
    if not meta_file.is_file() or not params_file.is_file():
        raise FileNotFoundError(f"{path}: not a reward classifier checkpoint (need classifier.json and "
                                "params.msgpack; train one with 'rldg reward train')")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_file}: format is {meta.get('format')!r}, expected {FORMAT!r}")
    if meta.get("version") != VERSION:
        raise ValueError(f"{meta_file}: version {meta.get('version')} is not supported (this code reads {VERSION})")
    arch = ArchConfig.from_dict(meta["arch"])
    info = CheckpointInfo(arch=arch, threshold=float(meta["threshold"]),
                          target_precision=float(meta["target_precision"]), tasks=list(meta.get("tasks", [])),
                          frozen_encoder=meta.get("frozen_encoder", ""), metrics=meta.get("metrics", {}))
    _, template = init_params(arch)
    params = serialization.from_bytes(template, params_file.read_bytes())
    return info, params


class SuccessClassifier:
    """Inference: ``probabilities(images uint8 [N,H,W,3]) -> float [N]``; one jitted forward per batch size."""

    def __init__(self, info: CheckpointInfo, params) -> None:
        import jax

        self.info = info
        self.params = params
        module = build_module()(info.arch)
        self._forward = jax.jit(lambda p, x: jax.nn.sigmoid(module.apply({"params": p}, x, train=False)))

    @classmethod
    def load(cls, path: str | Path) -> SuccessClassifier:
        return cls(*load_checkpoint(path))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        s = self.info.arch.image_size
        return (s, s, 3)

    @property
    def threshold(self) -> float:
        return self.info.threshold

    def check_images(self, images: np.ndarray) -> np.ndarray:
        images = np.asarray(images)
        if images.ndim == 3:
            images = images[None]
        if images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise ValueError(f"images must be [N, {', '.join(map(str, self.image_shape))}] uint8, got shape "
                             f"{list(images.shape)}")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8, got {images.dtype}")
        return images

    def probabilities(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        images = self.check_images(images)
        out = [np.asarray(self._forward(self.params, images[i:i + batch_size]))
               for i in range(0, len(images), batch_size)]
        return np.concatenate(out) if out else np.zeros(0, np.float32)


class SuccessLatch:
    """Success is declared once the probability has stayed at or above the threshold for ``k`` consecutive frames
    (one noisy frame never ends an episode). ``reset()`` at every episode start."""

    def __init__(self, k: int, threshold: float) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.k, self.threshold = int(k), float(threshold)
        self.run = 0

    def reset(self) -> None:
        self.run = 0

    def update(self, probability: float) -> bool:
        self.run = self.run + 1 if probability >= self.threshold else 0
        return self.run >= self.k
