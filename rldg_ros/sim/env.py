"""``SimEnv``: the Franka cell as a gymnasium environment at the policy rate (10 Hz).

Action (7,): translation (3) and rotation (3, axis-angle) deltas **in the wrist (TCP) frame**, normalised to
[-1, 1] and scaled by ``action_scale_pos`` / ``action_scale_rot``, plus the gripper (> 0 closes). As in HIL-SERL,
the new target position is the *measured* TCP position plus the delta, so the steady force in contact is at most
stiffness x one step; the target orientation is the previous target rotated by the delta. Both stay in the task's
workspace box. NaN/inf or wrongly-shaped actions raise
``ValueError``; values outside [-1, 1] are clipped.

Observation: ``wrist`` (HxWx3 uint8), optional ``front``, and ``state`` (float32, names in ``STATE_NAMES``):
TCP position, TCP quaternion (w, x, y, z), TCP twist (base frame), external wrench at the TCP from contact forces
(base frame), gripper width.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import gymnasium as gym
import mujoco
import numpy as np

from rldg_ros import spec
from rldg_ros.config import param
from rldg_ros.sim.assets import panda_xml
from rldg_ros.sim.controller import CartesianImpedance, ImpedanceConfig, _as_slice
from rldg_ros.sim.geometry import look_at_xyaxes, quat_from_axis_angle, quat_mul, quat_to_mat, yaw_quat
from rldg_ros.sim.tasks.base import DOWN, Start, Task

ARM_JOINTS = [f"joint{i}" for i in range(1, 8)]
WRIST_CAMERA = "wrist_rgb"
READY_Q = np.array([0.0, -0.3, 0.0, -2.2, 0.0, 1.9, np.pi / 4])
STATE_NAMES = list(spec.STATE_NAMES)


@dataclass
class CellConfig:
    physics_dt: float = param(0.001, min=0.0005, max=0.002, help="physics step = controller period (s)")
    control_hz: float = param(spec.CONTROL_HZ, min=1.0, max=100.0, help="policy rate (Hz)")
    image_size: int = param(128, min=32, max=512, help="camera images are square, this many pixels")
    wrist_camera: bool = param(True, help="render the wrist camera")
    front_camera: bool = param(False, help="render the front camera too")
    msaa_samples: int = param(4, min=0, max=16, help="multisample anti-aliasing of the cameras: edges get the "
                              "partial-pixel intensities of a real sensor (sub-pixel detail), ~2 ms per 128 px frame")
    action_scale_pos: float = param(0.01, min=0.001, max=0.05, help="metres per step at |action| = 1")
    action_scale_rot: float = param(0.05, min=0.005, max=0.3, help="radians per step at |action| = 1")
    impedance: ImpedanceConfig = field(default_factory=ImpedanceConfig)


class SimEnv(gym.Env):
    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, task: Task, cfg: CellConfig | None = None) -> None:
        os.environ.setdefault("MUJOCO_GL", "egl")
        self.task = task
        self.cfg = cfg or CellConfig()
        self.model = self._build_model()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self.tcp_site = m.site("tcp").id
        self.arm_dofs = np.array([m.jnt_dofadr[m.joint(j).id] for j in ARM_JOINTS])
        self.arm_qadr = np.array([m.jnt_qposadr[m.joint(j).id] for j in ARM_JOINTS])
        self.finger_act = m.actuator("fingers_actuator").id
        self.driver_qadr = m.jnt_qposadr[m.joint("right_driver_joint").id]
        arm_act = [m.actuator(f"actuator{i}").id for i in range(1, 8)]
        self.arm_act = _as_slice(arm_act)
        self.substeps = int(round(1.0 / (self.cfg.control_hz * self.cfg.physics_dt)))
        self._gripper_geoms = self._subtree_geoms("attachment")
        q_post = self.solve_ik(np.array([0.55, 0.0, 0.20]), DOWN, READY_Q)
        self.controller = CartesianImpedance(m, self.tcp_site, self.arm_dofs, self.arm_qadr, q_post, self.cfg.impedance,
                                             np.abs(m.actuator_ctrlrange[arm_act, 1]))
        self._renderers: dict[str, mujoco.Renderer] = {}
        self.action_space = gym.spaces.Box(-1.0, 1.0, (7,), np.float32)
        s = self.cfg.image_size
        spaces = {"state": gym.spaces.Box(-np.inf, np.inf, (len(STATE_NAMES),), np.float32)}
        if self.cfg.wrist_camera:
            spaces["wrist"] = gym.spaces.Box(0, 255, (s, s, 3), np.uint8)
        if self.cfg.front_camera:
            spaces["front"] = gym.spaces.Box(0, 255, (s, s, 3), np.uint8)
        self.observation_space = gym.spaces.Dict(spaces)
        self.steps = 0
        self.seed_used: int | None = None
        self.start: Start | None = None
        self.gripper_cmd = 1.0

    # -- model ---------------------------------------------------------------------------------------------------
    def _build_model(self) -> mujoco.MjModel:
        spec = mujoco.MjSpec.from_file(str(panda_xml()))
        spec.option.timestep = self.cfg.physics_dt
        spec.option.noslip_iterations = 3 if self.task.grasping else 0  # noslip only helps grasps
        spec.visual.quality.offsamples = self.cfg.msaa_samples
        spec.visual.global_.offwidth = max(640, self.cfg.image_size)
        spec.visual.global_.offheight = max(480, self.cfg.image_size)
        spec.visual.headlight.ambient = [0.3, 0.3, 0.3]
        spec.visual.headlight.diffuse = [0.35, 0.35, 0.35]
        spec.visual.headlight.specular = [0.0, 0.0, 0.0]
        world = spec.worldbody
        rgba = list(self.task.table_rgba)
        if self.task.table_texture == "checker":
            spec.add_texture(name="table_tex", type=mujoco.mjtTexture.mjTEXTURE_2D,
                             builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, width=256, height=256,
                             rgb1=rgba[:3], rgb2=[c * 0.6 for c in rgba[:3]])
            mat = spec.add_material(name="table_mat", texrepeat=[8, 8], texuniform=True)
            mat.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = "table_tex"
            world.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.01], material="table_mat",
                           contype=3, conaffinity=3)
        else:
            world.add_geom(name="table", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[2, 2, 0.01], rgba=rgba,
                           contype=3, conaffinity=3)
        world.add_light(pos=[0.4, -0.3, 1.2], dir=[0.1, 0.25, -1], diffuse=[0.45, 0.45, 0.45], castshadow=False)
        front_pos = [1.15, 0.45, 0.45]
        world.add_camera(name="front", pos=front_pos, fovy=45,
                         xyaxes=look_at_xyaxes(front_pos, [0.52, 0.0, 0.12], [0, 0, 1]))
        base = spec.body("base")
        tcp_pos = np.array([0.0, 0.0, 0.145])  # Robotiq pinch point, in the gripper base frame
        base.add_site(name="tcp", pos=tcp_pos, size=[0.002, 0.002, 0.002], group=4)
        # wrist camera on the side of the gripper (off the fingers' travel), aimed just past the fingertips, as
        # the paper's and HIL-SERL's wrist cameras are: it sees the held object and what it goes into
        cam_pos = [-0.075, 0.0, 0.075]
        base.add_camera(name=WRIST_CAMERA, pos=cam_pos, fovy=60,
                        xyaxes=look_at_xyaxes(cam_pos, tcp_pos + [0.0, 0.0, 0.05], [0, 0, -1]))
        self.task.build(spec, base, tcp_pos)
        model = spec.compile()
        model.light_castshadow[:] = 0
        return model

    def _subtree_geoms(self, root: str) -> set[int]:
        m = self.model
        root_id = m.body(root).id
        bodies = set()
        for b in range(m.nbody):
            a = b
            while a > 0 and a != root_id:
                a = m.body_parentid[a]
            if a == root_id:
                bodies.add(b)
        return {g for g in range(m.ngeom) if m.geom_bodyid[g] in bodies}

    # -- kinematics ----------------------------------------------------------------------------------------------
    def tcp_pose(self) -> tuple[np.ndarray, np.ndarray]:
        q = np.zeros(4)
        mujoco.mju_mat2Quat(q, self.data.site_xmat[self.tcp_site])
        return self.data.site_xpos[self.tcp_site].copy(), q

    def solve_ik(self, pos: np.ndarray, quat: np.ndarray, q0: np.ndarray, iters: int = 300) -> np.ndarray:
        """Joint positions putting the TCP at (pos, quat): damped least squares on a scratch MjData."""
        m = self.model
        d = mujoco.MjData(m)
        d.qpos[self.arm_qadr] = q0
        jacp, jacr = np.zeros((3, m.nv)), np.zeros((3, m.nv))
        err_r = np.zeros(3)
        for _ in range(iters):
            mujoco.mj_kinematics(m, d)
            mujoco.mj_comPos(m, d)
            cur = np.zeros(4)
            mujoco.mju_mat2Quat(cur, d.site_xmat[self.tcp_site])
            mujoco.mju_subQuat(err_r, quat, cur)
            err = np.concatenate([pos - d.site_xpos[self.tcp_site], d.site_xmat[self.tcp_site].reshape(3, 3) @ err_r])
            if np.linalg.norm(err) < 1e-7:
                break
            mujoco.mj_jacSite(m, d, jacp, jacr, self.tcp_site)
            jac = np.vstack([jacp[:, self.arm_dofs], jacr[:, self.arm_dofs]])
            dq = jac.T @ np.linalg.solve(jac @ jac.T + 1e-6 * np.eye(6), err)
            q = d.qpos[self.arm_qadr] + dq
            lo, hi = m.jnt_range[[m.joint(j).id for j in ARM_JOINTS]].T
            d.qpos[self.arm_qadr] = np.clip(q, lo, hi)
        return d.qpos[self.arm_qadr].copy()

    # -- gym API ---------------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):  # noqa: ARG002 (gym API)
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**31 - 1))
        self.seed_used = seed
        rng = np.random.default_rng(seed)
        m, d = self.model, self.data
        mujoco.mj_resetData(m, d)
        start = self.task.sample_start(rng)
        self.start = start
        q_tcp = quat_mul(yaw_quat(start.tcp_yaw), DOWN)
        d.qpos[self.arm_qadr] = self.solve_ik(start.tcp_pos, q_tcp, self.controller.q_posture)
        self.gripper_cmd = 1.0 if not self.task.grasping else -1.0
        self.task.apply_start(self, start)
        mujoco.mj_forward(m, d)
        self.controller.set_target(start.tcp_pos, q_tcp)
        self._apply_gripper()
        n_settle = int(0.3 / self.cfg.physics_dt)
        for i in range(n_settle):  # let the fingers close/open before the episode
            self.task.during_settle(self, i / n_settle)
            self._physics_step()
        self.steps = 0
        return self._observe(), self._info(success=self.task.success(self))

    def step(self, action, retarget: bool = True):
        """One control step. ``retarget=False``: the arm's targets stay where they are (a hold keeps one fixed
        target, as a real impedance controller does), only the gripper follows ``action[6]``."""
        a = np.asarray(action, dtype=np.float64)
        if a.shape != (7,):
            raise ValueError(f"action must have shape (7,), got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise ValueError(f"action contains NaN/inf: {a.tolist()}")
        a = np.clip(a, -1.0, 1.0)
        if retarget:
            pos, quat = self.tcp_pose()
            rot = quat_to_mat(quat)
            target = np.clip(pos + rot @ (a[spec.ACTION_POS] * self.cfg.action_scale_pos), self.task.ws_low,
                             self.task.ws_high)
            dq = quat_from_axis_angle(a[spec.ACTION_ROT] * self.cfg.action_scale_rot)
            self.controller.set_target(target, quat_mul(self.controller.target_quat, dq))
        if self.task.grasping:
            self.gripper_cmd = spec.GRIPPER_CLOSED if a[spec.GRIPPER_DIM] > 0 else spec.GRIPPER_OPEN
        self._apply_gripper()
        for _ in range(self.substeps):
            self._physics_step()
        self.steps += 1
        success = self.task.success(self)
        truncated = (not success) and self.steps >= self.task.time_limit
        return self._observe(), float(success), success, truncated, self._info(success)

    def advance(self, seconds: float) -> None:
        """Run physics (and the impedance controller) for ``seconds`` without touching the targets: the
        low-level interface a franka_ros2-style driver uses instead of :meth:`step`."""
        self._apply_gripper()
        for _ in range(max(1, int(round(seconds / self.cfg.physics_dt)))):
            self._physics_step()

    def _apply_gripper(self) -> None:
        self.data.ctrl[self.finger_act] = 255.0 if self.gripper_cmd > 0 else 0.0

    def _physics_step(self) -> None:
        # step1 computes kinematics/Jacobians of the current state, the controller reads them, step2 integrates
        mujoco.mj_step1(self.model, self.data)
        self.data.ctrl[self.arm_act] = self.controller.torque(self.data)
        mujoco.mj_step2(self.model, self.data)

    # -- observation -----------------------------------------------------------------------------------------------
    def tcp_twist(self) -> np.ndarray:
        v = np.zeros(6)
        mujoco.mj_objectVelocity(self.model, self.data, mujoco.mjtObj.mjOBJ_SITE, self.tcp_site, v, 0)
        return np.concatenate([v[3:], v[:3]])  # (linear, angular) in the world frame

    def contact_wrench(self) -> np.ndarray:
        """External wrench on the gripper (and what it holds) at the TCP, world frame (N, Nm)."""
        m, d = self.model, self.data
        tcp = d.site_xpos[self.tcp_site]
        f6 = np.zeros(6)
        total = np.zeros(6)
        for i in range(d.ncon):
            c = d.contact[i]
            g1, g2 = c.geom1 in self._gripper_geoms, c.geom2 in self._gripper_geoms
            if g1 == g2:
                continue
            mujoco.mj_contactForce(m, d, i, f6)
            frame = c.frame.reshape(3, 3)
            f = frame.T @ f6[:3]  # force of geom1 on geom2, world frame
            if g1:
                f = -f  # we want the force on the gripper side
            total[:3] += f
            total[3:] += np.cross(c.pos - tcp, f)
        return total

    def gripper_width(self) -> float:
        return float(0.085 * (1.0 - np.clip(self.data.qpos[self.driver_qadr] / 0.8, 0.0, 1.0)))

    def state_vector(self) -> np.ndarray:
        pos, quat = self.tcp_pose()
        return np.concatenate([pos, quat, self.tcp_twist(), self.contact_wrench(),
                               [self.gripper_width()]]).astype(np.float32)

    def render_camera(self, camera: str) -> np.ndarray:
        r = self._renderers.get(camera)
        if r is None:
            r = self._renderers[camera] = mujoco.Renderer(self.model, self.cfg.image_size, self.cfg.image_size)
        r.update_scene(self.data, camera=camera)
        return r.render()

    def _observe(self) -> dict:
        obs = {"state": self.state_vector()}
        if self.cfg.wrist_camera:
            obs["wrist"] = self.render_camera(WRIST_CAMERA)
        if self.cfg.front_camera:
            obs["front"] = self.render_camera("front")
        return obs

    def _info(self, success: bool) -> dict:
        return {"success": bool(success), "phase": self.task.phase(self), "step": self.steps,
                "seed": self.seed_used, "task": self.task.task_id}

    def render(self):
        return self.render_camera("front")

    def close(self) -> None:
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()


def make_env(task_id: str, cfg: CellConfig | None = None, **cfg_overrides) -> SimEnv:
    from rldg_ros.sim.tasks import make_task

    if cfg is None:
        cfg = CellConfig(**cfg_overrides)
    return SimEnv(make_task(task_id), cfg)
