"""When an automatic (scripted) intervener takes over in sim: configurable rules on the TCP trajectory.

* stuck: the TCP moved less than ``stuck_distance`` over the last ``stuck_steps`` steps (0 disables);
* region: the TCP left the box ``region_low``..``region_high`` (with ``region_enabled``);
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

    def update(self, tcp_pos: np.ndarray, success: bool = False) -> bool:
        """Feed this step's TCP position; True while the intervener should drive."""
        c = self.cfg
        p = np.asarray(tcp_pos, dtype=float)
        self.history.append(p)
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
        if fired:
            self.remaining, self.reason = c.min_steps, fired
            self.history.clear()  # the stuck window restarts after an intervention
        if self.remaining > 0:
            self.remaining -= 1
            return True
        return False
