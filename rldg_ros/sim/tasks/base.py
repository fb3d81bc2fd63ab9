"""What a task is: scene objects, start distribution, success, and waypoints for the scripted demonstrators."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import mujoco
import numpy as np

if TYPE_CHECKING:
    from rldg_ros.sim.env import SimEnv

DOWN = np.array([0.0, 1.0, 0.0, 0.0])  # TCP z axis pointing at the table (rotation of pi about x)


@dataclass
class Start:
    """A sampled start state: TCP pose plus whatever the task randomises (object poses, ...)."""

    tcp_pos: np.ndarray
    tcp_yaw: float = 0.0
    objects: dict = field(default_factory=dict)


@dataclass
class Waypoint:
    """Where a demonstrator wants the TCP next, in world coordinates."""

    pos: np.ndarray
    yaw: float
    gripper: float = 1.0  # +1 closed, -1 open
    precise: bool = False  # the next motion needs fine alignment (slow down, hold tolerances)
    descend: bool = False  # a contact/insertion move along -z


class Task:
    """Base class. A task module subclasses it and registers variants in ``rldg_ros.sim.tasks.TASKS``."""

    family: str = "task"
    variant: str = ""
    instruction: str = ""
    time_limit: int = 100  # control steps (10 Hz)
    grasping: bool = False  # the gripper action is live (else the gripper stays closed on a held object)
    ws_low = np.array([0.30, -0.25, 0.02])  # TCP workspace box (world, m)
    ws_high = np.array([0.80, 0.25, 0.45])
    table_rgba = (0.42, 0.40, 0.37, 1.0)
    table_texture = "plain"  # or "checker"
    #: RLDG with a human stage (the paper's FMB assembly: "RL is used only for the insertion stage"): the RL
    #: specialist trains on the task ``rl_task`` names and acts only outside ``human_phases``; a (human-like)
    #: demonstrator does the steps in those phases, and relabelling keeps their recorded actions
    rl_task: str = ""  # "": the specialist trains on this task itself
    human_phases: tuple[str, ...] = ()

    @property
    def task_id(self) -> str:
        return f"{self.family}/{self.variant}" if self.variant else self.family

    # -- scene -------------------------------------------------------------------------------------------------
    def build(self, spec: mujoco.MjSpec, tcp_body: mujoco.MjsBody, tcp_pos: np.ndarray) -> None:
        """Add the task's objects; ``tcp_body``/``tcp_pos`` locate the TCP for held objects."""

    def sample_start(self, rng: np.random.Generator) -> Start:
        raise NotImplementedError

    def apply_start(self, env: SimEnv, start: Start) -> None:
        """Place objects (the robot is already at ``start.tcp_pos``)."""

    def during_settle(self, env: SimEnv, fraction: float) -> None:
        """Called every physics step of the reset's settling period (``fraction`` goes 0 -> 1)."""

    # -- outcome -----------------------------------------------------------------------------------------------
    def success(self, env: SimEnv) -> bool:
        raise NotImplementedError

    def phase(self, env: SimEnv) -> str:  # noqa: ARG002
        return "main"

    def privileged(self, env: SimEnv) -> np.ndarray:  # noqa: ARG002
        """Ground-truth goal features for privileged-state RL (sim only; ~unit scale)."""
        return np.zeros(0, np.float32)

    def goal_distance(self, env: SimEnv) -> float | None:  # noqa: ARG002
        """How far the task is from done (m, ground truth; sim only): the scripted intervener's progress rule."""
        return None

    # -- demonstrators -----------------------------------------------------------------------------------------
    def waypoint(self, env: SimEnv, style) -> Waypoint:
        """Next target for a scripted demonstrator with ``style`` (see ``rldg_ros.sim.policies``)."""
        raise NotImplementedError
