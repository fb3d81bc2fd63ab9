"""A trained specialist as a plain function: checkpoint -> ``act(state, image, privileged) -> 7-D action``.

Used off-line, e.g. to relabel the actions of recorded episodes with an RL policy (the paper's "human states + RL
actions" dataset). Deterministic (the actor's mean, the grasp critic's argmax).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class RLPolicy:
    def __init__(self, checkpoint: str | Path) -> None:
        import jax

        from rldg_ros.rl.agent import AgentConfig, SACAgent, from_bytes
        from rldg_ros.rl.learner import load_actor_checkpoint
        from rldg_ros.rl.spaces import LAYOUTS, ObsConfig

        meta, raw = load_actor_checkpoint(checkpoint)
        self.meta = meta
        self.layout = meta["layout"]
        self.obs_mode = meta["obs_mode"]
        self.obs_cfg = ObsConfig(**meta["obs"])
        self.agent = SACAgent(AgentConfig(**meta["agent"]), int(meta["state_dim"]), len(LAYOUTS[self.layout]),
                              image_size=self.obs_cfg.image_size if self.obs_mode == "pixels" else None,
                              grasp=bool(meta["grasp"]), discount=float(meta["discount"]))
        self.aparams = self.agent.actor_params(from_bytes(self.agent.init(0), raw)["params"])
        self.grasp = bool(meta["grasp"])
        self.rng = jax.random.PRNGKey(0)

    def act(self, state: np.ndarray, image: np.ndarray | None = None, privileged: np.ndarray | None = None,
            gripper: float = 1.0) -> np.ndarray:
        """The deterministic 7-D rldg action; ``gripper`` is kept for tasks without a grasp decision."""
        from rldg_ros.rl.demos import observation
        from rldg_ros.rl.spaces import to_env_action

        obs = observation(np.asarray(state, np.float32), image, privileged, self.obs_cfg)
        a, g = self.agent.act(self.aparams, obs, self.rng, deterministic=True)
        return to_env_action(a, self.layout, (1.0 if g else -1.0) if self.grasp else gripper)
