"""What the panel shows, and the calls it can make (independent of Qt and of ROS)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class PanelState:
    image: np.ndarray | None = None  # HxWx3 uint8 wrist image
    reward_probability: float | None = None
    reward_success: bool = False
    episode_id: int = 0
    episode_running: bool = False
    episode_elapsed_s: float = 0.0
    episodes_done: int = 0
    successes: int = 0
    outcomes: list[bool] = field(default_factory=list)  # per finished episode, oldest first
    source: int = 3  # Action.SOURCE_* of the last executed command (3 = hold)
    source_name: str = ""
    intervention: bool = False
    message: str = ""  # the last service answer


class PanelBackend(Protocol):
    def snapshot(self) -> PanelState: ...
    def episode_command(self, command: int) -> None: ...
    def reset(self) -> None: ...
    def set_mode(self, mode: int) -> None: ...
    def save_checkpoint(self) -> None: ...


def rolling_success_rate(outcomes: list[bool], window: int = 10) -> list[float]:
    """Success rate over the last ``window`` episodes, after each episode."""
    out = []
    for i in range(len(outcomes)):
        chunk = outcomes[max(0, i + 1 - window):i + 1]
        out.append(sum(chunk) / len(chunk))
    return out
