"""The robot behind ``robot_bridge``: one :class:`RobotBackend` protocol, two implementations.

The bridge (``robot_bridge.py``) owns the safety path and the messages every backend shares; a backend moves the
arm, reports its state and decides what drives the control ticks:

* :class:`SimBackend` (``sim_backend.py``): the MuJoCo cell on its own control-loop thread, plus the topics only
  a simulator has (wrist camera, ground-truth success, privileged goal features, task phases, scripted intervener).
* :class:`FrankaBackend` (``franka_backend.py``): franka_ros2's Cartesian impedance controller, ticked by a ROS
  timer.

A new robot: implement the protocol in a module of its own and add it to ``BACKENDS``.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np


class RobotBackend(Protocol):
    """What the bridge needs from a robot. Poses are base-frame (position, quaternion w x y z); ``apply`` takes a
    base-frame delta already limited and clipped by the bridge's safety path."""

    def start(self) -> None: ...  # begin calling node.tick() at the control rate
    def ready(self) -> bool: ...  # a tick before the robot reports a pose does nothing
    def now_s(self) -> float | None: ...  # its clock (sim time), or None for the ROS clock
    def wake(self) -> None: ...  # the command answering the last state arrived (lock-step)
    def request_reset(self, request) -> list: ...  # -> [success, message, episode id, seed]
    def pose(self) -> tuple[np.ndarray, np.ndarray]: ...
    def apply(self, dpos: np.ndarray, drot: np.ndarray, gripper: float | None) -> None: ...
    def hold(self) -> None: ...  # keep one fixed target while no fresh command comes
    def reset(self, task: str, seed: int) -> int: ...  # -> the seed used
    def advance(self) -> None: ...  # after a tick's command: the clock of a simulated robot moves on
    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]: ...  # (state, joints, joint vel, closed)
    def publish_before_state(self, stamp, episode_id: int) -> None: ...
    def publish_after_state(self, stamp, episode_id: int, episode_step: int) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


def _backends() -> dict[str, type]:
    from rldg_ros.nodes.franka_backend import FrankaBackend
    from rldg_ros.nodes.sim_backend import SimBackend

    return {"sim": SimBackend, "franka_ros2": FrankaBackend}


BACKENDS = _backends()
