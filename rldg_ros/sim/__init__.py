"""The MuJoCo Franka cell (ROS-free): Panda + Robotiq 2F-85 from gym-hil's shipped assets, our own Cartesian
impedance controller, the paper's tasks, and scripted demonstrators.

    from rldg_ros.sim import make_env
    env = make_env("connector_insertion/usb")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(action)   # 7-D wrist-frame delta + gripper
"""

import os

# headless rendering by default (must be set before mujoco creates a GL context)
os.environ.setdefault("MUJOCO_GL", "egl")

from rldg_ros.sim.env import CellConfig, SimEnv, make_env  # noqa: E402
from rldg_ros.sim.tasks import TASKS, task_ids  # noqa: E402

__all__ = ["CellConfig", "SimEnv", "TASKS", "make_env", "task_ids"]
