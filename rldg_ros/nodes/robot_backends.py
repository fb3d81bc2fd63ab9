"""The robot behind ``robot_bridge``: one :class:`RobotBackend` protocol, two implementations.

The bridge (``robot_bridge.py``) owns the safety path and the messages every backend shares; a backend moves the
arm, reports its state and decides what drives the control ticks:

* :class:`SimBackend`: the MuJoCo cell, stepped on its own thread at ``control_hz`` in real time (or as fast as
  possible with ``/clock``, optionally in lock-step with the commands); it also publishes what only a simulator
  knows (wrist camera, ground-truth success, privileged goal features, task phases, the scripted intervener).
* :class:`FrankaBackend`: franka_ros2's Cartesian impedance controller, ticked by a ROS timer.
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64

from rldg_msgs.msg import Action, EpisodeEvent, Observation
from rldg_ros import topics
from rldg_ros.hil.rules import InterventionRules
from rldg_ros.nodes.base import paced
from rldg_ros.nodes.convert import camera_info, image_msg
from rldg_ros.qos import RELIABLE_10, SENSOR
from rldg_ros.safety import clip_to_workspace
from rldg_ros.sim.geometry import quat_from_axis_angle, quat_mul, quat_to_mat
from rldg_ros.spec import ACTION_DIM, ACTION_POS, ACTION_ROT, GRIPPER_DIM


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


class SimCell:
    """The MuJoCo cell behind the bridge (made and stepped on the control-loop thread: MuJoCo's GL context is bound
    to the thread that made it)."""

    def __init__(self, node) -> None:
        from rldg_ros.sim import make_env
        from rldg_ros.sim.env import WRIST_CAMERA, CellConfig

        cfg = node.cfg
        self.node = node
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


class SimBackend:
    """The cell on its own control-loop thread, with the topics only a simulator has."""

    def __init__(self, node) -> None:
        cfg = node.cfg
        self.node, self.cfg = node, cfg
        self.cell: SimCell | None = None
        self.sim_time = 0.0
        self.lockstep_timeouts = 0  # lock-step waits that ran out: the step went ahead without its answer (held)
        self.command_arrived = threading.Event()
        self.stopping = threading.Event()
        self.resets: list[tuple[object, threading.Event, list]] = []
        self.pub_image = node.create_publisher(Image, topics.WRIST_IMAGE.name, SENSOR)
        self.pub_info = node.create_publisher(CameraInfo, topics.WRIST_CAMERA_INFO.name, SENSOR)
        self.pub_clock = node.create_publisher(Clock, "/clock", 10) if not cfg.realtime else None
        self.pub_scripted = node.create_publisher(Action, topics.SCRIPTED_ACTION.name, RELIABLE_10)
        self.pub_success = node.create_publisher(Bool, topics.SIM_SUCCESS.name, RELIABLE_10)
        self.pub_privileged = node.create_publisher(Observation, topics.SIM_PRIVILEGED.name, RELIABLE_10)
        # evaluation episodes run the policy alone: the scripted intervener sits them out
        self.eval_episode = False
        node.create_subscription(EpisodeEvent, topics.EPISODE.name, self._on_episode, RELIABLE_10)
        # task phases (grasp -> insertion, ...) as EpisodeEvent PHASE: the converter can keep one phase's steps
        self.pub_phase = node.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
        self.phase: tuple[int, str] | None = None
        self.started = threading.Event()
        self.loop = threading.Thread(target=self._loop, name="robot_bridge-sim", daemon=True)

    def start(self) -> None:
        self.loop.start()
        if not self.started.wait(timeout=60):
            raise RuntimeError("the sim cell did not start within 60 s")
        if self.node.fatal_error:
            raise RuntimeError(self.node.fatal_error)

    def _loop(self) -> None:
        try:
            self.cell = SimCell(self.node)
        except Exception as exc:  # noqa: BLE001
            self.node.fail(f"sim cell failed to start: {exc}")
            self.started.set()
            return
        self.started.set()
        try:
            lockstep = self.cfg.lockstep and not self.cfg.realtime
            for _ in paced(1.0 / self.cfg.control_hz, self.stopping, self.cfg.realtime):
                if lockstep:  # a command (or a reset request) wakes the loop at once
                    if not self.command_arrived.wait(self.cfg.lockstep_timeout) and self.node.episode_id:
                        self.lockstep_timeouts += 1  # inside an episode (before the first reset nobody answers)
                    self.command_arrived.clear()
                self._serve_resets()
                self.node.tick()
        except Exception as exc:  # noqa: BLE001 - a dead control loop must stop the node, loudly
            self.node.fail(f"sim control loop died: {exc!r}")
        finally:
            self.cell.close()

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_START:
            self.eval_episode = bool(msg.is_eval)

    def ready(self) -> bool:
        return self.cell is not None

    def now_s(self) -> float | None:
        return None if self.cfg.realtime else self.sim_time

    def wake(self) -> None:
        self.command_arrived.set()

    def request_reset(self, request) -> list:
        """Handed to the control-loop thread (the cell lives there); waits for it."""
        done, out = threading.Event(), []
        with self.node.lock:
            self.resets.append((request, done, out))
        self.command_arrived.set()
        if not done.wait(timeout=30):
            return [False, "reset timed out", 0, 0]
        return out

    def _serve_resets(self) -> None:
        with self.node.lock:
            pending, self.resets = self.resets, []
        for request, done, out in pending:
            out.extend(self.node.do_reset(request))
            done.set()

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self.cell.pose()

    def apply(self, dpos: np.ndarray, drot: np.ndarray, gripper: float | None) -> None:
        self.cell.apply(dpos, drot, gripper)

    def hold(self) -> None:
        self.cell.hold()

    def reset(self, task: str, seed: int) -> int:
        return self.cell.reset(task, seed)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        return self.cell.state()

    def advance(self) -> None:
        if self.pub_clock is not None:
            self.sim_time += 1.0 / self.cfg.control_hz
            self.pub_clock.publish(Clock(clock=Time(nanoseconds=int(self.sim_time * 1e9)).to_msg()))

    def publish_before_state(self, stamp, episode_id: int) -> None:
        """A new phase, and the goal features: out before the state that a consumer pairs them with."""
        env = self.cell.env
        phase = (episode_id, env.task.phase(env))
        if phase != self.phase:  # a new episode's first phase, or a phase boundary
            self.phase = phase
            ev = EpisodeEvent(event=EpisodeEvent.EVENT_PHASE, episode_id=episode_id, phase=phase[1],
                              task_id=env.task.task_id)
            ev.header.stamp = stamp
            self.pub_phase.publish(ev)
        priv = Observation()
        priv.header.stamp, priv.header.frame_id = stamp, self.cfg.frame_id
        priv.state = [float(v) for v in env.task.privileged(env)]
        self.pub_privileged.publish(priv)

    def publish_after_state(self, stamp, episode_id: int, episode_step: int) -> None:
        """The scripted intervener's action for this step, ground-truth success, the wrist image."""
        cfg, cell = self.cfg, self.cell
        scripted = None if self.eval_episode else cell.intervention()
        if scripted is not None:
            m = Action()
            m.header.stamp = stamp
            m.action = [float(v) for v in scripted]
            m.source, m.source_name, m.intervention = Action.SOURCE_SCRIPTED, cfg.scripted.policy, True
            m.episode_id, m.step = episode_id, episode_step  # the step it answers (the mux matches it)
            self.pub_scripted.publish(m)
        self.pub_success.publish(Bool(data=bool(cell.success)))
        obs = cell.obs
        self.pub_image.publish(image_msg(obs["wrist"], stamp, cfg.camera_frame_id))
        size = obs["wrist"].shape[0]
        self.pub_info.publish(camera_info(size, size, cell.fovy, stamp, cfg.camera_frame_id))

    def stop(self) -> None:
        self.stopping.set()
        if self.loop.is_alive():
            self.loop.join(timeout=5)

    def close(self) -> None:
        pass  # the loop closes the cell on its own thread


