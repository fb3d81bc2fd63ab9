"""The one policy contract, ROS-free and import-light: what the ``vla_policy`` node, ``rldg eval`` and the experiment
call, whatever the policy is. Every learned policy kind is registered by name with a loader from a checkpoint folder
(``rldg_ros.vla.serving`` registers octo, openvla and rl); loading checks the folder (octo-style: its
``example_batch`` against its config) and refuses what does not fit by name.

A policy has ``name``, ``uses_state`` (whether it reads ``observation["state"]``), ``reset()`` at each episode start,
and ``act(observation, instruction)`` -> one 7-D action or an ``(H, 7)`` chunk in the cell's action space
(``rldg_ros.spec``). ``observation`` has ``image`` (the HxWx3 uint8 wrist image) and ``state`` (the robot state).

Sim-only policies (the scripted demonstrators ``expert`` / ``human_like``, and RL specialists trained on privileged
sim state) read the simulator itself: they have ``sim_only = True`` and ``bind(env, seed)``, which an in-process
evaluation calls at each episode start; the ``vla_policy`` node refuses them. Kinds registered with
``needs_checkpoint=False`` (the scripted ones) load without a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np


class Policy(Protocol):
    name: str
    uses_state: bool

    def act(self, observation: dict, instruction: str) -> np.ndarray: ...

    def reset(self) -> None: ...


#: kind -> loader(checkpoint, seed) -> Policy
LOADERS: dict[str, Callable[[str, int], Policy]] = {}
#: kinds that load without a checkpoint folder (scripted)
CHECKPOINT_FREE: set[str] = set()


def register_policy(kind: str, needs_checkpoint: bool = True) -> Callable:
    """Decorator: ``@register_policy("octo")`` on a loader ``(checkpoint: str, seed: int) -> Policy``."""

    def deco(fn: Callable[[str, int], Policy]) -> Callable[[str, int], Policy]:
        LOADERS[kind] = fn
        if not needs_checkpoint:
            CHECKPOINT_FREE.add(kind)
        return fn

    return deco


def is_sim_only(policy) -> bool:
    return bool(getattr(policy, "sim_only", False))


def check_image(observation: dict) -> np.ndarray:
    """The wrist image of an observation, or a clear error (the models expect HxWx3 uint8)."""
    img = observation.get("image")
    if img is None or img.ndim != 3 or img.shape[-1] != 3 or img.dtype != np.uint8:
        raise ValueError("observation['image'] must be an HxWx3 uint8 wrist image")
    return img
