"""Scripted demonstrators: ``expert`` and ``human_like``, plus ``random``. Same interface as learned policies.

Both follow the task's waypoints (privileged sim state) and differ only in *how*, modelled on what the RLDG paper
observed of human teleoperation (Sec. V, Fig. 8): humans use lower gains and noisier, smaller actions (clustered
near the centre of the action space), hesitate, descend slowly, align less precisely, and when stuck in contact keep
pushing without exploratory motion. The expert aligns to 0.3 mm, moves at full speed, and backs off and re-aligns
when it jams.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from rldg_ros.sim.geometry import quat_to_mat
from rldg_ros.spec import ACTION_MOTION, ACTION_POS, ACTION_ROT, GRIPPER_DIM


@dataclass(frozen=True)
class Style:
    name: str
    gain: float  # fraction of the remaining distance commanded per step
    max_action: float  # cap on |a| per axis (humans rarely push the SpaceMouse to its end stops)
    noise: float  # std of Gaussian action noise
    align_tolerance: float  # lateral error (m) accepted before a precise descent
    descent: float  # cap on |a| along the approach axis while descending
    hesitation: float  # probability of a zero action in a step
    explores_when_stuck: bool


EXPERT = Style("expert", gain=1.0, max_action=1.0, noise=0.0, align_tolerance=0.0003, descent=0.8,
               hesitation=0.0, explores_when_stuck=True)
HUMAN_LIKE = Style("human_like", gain=0.45, max_action=0.55, noise=0.06, align_tolerance=0.0010, descent=0.3,
                   hesitation=0.12, explores_when_stuck=False)
STYLES = {s.name: s for s in (EXPERT, HUMAN_LIKE)}
PRECISE_DESCENT = 0.35  # cap on |a_z| for precise contact moves (3.5 mm per step at the default action scale)


class Policy:
    """What every policy offers: ``reset(seed)`` at an episode start, ``act(obs) -> action (7,)``."""

    name = "policy"

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, obs: dict) -> np.ndarray:
        raise NotImplementedError


class RandomPolicy(Policy):
    name = "random"

    def __init__(self, env, seed: int | None = None) -> None:  # noqa: ARG002 - same signature as the others
        self.rng = np.random.default_rng(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)

    def act(self, obs: dict) -> np.ndarray:  # noqa: ARG002
        return self.rng.uniform(-1, 1, 7).astype(np.float32)


class ScriptedPolicy(Policy):
    """Follows ``env.task.waypoint(env, style)`` with the style's gains, noise and habits."""

    def __init__(self, env, style: Style | str = "expert", seed: int | None = None) -> None:
        self.env = env
        self.base_style = STYLES[style] if isinstance(style, str) else style
        self.name = self.base_style.name
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        self.rng = np.random.default_rng(seed)
        s = self.base_style
        if s.name == "human_like":  # each "operator episode" aligns to its own precision
            s = replace(s, align_tolerance=float(self.rng.uniform(0.4, 1.6) * s.align_tolerance))
        self.style = s
        self.backoff = 0
        self.stuck = 0
        self.last_tip_z: float | None = None

    def act(self, obs: dict) -> np.ndarray:  # noqa: ARG002 - scripted: reads privileged sim state
        env, s = self.env, self.style
        wp = env.task.waypoint(env, s)
        pos, quat = env.tcp_pose()
        rot = quat_to_mat(quat)
        scale = env.cfg.action_scale_pos

        # stuck = pushing down in contact without progress
        tip_z = float(pos[2])
        if wp.descend and self.last_tip_z is not None and self.last_tip_z - tip_z < 0.0002 \
                and env.contact_wrench()[2] > 2.0:
            self.stuck += 1
        else:
            self.stuck = 0
        self.last_tip_z = tip_z
        if s.explores_when_stuck and self.stuck >= 3:
            self.backoff, self.stuck = 3, 0

        delta = wp.pos - pos
        if self.backoff > 0:  # lift a little, re-centre (exploratory motion)
            self.backoff -= 1
            delta = np.array([delta[0], delta[1], 0.003])
        a_world = s.gain * delta / scale
        if wp.descend:  # contact moves: slower still where alignment matters (entering a hole, closing on an object)
            cap = min(s.descent, PRECISE_DESCENT) if wp.precise else s.descent
            a_world[2] = np.clip(a_world[2], -cap, cap)
        a = np.zeros(7)
        a[ACTION_POS] = rot.T @ a_world
        yaw_err = (wp.yaw - _yaw_of(rot) + np.pi) % (2 * np.pi) - np.pi
        a[ACTION_ROT] = rot.T @ np.array([0.0, 0.0, s.gain * yaw_err / env.cfg.action_scale_rot])
        a[ACTION_MOTION] = np.clip(a[ACTION_MOTION], -s.max_action, s.max_action)
        if s.noise:
            a[ACTION_MOTION] += self.rng.normal(0.0, s.noise, 6)
        if s.hesitation and self.rng.random() < s.hesitation:
            a[ACTION_MOTION] = 0.0
        a[GRIPPER_DIM] = wp.gripper
        return np.clip(a, -1.0, 1.0).astype(np.float32)


def _yaw_of(rot: np.ndarray) -> float:
    """Yaw of a downward-pointing TCP frame (angle of its x axis in the table plane)."""
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


def make_policy(name: str, env, seed: int | None = None) -> Policy:
    if name == "random":
        return RandomPolicy(env, seed)
    if name in STYLES:
        return ScriptedPolicy(env, name, seed)
    raise KeyError(f"unknown scripted policy {name!r}; choose from {['random', *STYLES]}")
