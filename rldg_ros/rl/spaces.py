"""What the RL agent sees and controls, per task: observation mode, action layout, discount.

Observation modes (``ObsConfig.mode``):

* ``pixels``: the 128x128 wrist image (CNN, random-crop augmentation) + proprio, as HIL-SERL;
* ``state``: proprio only (TCP pose, twist, wrench, gripper width), all a real robot measures;
* ``privileged``: proprio + the sim's ground-truth goal (port / object pose relative to the tool). **Sim only**:
  for fast sim runs; it is labelled as such in every log, checkpoint and report and a real robot cannot supply it.

Action layout: the continuous dimensions of the 7-D rldg action (wrist-frame deltas, see ``rldg_ros.sim.env``) the
policy drives, the rest held at 0; ``grasp`` adds a discrete open/close gripper decision (grasp critic).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rldg_ros import spec
from rldg_ros.config import param

LAYOUTS: dict[str, tuple[int, ...]] = {
    "xyz": (0, 1, 2),
    "xyz_yaw": (0, 1, 2, 5),
    "pose": (0, 1, 2, 3, 4, 5),
}
OBS_MODES = ("pixels", "state", "privileged")
STATE_DIM = spec.STATE_DIM


@dataclass
class TaskRL:
    """Per-task RL settings (defaults for the sim tasks in :func:`task_defaults`)."""

    layout: str = param("pose", choices=tuple(LAYOUTS), help="continuous action dimensions the policy drives")
    grasp: bool = param(False, help="discrete gripper decision (grasp critic + grasp penalty)")
    discount: float = param(0.97, min=0.5, max=0.999, help="discount per control step")
    time_limit: int = param(100, min=1, help="episode length limit (control steps)")
    bc_weight: float = param(0.0, min=0.0, help="actor BC term on intervened/demo steps (AgentConfig.bc_weight)")


def task_defaults(task_id: str) -> TaskRL:
    """HIL-SERL-like defaults: discount 0.97, 0.98 for longer tasks; the action dimensions each task needs."""
    family = task_id.split("/")[0]
    limit = 100
    try:
        from rldg_ros.sim.tasks import make_task

        t = make_task(task_id)
        limit = int(t.time_limit)
    except (ImportError, KeyError):
        pass
    if family == "connector_insertion":  # port at a fixed pose, connector pre-grasped and aligned
        return TaskRL("xyz", False, 0.97, limit)
    # the FMB board moves over 35x35 cm and turns +-15 deg: the actor must map the goal to a precise action over a
    # wide range, which the sparse reward alone did not teach it in 25k steps (0/55 evaluation); a BC term on the
    # operator's (intervener's, demos') actions did (docs/rl/fmb_insertion_ablation, docs/rl/fmb_insertion)
    if family == "fmb_insertion":  # board rotated +-15 deg: yaw matters
        return TaskRL("xyz_yaw", False, 0.98, limit, bc_weight=1.0)
    if family == "fmb_assembly":
        return TaskRL("xyz_yaw", "insertion" not in task_id, 0.98, limit, bc_weight=1.0)
    if family == "pick_place":  # the object lies anywhere in 18x18 cm: the same reason as FMB
        return TaskRL("xyz", True, 0.98, limit, bc_weight=1.0)
    return TaskRL("pose", False, 0.97, limit)


@dataclass
class ObsConfig:
    mode: str = param("state", choices=OBS_MODES, help="pixels | state (proprio) | privileged (sim only, labelled)")
    image_size: int = param(128, min=32, max=256, help="policy image size (rldg/wrist/image)")
    pos_center: list[float] = param([0.55, 0.0, 0.1], help="TCP position normalisation centre (m)")
    pos_scale: float = param(0.02, min=0.001, help="TCP position normalisation scale (m): small enough that the "
                             "sub-millimetre alignment of an insertion is visible to the networks")
    force_scale: float = param(10.0, min=0.01, help="wrench normalisation (N, Nm)")
    auto_center: bool = param(True, help="sim tasks: centre from the task's workspace box")


def resolve_obs(cfg: ObsConfig, task_id: str) -> ObsConfig:
    """The sim task's workspace box centres the position normalisation (unless ``auto_center`` is off)."""
    if not cfg.auto_center:
        return cfg
    try:
        from rldg_ros.sim.tasks import make_task

        t = make_task(task_id)
    except (ImportError, KeyError):
        return cfg
    lo, hi = np.asarray(t.ws_low, float), np.asarray(t.ws_high, float)
    return ObsConfig(cfg.mode, cfg.image_size, [float(v) for v in (lo + hi) / 2], cfg.pos_scale, cfg.force_scale,
                     False)