class FrankaBackend:
    """A Franka behind franka_ros2 (or behind our franka_sim_driver, which speaks the same topics): Cartesian
    impedance targets out, pose / wrench / joints in; the node's timer drives the control ticks."""

    def __init__(self, node) -> None:
        t = node.cfg.franka
        self.node = node
        self.lock = threading.Lock()
        self.pose_msg: PoseStamped | None = None
        self.wrench = np.zeros(6)
        self.joints = np.zeros(0)
        self.joint_vel = np.zeros(0)
        self.last_pos: np.ndarray | None = None
        self.last_t: float | None = None
        self.twist = np.zeros(6)
        self.gripper_closed = False
        self.target_quat: np.ndarray | None = None
        self.hold_target: tuple[np.ndarray, np.ndarray] | None = None  # fixed while holding
        self.pub_target = node.create_publisher(PoseStamped, t.target_pose, RELIABLE_10)
        self.pub_gripper = node.create_publisher(Float64, t.gripper_command, RELIABLE_10)
        node.create_subscription(PoseStamped, t.current_pose, self._on_pose, SENSOR)
        node.create_subscription(WrenchStamped, t.external_wrench, self._on_wrench, SENSOR)
        node.create_subscription(JointState, t.joint_states, self._on_joints, SENSOR)

    def _on_pose(self, msg: PoseStamped) -> None:
        with self.lock:
            p = msg.pose.position
            pos = np.array([p.x, p.y, p.z])
            t = Time.from_msg(msg.header.stamp).nanoseconds * 1e-9
            if self.last_pos is not None and t > self.last_t:
                self.twist[:3] = (pos - self.last_pos) / (t - self.last_t)
            self.last_pos, self.last_t = pos, t
            self.pose_msg = msg

    def _on_wrench(self, msg: WrenchStamped) -> None:
        f, tq = msg.wrench.force, msg.wrench.torque
        with self.lock:
            self.wrench = np.array([f.x, f.y, f.z, tq.x, tq.y, tq.z])

    def _on_joints(self, msg: JointState) -> None:
        with self.lock:
            self.joints = np.asarray(msg.position[:7], dtype=float)
            self.joint_vel = np.asarray(msg.velocity[:7], dtype=float)

    def ready(self) -> bool:
        return self.pose_msg is not None

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        with self.lock:
            p, q = self.pose_msg.pose.position, self.pose_msg.pose.orientation
            return np.array([p.x, p.y, p.z]), np.array([q.w, q.x, q.y, q.z])

    def _publish_target(self, pos: np.ndarray, quat: np.ndarray) -> None:
        msg = PoseStamped()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = self.node.cfg.frame_id
        msg.pose.position.x, msg.pose.position.y, msg.pose.position.z = (float(v) for v in pos)
        o = msg.pose.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in quat)
        self.pub_target.publish(msg)

    def apply(self, dpos: np.ndarray, drot: np.ndarray, gripper: float | None) -> None:
        if not self.ready():
            return
        pos, quat = self.pose()
        if self.target_quat is None:
            self.target_quat = quat
        target, _ = clip_to_workspace(pos + dpos, self.node.cfg.safety)
        self.target_quat = quat_mul(quat_from_axis_angle(drot), self.target_quat)
        self.hold_target = None
        self._publish_target(target, self.target_quat)
        if gripper is not None and (gripper > 0) != self.gripper_closed:
            self.gripper_closed = gripper > 0
            width = 0.0 if self.gripper_closed else self.node.cfg.franka.gripper_open_width
            self.pub_gripper.publish(Float64(data=width))

    def hold(self) -> None:
        """Keep one fixed target: where the robot was when holding began (or home after a reset)."""
        if not self.ready():
            return
        if self.hold_target is None:
            pos, quat = self.pose()
            self.hold_target = (pos, quat)
            self.target_quat = quat
        self._publish_target(*self.hold_target)

    def reset(self, task: str, seed: int) -> int:  # noqa: ARG002 - a real cell is reset by moving home
        if self.ready():
            _, quat = self.pose()
            self.target_quat = quat
            self.hold_target = (np.asarray(self.node.cfg.franka.home_position, dtype=float), quat)
            self._publish_target(*self.hold_target)
        return seed

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        # the gripper width is the commanded one: the franka_ros2 topics used here carry no finger state
        pos, quat = self.pose()
        with self.lock:
            s = np.concatenate([pos, quat, self.twist, self.wrench, [0.0 if self.gripper_closed else
                                                                      self.node.cfg.franka.gripper_open_width]])
            return s.astype(np.float32), self.joints.copy(), self.joint_vel.copy(), self.gripper_closed

    def close(self) -> None:
        pass

    # -- the RobotBackend protocol's driving side ----------------------------------------------------------------
    def start(self) -> None:
        self.node.create_timer(1.0 / self.node.cfg.control_hz, self.node.tick)

    def now_s(self) -> float | None:
        return None  # the ROS clock

    def wake(self) -> None:
        pass

    def request_reset(self, request) -> list:
        return self.node.do_reset(request)

    def advance(self) -> None:
        pass

    def publish_before_state(self, stamp, episode_id: int) -> None:
        pass

    def publish_after_state(self, stamp, episode_id: int, episode_step: int) -> None:
        pass

    def stop(self) -> None:
        pass


BACKENDS = {"sim": SimBackend, "franka_ros2": FrankaBackend}
