"""The safety layer every robot command passes through (ROS-free): command gate, step limits, workspace box,
watchdog. The robot bridge applies it for every backend, so no policy, human or scripted source can bypass it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rldg_ros.config import param


@dataclass
class SafetyConfig:
    max_abs_action: float = param(1.0, min=0.1, max=10.0, help="refuse commands with any |a_i| above this")
    max_translation: float = param(0.02, min=0.001, max=0.1, help="largest TCP translation per step (m)")
    max_rotation: float = param(0.1, min=0.005, max=0.5, help="largest TCP rotation per step (rad)")
    workspace_low: list[float] = param([0.25, -0.35, 0.0], help="TCP box, base frame (m)")
    workspace_high: list[float] = param([0.85, 0.35, 0.5], help="TCP box, base frame (m)")
    watchdog_timeout: float = param(0.2, min=0.02, max=5.0, help="hold the pose when no command for this long (s)")


class CommandRefused(ValueError):
    """A command that must not reach the robot; the message says why, ``kind`` names the reason for counting."""

    def __init__(self, message: str, kind: str = "refused") -> None:
        super().__init__(message)
        self.kind = kind


def check_action(action, cfg: SafetyConfig | None = None, max_abs: float | None = None) -> np.ndarray:
    """The action as a float64 (7,) array, or :class:`CommandRefused` (wrong size, NaN/inf, oversized)."""
    limit = max_abs if max_abs is not None else (cfg or SafetyConfig()).max_abs_action
    try:
        a = np.asarray(action, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise CommandRefused(f"action is not a numeric array ({exc})", "not numeric") from None
    if a.shape != (7,):
        raise CommandRefused(f"action must have 7 values, got {a.size}", "wrong size")
    if not np.all(np.isfinite(a)):
        raise CommandRefused(f"action contains NaN/inf: {np.round(a, 4).tolist()}", "NaN/inf")
    worst = float(np.max(np.abs(a)))
    if worst > limit + 1e-6:
        raise CommandRefused(f"action component {worst:.3f} exceeds the limit {limit}: {np.round(a, 4).tolist()}",
                             "oversized")
    return a


def limit_step(delta_pos: np.ndarray, delta_rot: np.ndarray, cfg: SafetyConfig) -> tuple[np.ndarray, np.ndarray, bool]:
    """Scale translation/rotation deltas down to the per-step limits; returns (pos, rot, limited)."""
    limited = False
    n = float(np.linalg.norm(delta_pos))
    if n > cfg.max_translation:
        delta_pos = delta_pos * (cfg.max_translation / n)
        limited = True
    n = float(np.linalg.norm(delta_rot))
    if n > cfg.max_rotation:
        delta_rot = delta_rot * (cfg.max_rotation / n)
        limited = True
    return delta_pos, delta_rot, limited


def clip_to_workspace(target: np.ndarray, cfg: SafetyConfig) -> tuple[np.ndarray, bool]:
    clipped = np.clip(target, cfg.workspace_low, cfg.workspace_high)
    return clipped, bool(np.any(clipped != target))


class Watchdog:
    """Tells whether the last command is older than the timeout (times in seconds, any monotonic clock)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.last: float | None = None

    def feed(self, now: float) -> None:
        self.last = now

    def expired(self, now: float) -> bool:
        return self.last is None or now - self.last > self.timeout