def proprio_features(state: np.ndarray, cfg: ObsConfig) -> np.ndarray:
    """20-D robot state (STATE_NAMES layout) -> the normalised proprio vector the networks read."""
    s = np.asarray(state, dtype=np.float32).reshape(-1, STATE_DIM)
    pos = np.clip((s[:, 0:3] - np.asarray(cfg.pos_center, np.float32)) / cfg.pos_scale, -20.0, 20.0)
    quat = s[:, 3:7] * np.where(s[:, 3:4] < 0, -1.0, 1.0).astype(np.float32)  # q and -q are one rotation
    twist = np.concatenate([s[:, 7:10] * 10.0, s[:, 10:13]], axis=1)  # 0.1 m/s and 1 rad/s -> ~1
    wrench = np.clip(s[:, 13:19] / cfg.force_scale, -5.0, 5.0)
    grip = s[:, 19:20] / 0.085
    out = np.concatenate([pos, quat, twist, wrench, grip], axis=1).astype(np.float32)
    return out if np.ndim(state) > 1 else out[0]


def to_env_action(a: np.ndarray, layout: str, gripper: float) -> np.ndarray:
    """Policy output (layout dims, in [-1, 1]) + gripper (+1 close / -1 open) -> the 7-D rldg action."""
    full = np.zeros(7, np.float32)
    full[list(LAYOUTS[layout])] = np.clip(a, -1.0, 1.0)
    full[spec.GRIPPER_DIM] = gripper
    return full


def from_env_action(full: np.ndarray, layout: str) -> tuple[np.ndarray, int]:
    """Executed 7-D action -> (layout dims, gripper class 0 = open / 1 = close)."""
    full = np.asarray(full, np.float32)
    return np.clip(full[list(LAYOUTS[layout])], -1.0, 1.0), int(full[spec.GRIPPER_DIM] > 0)


class RolloutNoise:
    """Exploration noise added to a policy's actions while its rollouts are recorded (``rl_actor`` rollout_noise):
    Gaussian with standard deviation ``std`` (action units), correlated over ``steps`` control steps as an
    Ornstein-Uhlenbeck process (1: white). Label the recorded states with the policy's own action (``convert
    --relabel``): noise injection as in DART (Laskey et al., 2017)."""

    def __init__(self, std: float, steps: float = 1.0, rng: np.random.Generator | None = None) -> None:
        if std < 0 or steps < 1:
            raise ValueError(f"rollout noise needs std >= 0 and steps >= 1, got std {std}, steps {steps}")
        self.std, self.keep = float(std), 1.0 - 1.0 / float(steps)
        self.rng = rng if rng is not None else np.random.default_rng()
        self.value: np.ndarray | None = None

    def reset(self) -> None:
        """A new episode: the next sample starts afresh from the stationary distribution."""
        self.value = None

    def sample(self, shape: tuple[int, ...]) -> np.ndarray:
        fresh = self.rng.normal(0.0, self.std, shape)
        if self.value is None or self.value.shape != tuple(shape):
            self.value = fresh
        else:  # x' = k x + sqrt(1 - k^2) e keeps the stationary std at ``std``
            self.value = self.keep * self.value + np.sqrt(1.0 - self.keep ** 2) * fresh
        return self.value.copy()
