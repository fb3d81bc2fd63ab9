"""The RL actor's policy, ROS-free: built from a learner's description of itself (observation mode, action layout,
agent config), its parameters from a learner checkpoint or a parameter blob the learner streamed, and ``act``
turning an observation into the cell's 7-D action (exploration, rollout noise and grasp epsilon included)."""

from __future__ import annotations

import numpy as np

from rldg_ros.rl.agent import AgentConfig
from rldg_ros.rl.spaces import RolloutNoise

#: the parts of a learner's meta that decide the network: a blob whose meta differs in these rebuilds the agent
_SHAPE_KEYS = ("obs", "layout", "state_dim", "agent", "grasp", "backbone")


class ActorPolicy:
    def __init__(self, seed: int = 0, eval_only: bool = False, sample_actions: bool = False,
                 rollout_noise: float = 0.0, rollout_noise_steps: float = 1.0, grasp_epsilon: float = -1.0) -> None:
        import jax

        self.jax = jax
        self.eval_only, self.sample_actions, self.grasp_epsilon = eval_only, sample_actions, grasp_epsilon
        self.rng = jax.random.PRNGKey(seed)
        self.nrng = np.random.default_rng(seed)
        self.noise = (RolloutNoise(rollout_noise, rollout_noise_steps, self.nrng)
                      if eval_only and rollout_noise > 0 else None)
        self.agent = None
        self.meta: dict | None = None
        self.backbone = None  # a frozen generalist the policy reads through (rldg_ros.rl.backbone)
        self.obs_cfg = None
        self.template = None
        self.params = None
        self.version = -1

    @property
    def ready(self) -> bool:
        return self.params is not None

    @property
    def obs_mode(self) -> str | None:
        return None if self.meta is None else self.meta["obs_mode"]

    def build(self, meta: dict) -> bool:
        """The agent a learner with this meta trains; -> True if it was (re)built."""
        if self._same_network(meta):
            return False
        self.agent, self.obs_cfg, self.template = self._make(meta)
        self.backbone = _backbone(meta)
        self.meta = meta
        return True

    def _same_network(self, meta: dict) -> bool:
        return self.meta is not None and all(meta.get(k) == self.meta.get(k) for k in _SHAPE_KEYS)

    @staticmethod
    def _make(meta: dict):
        from rldg_ros.rl.agent import SACAgent
        from rldg_ros.rl.spaces import LAYOUTS, ObsConfig

        external = int(meta.get("embed_dim") or 0)
        agent = SACAgent(AgentConfig(**meta["agent"]), int(meta["state_dim"]), len(LAYOUTS[meta["layout"]]),
                         image_size=meta["obs"]["image_size"] if meta["obs_mode"] == "pixels" and not external
                         else None, grasp=bool(meta["grasp"]), discount=float(meta["discount"]), embed_dim=external)
        return agent, ObsConfig(**meta["obs"]), agent.actor_params(agent.init(0)["params"])

    def receive(self, meta: dict, blob: bytes, version: int) -> tuple[bool, bool]:
        """A learner's streamed parameters with its meta: the agent is rebuilt if the meta's network differs, and
        nothing changes if the blob does not fit it (raises). -> (rebuilt, first parameters)."""
        from rldg_ros.rl.agent import from_bytes

        if self._same_network(meta):
            params = from_bytes(self.template, blob)
            rebuilt = False
        else:
            agent, obs_cfg, template = self._make(meta)
            params = from_bytes(template, blob)
            self.backbone = _backbone(meta)
            self.agent, self.obs_cfg, self.template, self.meta = agent, obs_cfg, template, meta
            rebuilt = True
        return rebuilt, self.use(params, version)

    def required_parts(self) -> set[str]:
        """The inputs of a control step this policy needs besides the state and the reward."""
        mode = self.obs_mode
        return {"image"} if mode == "pixels" else {"privileged"} if mode == "privileged" else set()

    def describe(self) -> str:
        m = self.meta or {}
        label = " (PRIVILEGED sim state)" if self.obs_mode == "privileged" else ""
        return f"obs {self.obs_mode}{label}, layout {m.get('layout')}, grasp {m.get('grasp')}"

    def load_checkpoint(self, path: str) -> None:
        from rldg_ros.rl.agent import from_bytes
        from rldg_ros.rl.learner import load_actor_checkpoint

        meta, raw = load_actor_checkpoint(path)
        self.build(meta)
        state = from_bytes(self.agent.init(0), raw)
        self.params = self.agent.actor_params(state["params"])
        self.version = int(meta["step"])

    def use(self, params, version: int) -> bool:
        """Act with these parameters from now on; -> True if they are the first."""
        first = self.params is None
        self.params, self.version = params, int(version)
        return first

    def observation(self, state: np.ndarray, image: np.ndarray | None, privileged: np.ndarray | None) -> dict:
        """The agent's observation; raises ValueError (naming the problem) on one it must refuse."""
        from rldg_ros.rl.demos import observation

        obs = observation(state, image, privileged, self.obs_cfg)
        if self.backbone is not None:  # the frozen generalist's embedding of this frame is what the head reads
            obs = {"state": obs["state"], "embedding": self.backbone.encode(obs["image"][None],
                                                                            obs["raw_state"][None])[0]}
        self.agent.check_observation(obs)
        return obs

    def act(self, obs: dict, is_eval: bool, first_step: bool) -> np.ndarray:
        from rldg_ros.rl.spaces import to_env_action

        self.rng, k = self.jax.random.split(self.rng)
        sample = self.eval_only and self.sample_actions  # collecting data from the policy's distribution
        a, g = self.agent.act(self.params, obs, k, deterministic=is_eval and not sample)
        if self.noise is not None:  # collection with rollout noise: states off the specialist's path
            if first_step:
                self.noise.reset()
            a = np.asarray(a) + self.noise.sample(np.shape(a))
        eps = self.grasp_epsilon if self.grasp_epsilon >= 0 else self.meta["agent"]["grasp_epsilon"]
        if self.meta["grasp"] and not is_eval and self.nrng.random() < eps:
            g = int(self.nrng.integers(0, 2))
        return to_env_action(a, self.meta["layout"], 1.0 if g else -1.0)


def _backbone(meta: dict):
    """The frozen generalist a learner with this meta trains on (rldg_ros.rl.backbone), or None."""
    if not meta.get("backbone"):
        return None
    from rldg_ros.rl.learner import make_backbone

    return make_backbone(meta["backbone"], meta["task"])
