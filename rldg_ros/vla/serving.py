"""Serving a policy, ROS-free: loading one by kind from a checkpoint (the contract: ``rldg_ros.vla.policy``) and
turning chunks into one action per step. The ``vla_policy`` node and ``rldg eval`` both use these, so a policy is
executed the same way on the robot and in evaluation.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from rldg_ros.vla.policy import CHECKPOINT_FREE, LOADERS, Policy, register_policy


def load_policy(kind: str, checkpoint: str = "", seed: int = 0) -> Policy:
    """A registered policy kind (octo, openvla, rl; expert, human_like without a checkpoint) from its checkpoint
    folder; bad input raises ConfigError."""
    from rldg_ros.config import ConfigError

    if kind not in LOADERS:
        raise ConfigError(f"model {kind!r}: use {', '.join(sorted(LOADERS))}")
    if kind in CHECKPOINT_FREE:
        return LOADERS[kind](checkpoint, seed)
    if not checkpoint:
        raise ConfigError(f"a {kind} policy needs checkpoint:=PATH (a generalist or RL checkpoint directory)")
    if not Path(checkpoint).exists():
        raise ConfigError(f"checkpoint {checkpoint} does not exist")
    return LOADERS[kind](checkpoint, seed)


@register_policy("octo")
def _load_octo(checkpoint: str, seed: int) -> Policy:
    from rldg_ros.vla.train_octo import OctoPolicy

    return OctoPolicy(checkpoint, seed)


@register_policy("openvla")
def _load_openvla(checkpoint: str, seed: int) -> Policy:  # noqa: ARG001 - argmax decoding is deterministic
    from rldg_ros.vla import openvla_style

    return openvla_style.load(checkpoint)


class _RLSpecialist:
    """An RL specialist's checkpoint behind the policy contract (it ignores the instruction). One trained on
    privileged sim state is sim-only: it reads the goal features from the cell it is bound to."""

    name = "rl"
    uses_state = True

    def __init__(self, checkpoint: str) -> None:
        from rldg_ros.rl.policy import RLPolicy

        self.rl = RLPolicy(checkpoint)
        self.sim_only = self.rl.obs_mode == "privileged"
        self.env = None

    def bind(self, env, seed: int) -> None:  # noqa: ARG002 - the specialist acts with its mean
        self.env = env

    def act(self, observation: dict, instruction: str) -> np.ndarray:  # noqa: ARG002
        privileged = None
        if self.sim_only:
            if self.env is None:
                raise RuntimeError("a privileged-state RL policy needs the sim's goal features: bind(env, seed) first")
            privileged = self.env.task.privileged(self.env)
        return self.rl.act(observation["state"], observation.get("image") if self.rl.obs_mode == "pixels" else None,
                           privileged)

    def reset(self) -> None:
        pass


@register_policy("rl")
def _load_rl(checkpoint: str, seed: int) -> Policy:  # noqa: ARG001 - the specialist acts with its mean
    return _RLSpecialist(checkpoint)


class ScriptedDemonstrator:
    """A scripted demonstrator of the sim cell (``rldg_ros.sim.policies``: ``expert``, ``human_like``) behind the
    policy contract. Sim-only: it follows the task's waypoints from the cell's own state, so it is bound to the cell
    at each episode start (``bind(env, seed)``: its noise and hesitation are seeded by the episode)."""

    uses_state = False
    sim_only = True

    def __init__(self, style: str) -> None:
        self.name = style
        self.impl = None

    def bind(self, env, seed: int) -> None:
        from rldg_ros.sim.policies import make_policy

        self.impl = make_policy(self.name, env, seed=seed)

    def act(self, observation: dict, instruction: str) -> np.ndarray:  # noqa: ARG002 - it reads the cell
        if self.impl is None:
            raise RuntimeError(f"{self.name}: a scripted demonstrator acts only in the sim: bind(env, seed) first")
        return self.impl.act(observation.get("sim", observation))

    def reset(self) -> None:
        pass


def _scripted_loader(style: str):
    def load(checkpoint: str, seed: int) -> Policy:  # noqa: ARG001 - seeded per episode by bind()
        return ScriptedDemonstrator(style)

    return load


for _style in ("expert", "human_like"):
    register_policy(_style, needs_checkpoint=False)(_scripted_loader(_style))


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
