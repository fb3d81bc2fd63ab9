"""The one interface every generalist offers to the evaluation harness and the VLA node.

``act(observation, instruction) -> action`` where ``observation`` holds ``image`` (HxWx3 uint8 wrist image) and
``state`` (robot state), and the result is one 7-D rldg action in robot units (wrist-frame deltas in [-1, 1] and
the gripper) or an action chunk ``(H, 7)`` to be executed in order. Models predict **normalized** actions;
:class:`GeneralistPolicy` un-normalizes them here, with the statistics saved next to the checkpoint, and refuses
non-finite output (the caller holds the robot).
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from rldg_ros.vla.normalize import Normalizer


class Policy(Protocol):
    name: str

    def act(self, observation: dict[str, np.ndarray], instruction: str) -> np.ndarray: ...

    def reset(self) -> None: ...


class GeneralistPolicy:
    """Wraps a model's ``predict_normalized(observation, instruction) -> (D,) or (H, D)`` with un-normalization."""

    def __init__(self, name: str, model, action_norm: Normalizer) -> None:
        self.name = name
        self.model = model
        self.norm = action_norm

    def reset(self) -> None:
        if hasattr(self.model, "reset"):
            self.model.reset()

    def act(self, observation: dict[str, np.ndarray], instruction: str) -> np.ndarray:
        img = observation.get("image")
        if img is None or img.ndim != 3 or img.shape[-1] != 3 or img.dtype != np.uint8:
            raise ValueError("observation['image'] must be an HxWx3 uint8 wrist image")
        y = np.asarray(self.model.predict_normalized(observation, instruction), np.float32)
        if not np.all(np.isfinite(y)):
            raise ValueError(f"{self.name}: the model produced NaN/inf actions")
        a = self.norm.unnormalize(y)
        return np.clip(a, -1.0, 1.0)
