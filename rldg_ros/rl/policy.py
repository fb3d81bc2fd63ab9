"""A trained specialist as a plain function: checkpoint -> ``act(state, image, privileged) -> 7-D action``.

Used off-line, e.g. to relabel the actions of recorded episodes with an RL policy (the paper's "human states + RL
actions" dataset), and behind the policy contract (``rldg_ros.vla.serving``). Deterministic (the actor's mean, the
grasp critic's argmax). The same policy object as the rl_actor node's (``ActorPolicy``), so a checkpoint acts the same
way everywhere, a frozen generalist backbone included.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rldg_ros.spec import GRIPPER_DIM


class RLPolicy:
    def __init__(self, checkpoint: str | Path) -> None:
        from rldg_ros.rl.actor_policy import ActorPolicy

        self.policy = ActorPolicy(eval_only=True)
        self.policy.load_checkpoint(str(checkpoint))
        self.meta = self.policy.meta
        self.layout = self.meta["layout"]
        self.obs_mode = self.meta["obs_mode"]
        self.obs_cfg = self.policy.obs_cfg
        self.grasp = bool(self.meta["grasp"])

    def act(self, state: np.ndarray, image: np.ndarray | None = None, privileged: np.ndarray | None = None,
            gripper: float = 1.0) -> np.ndarray:
        """The deterministic 7-D rldg action; ``gripper`` is kept for tasks without a grasp decision."""
        obs = self.policy.observation(np.asarray(state, np.float32), image, privileged)
        a = np.asarray(self.policy.act(obs, is_eval=True, first_step=False), np.float32)
        if not self.grasp:
            a[GRIPPER_DIM] = gripper
        return a
