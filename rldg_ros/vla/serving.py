"""Serving a policy, ROS-free: the one interface (``act(observation, instruction)`` -> a 7-D action or an ``(H, 7)``
chunk), loading a policy from a checkpoint, and turning chunks into one action per step. The ``vla_policy`` node and
``rldg eval`` both use these, so a policy is executed the same way on the robot and in evaluation.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np


def check_image(observation: dict) -> np.ndarray:
    """The wrist image of an observation, or a clear error (the models expect HxWx3 uint8)."""
    img = observation.get("image")
    if img is None or img.ndim != 3 or img.shape[-1] != 3 or img.dtype != np.uint8:
        raise ValueError("observation['image'] must be an HxWx3 uint8 wrist image")
    return img


def make_policy(model: str, checkpoint: str, seed: int = 0):
    """(policy with act(observation, instruction) -> (7,) or (H, 7), uses_state)."""
    from rldg_ros.config import ConfigError

    if model not in ("octo", "openvla", "rl"):
        raise ConfigError(f"model {model!r}: use octo, openvla or rl")
    if not checkpoint:
        raise ConfigError("vla_policy needs checkpoint:=PATH (a generalist or RL checkpoint directory)")
    if not Path(checkpoint).exists():
        raise ConfigError(f"vla_policy: checkpoint {checkpoint} does not exist")
    if model == "octo":
        from rldg_ros.vla.train_octo import OctoPolicy

        policy = OctoPolicy(checkpoint, seed)
        return policy, bool(policy.cfg.proprio_dim)
    if model == "openvla":
        from rldg_ros.vla import openvla_style

        vla = openvla_style.load(checkpoint)
        return vla, bool(vla.cfg.proprio_dim)
    from rldg_ros.rl.policy import RLPolicy

    rl = RLPolicy(checkpoint)
    if rl.obs_mode == "privileged":
        raise ConfigError(f"{checkpoint}: a privileged-state policy needs the sim's goal features; serve it with "
                         "eval_rl instead")

    class _RL:
        name = "rl"

        def act(self, observation, instruction):  # noqa: ARG002 - a specialist ignores the instruction
            return rl.act(observation["state"], observation["image"] if rl.obs_mode == "pixels" else None)

        def reset(self):
            pass

    return _RL(), True


#: (chunk_mode, execute_steps, ensemble_decay) of the vla_policy node and of in-process evaluation: replan every
#: step from the chunk's first action (docs/generalists.md: on the same models uniform temporal ensembling succeeded
#: least, 2/120 episodes, against 15/120 for receding horizon 1 and 9/80 for whole chunks)
CHUNK_DEFAULTS = ("receding", 1, 0.0)


class ChunkExecutor:
    """Turns per-step chunk predictions into one action per step (receding horizon or temporal ensembling)."""

    def __init__(self, mode: str, execute_steps: int, decay: float) -> None:
        self.mode, self.execute_steps, self.decay = mode, execute_steps, decay
        self.reset()

    def reset(self) -> None:
        self.plan: deque[np.ndarray] = deque()
        self.chunks: list[tuple[int, np.ndarray]] = []  # (step made, chunk)
        self.step = 0

    def needs_prediction(self) -> bool:
        return self.mode == "ensemble" or not self.plan

    def add(self, chunk: np.ndarray) -> None:
        chunk = np.atleast_2d(chunk)
        if self.mode == "receding":
            self.plan.extend(chunk[: self.execute_steps])
        else:
            self.chunks = [(s, c) for s, c in self.chunks if self.step - s < len(c)] + [(self.step, chunk)]

    def next(self) -> np.ndarray:
        if self.mode == "receding":
            a = self.plan.popleft()
        else:
            preds, weights = [], []
            for s, c in self.chunks:
                age = self.step - s
                if age < len(c):
                    preds.append(c[age])
                    weights.append(np.exp(-self.decay * age))
            w = np.asarray(weights) / np.sum(weights)
            a = np.sum(np.asarray(preds) * w[:, None], axis=0)
        self.step += 1
        return np.asarray(a, np.float32)
