"""The sim cell as ``robot_bridge``'s sim backend drives it (ROS-free): base-frame deltas already limited and
clipped by the bridge's safety path in, the 20-D state out; holds keep one fixed target; the scripted intervener
(which needs the cell's ground truth) lives here."""

from __future__ import annotations

import numpy as np

from rldg_ros.hil.rules import InterventionRules
from rldg_ros.sim.geometry import quat_to_mat
from rldg_ros.spec import ACTION_DIM, ACTION_POS, ACTION_ROT, GRIPPER_DIM


class SimCell:
    """The MuJoCo cell behind the bridge (made and stepped on the control-loop thread: MuJoCo's GL context is bound
    to the thread that made it). ``cfg``: the bridge's config (task, image_size, control_hz, action scales, seed,
    the scripted intervener's settings)."""

    def __init__(self, cfg) -> None:
        from rldg_ros.sim import make_env
        from rldg_ros.sim.env import WRIST_CAMERA, CellConfig

        self.env = make_env(cfg.task, CellConfig(image_size=cfg.image_size, control_hz=cfg.control_hz,
                                                 action_scale_pos=cfg.action_scale_pos,
                                                 action_scale_rot=cfg.action_scale_rot))
        self.fovy = float(self.env.model.cam_fovy[self.env.model.camera(WRIST_CAMERA).id])
        self.obs, _ = self.env.reset(seed=None if cfg.seed < 0 else cfg.seed)
        self.gripper = self.env.gripper_cmd
        self.holding = False  # True: a hold keeps its fixed target; False: the next hold targets where the arm is
        self.success = False
        self.scripted = None
        if cfg.scripted.policy != "none":  # the automatic intervener needs the cell's ground truth: it lives here
            from rldg_ros.sim.policies import make_policy

            self.rules = InterventionRules(cfg.scripted)
            self.scripted = make_policy(cfg.scripted.policy, self.env, self.env.seed_used)

    def intervention(self) -> np.ndarray | None:
        """The scripted demonstrator's action when a rule fires this step, else None."""
        if self.scripted is None or not self.rules.update(self.env.tcp_pose()[0], self.success,
                                                          self.env.task.goal_distance(self.env)):
            return None
        return self.scripted.act(self.obs)

    def reset(self, task: str, seed: int) -> int:
        if task and task != self.env.task.task_id:
            from rldg_ros.sim import make_env

            cfg = self.env.cfg
            self.env.close()
            self.env = make_env(task, cfg)
        self.obs, _ = self.env.reset(seed=None if seed < 0 else seed)
        self.gripper = self.env.gripper_cmd
        self.holding = False
        self.success = False
        if self.scripted is not None:
            self.rules.reset()
            self.scripted.reset(self.env.seed_used)
        return int(self.env.seed_used)

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self.env.tcp_pose()

    def apply(self, dpos: np.ndarray, drot: np.ndarray, gripper: float | None) -> None:
        """Move by a base-frame delta (already limited and clipped)."""
        _, quat = self.env.tcp_pose()
        rot = quat_to_mat(quat)
        a = np.zeros(ACTION_DIM)
        a[ACTION_POS] = rot.T @ dpos / self.env.cfg.action_scale_pos
        a[ACTION_ROT] = rot.T @ drot / self.env.cfg.action_scale_rot
        if gripper is not None:
            self.gripper = gripper
        a[GRIPPER_DIM] = self.gripper
        self.obs, _, self.success, _, _ = self.env.step(np.clip(a, -1.0, 1.0))
        self.holding = False

    def hold(self) -> None:
        """The first tick of a hold targets where the arm is; the next ones keep that target (as FrankaBackend)."""
        if not self.holding:
            self.apply(np.zeros(3), np.zeros(3), None)
            self.holding = True
            return
        a = np.zeros(ACTION_DIM)
        a[GRIPPER_DIM] = self.gripper
        self.obs, _, self.success, _, _ = self.env.step(a, retarget=False)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        e = self.env
        return (self.obs["state"], e.data.qpos[e.arm_qadr].copy(), e.data.qvel[e.arm_dofs].copy(),
                e.gripper_cmd > 0)

    def close(self) -> None:
        self.env.close()
