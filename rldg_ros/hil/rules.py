"""When an automatic (scripted) intervener takes over in sim: configurable rules on the TCP trajectory.

* stuck: the TCP moved less than ``stuck_distance`` over the last ``stuck_steps`` steps (0 disables);
* region: the TCP left the box ``region_low``..``region_high`` (with ``region_enabled``);
* progress: the task's distance to its goal (sim ground truth) has not improved on its episode best by
  ``progress_distance`` for ``progress_steps`` steps (0 disables): a policy that wanders or dithers near the goal
  without ever being still, which the stuck rule misses, gets taken over as a watching human would;
* always: every step (teleop demonstrations driven by a scripted demonstrator).

Once a rule fires, the intervener keeps control for at least ``min_steps`` steps (a human would too).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from rldg_ros.config import param


@dataclass
class InterventionRulesConfig:
    policy: str = param("none", choices=("none", "expert", "human_like"), help="scripted intervener")
    always: bool = param(False, help="intervene at every step (scripted teleop)")
    stuck_steps: int = param(20, min=0, max=1000, help="window of the stuck rule in steps (0: off)")
    stuck_distance: float = param(0.003, min=0.0, max=0.1, help="less TCP travel than this in the window = stuck")
    progress_steps: int = param(0, min=0, max=1000, help="window of the no-progress rule in steps (0: off)")
    progress_distance: float = param(0.003, min=0.0, max=0.1,
                                     help="the goal distance must beat its episode best by this much (m)")
    region_enabled: bool = param(False, help="intervene when the TCP leaves the region box")
    region_low: list[float] = param([0.3, -0.3, 0.0], help="region box low corner (m)")
    region_high: list[float] = param([0.8, 0.3, 0.5], help="region box high corner (m)")
    min_steps: int = param(10, min=1, max=1000, help="once fired, intervene at least this many steps")


class InterventionRules:
    def __init__(self, cfg: InterventionRulesConfig) -> None:
        if len(cfg.region_low) != 3 or len(cfg.region_high) != 3:
            raise ValueError("region_low and region_high need 3 values each (x, y, z)")
        self.cfg = cfg
        self.reset()

    def reset(self) -> None:
        self.history: deque[np.ndarray] = deque(maxlen=max(self.cfg.stuck_steps, 1) + 1)
        self.remaining = 0
        self.reason = ""
        self.best = np.inf  # the episode's best goal distance, and the steps since it last improved
        self.since_best = 0

    def update(self, tcp_pos: np.ndarray, success: bool = False, goal_distance: float | None = None) -> bool:
        """Feed this step's TCP position (and the goal distance, if known); True while the intervener drives."""
        c = self.cfg
        p = np.asarray(tcp_pos, dtype=float)
        self.history.append(p)
        if goal_distance is not None and np.isfinite(goal_distance):
            if goal_distance < self.best - c.progress_distance:
                self.best, self.since_best = float(goal_distance), 0
            else:
                self.since_best += 1
        if success:
            self.remaining = 0
            return False
        fired = ""
        if c.always:
            fired = "always"
        elif c.region_enabled and (np.any(p < c.region_low) or np.any(p > c.region_high)):
            fired = "left the region"
        elif c.stuck_steps and len(self.history) > c.stuck_steps:
            travel = float(np.max(np.linalg.norm(np.array(self.history) - self.history[0], axis=1)))
            if travel < c.stuck_distance:
                fired = "stuck"
        if not fired and c.progress_steps and self.since_best >= c.progress_steps:
            fired = "no progress"
        if fired:
            self.remaining, self.reason = c.min_steps, fired
            self.history.clear()  # the stuck window restarts after an intervention
            self.since_best = 0
        if self.remaining > 0:
            self.remaining -= 1
            return True
        return False
