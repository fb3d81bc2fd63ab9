"""``robot_bridge``: rldg actions in, rldg robot state out, for the MuJoCo cell or a real Franka (franka_ros2).

Every command goes through one safety path whatever the backend: refused if NaN/inf/oversized (logged), turned
into a base-frame TCP delta, limited per step, clipped to the workspace box, and executed once: a control tick
without a fresh command holds the current pose (``holding`` is reported after ``safety.watchdog_timeout`` without
one). Backends:

* ``sim``: owns the cell (rldg_ros.sim), steps it at ``control_hz`` in real time (or as fast as possible,
  publishing ``/clock``, with ``realtime: false``), publishes the wrist camera under realsense2_camera's names.
* ``franka_ros2``: publishes a ``geometry_msgs/PoseStamped`` target for a Cartesian impedance controller and
  reads ``current_pose`` / ``external_wrench_in_base_frame`` (best effort, as franka_robot_state_broadcaster
  publishes them) and joint states; topic names in ``config/franka.yaml``.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Bool, Float64

from rldg_msgs.msg import Action, EpisodeEvent, Observation, RobotState
from rldg_msgs.srv import ResetEpisode
from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.hil.rules import InterventionRules, InterventionRulesConfig
from rldg_ros.nodes.base import RldgNode, paced
from rldg_ros.nodes.convert import action_to_array, camera_info, image_msg, robot_state_msg
from rldg_ros.qos import RELIABLE_10, SENSOR
from rldg_ros.safety import CommandRefused, SafetyConfig, Watchdog, check_action, clip_to_workspace, limit_step
from rldg_ros.sim.geometry import quat_from_axis_angle, quat_mul, quat_to_mat
from rldg_ros.spec import CONTROL_HZ


@dataclass
class FrankaTopics:
    target_pose: str = param("cartesian_impedance_controller/target_pose", help="PoseStamped target (out)")
    current_pose: str = param("franka_robot_state_broadcaster/current_pose", help="PoseStamped (in, best effort)")
    external_wrench: str = param("franka_robot_state_broadcaster/external_wrench_in_base_frame",
                                 help="WrenchStamped (in, best effort)")
    joint_states: str = param("joint_states", help="sensor_msgs/JointState (in)")
    gripper_command: str = param("gripper/width_command", help="std_msgs/Float64 finger width (out)")
    gripper_open_width: float = param(0.08, min=0.0, max=0.1, help="width sent for 'open' (m)")
    home_position: list[float] = param([0.55, 0.0, 0.2], help="TCP position for reset/home (m)")


@dataclass
class RobotBridgeConfig:
    backend: str = param("sim", choices=("sim", "franka_ros2"), help="robot backend")
    task: str = param("connector_insertion/usb", help="sim task id")
    control_hz: float = param(CONTROL_HZ, min=1.0, max=100.0, help="command/state rate (Hz)")
    realtime: bool = param(True, help="sim: step in real time; false: as fast as possible with /clock")
    lockstep: bool = param(False, help="sim with realtime false: wait for each step's command (up to "
                           "lockstep_timeout) before stepping, so a slow policy sees every step")
    lockstep_timeout: float = param(0.5, min=0.01, max=10.0, help="wall seconds to wait for a command in lockstep")
    seed: int = param(0, min=-1, help="seed of the first sim episode (-1: random)")
    frame_id: str = param("base", help="frame of the robot state")
    camera_frame_id: str = param("camera_color_optical_frame", help="frame of the wrist images")
    image_size: int = param(128, min=32, max=512, help="sim wrist image size (px)")
    action_scale_pos: float = param(0.01, min=0.001, max=0.05, help="metres per step at |action| = 1")
    action_scale_rot: float = param(0.05, min=0.005, max=0.3, help="radians per step at |action| = 1")
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    franka: FrankaTopics = field(default_factory=FrankaTopics)
    scripted: InterventionRulesConfig = field(default_factory=InterventionRulesConfig)


class _Sim:
    """The MuJoCo cell behind the bridge."""

    def __init__(self, node: RobotBridge) -> None:
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
        a = np.zeros(7)
        a[:3] = rot.T @ dpos / self.env.cfg.action_scale_pos
        a[3:6] = rot.T @ drot / self.env.cfg.action_scale_rot
        if gripper is not None:
            self.gripper = gripper
        a[6] = self.gripper
        self.obs, _, self.success, _, _ = self.env.step(np.clip(a, -1.0, 1.0))
        self.holding = False

    def hold(self) -> None:
        """The first tick of a hold targets where the arm is; the following ones keep that target (like _Franka)."""
        if not self.holding:
            self.apply(np.zeros(3), np.zeros(3), None)
            self.holding = True
            return
        a = np.zeros(7)
        a[6] = self.gripper
        self.obs, _, self.success, _, _ = self.env.step(a, retarget=False)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        e = self.env
        return (self.obs["state"], e.data.qpos[e.arm_qadr].copy(), e.data.qvel[e.arm_dofs].copy(),
                e.gripper_cmd > 0)

    def close(self) -> None:
        self.env.close()


class _Franka:
    """A Franka behind franka_ros2 (or behind our franka_sim_driver, which speaks the same topics)."""

    def __init__(self, node: RobotBridge) -> None:
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


class RobotBridge(RldgNode):
    CONFIG = RobotBridgeConfig
    DEFAULT_NAME = "robot_bridge"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        cfg = self.cfg
        self.lock = threading.Lock()
        # (action, receive time) of the newest command not executed yet: each command moves the arm by one step,
        # once; a tick without a fresh one holds (a policy that falls silent stops the arm within a control period)
        self.latest: tuple[np.ndarray, float] | None = None
        self.watchdog = Watchdog(cfg.safety.watchdog_timeout)
        self.refused: Counter = Counter()  # (source, reason) -> refused commands
        self.episode_id = 0
        self.episode_step = 0
        self.sim_time = 0.0
        self.command_arrived = threading.Event()
        self.lockstep_timeouts = 0  # lock-step waits that ran out: the step went ahead without its answer (held)
        self.held_ticks = 0  # ticks without a fresh command (the arm held)
        self.pub_state = self.create_publisher(RobotState, topics.ROBOT_STATE.name, RELIABLE_10)
        self.create_subscription(Action, topics.COMMAND.name, self._on_command, RELIABLE_10)
        self.create_service(ResetEpisode, topics.RESET_EPISODE.name, self._on_reset)
        self.stopping = threading.Event()
        self.resets: list[tuple[ResetEpisode.Request, threading.Event, list]] = []
        if cfg.backend == "sim":
            self.pub_image = self.create_publisher(Image, topics.WRIST_IMAGE.name, SENSOR)
            self.pub_info = self.create_publisher(CameraInfo, topics.WRIST_CAMERA_INFO.name, SENSOR)
            if not cfg.realtime:
                self.pub_clock = self.create_publisher(Clock, "/clock", 10)
            self.pub_scripted = self.create_publisher(Action, topics.SCRIPTED_ACTION.name, RELIABLE_10)
            self.pub_success = self.create_publisher(Bool, topics.SIM_SUCCESS.name, RELIABLE_10)
            self.pub_privileged = self.create_publisher(Observation, topics.SIM_PRIVILEGED.name, RELIABLE_10)
            # evaluation episodes run the policy alone: the scripted intervener sits them out
            self.eval_episode = False
            self.create_subscription(EpisodeEvent, topics.EPISODE.name, self._on_episode, RELIABLE_10)
            # task phases (grasp -> insertion, ...) as EpisodeEvent PHASE: the converter can keep one phase's steps
            self.pub_phase = self.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
            self.phase: tuple[int, str] | None = None
            # the cell lives on its own control-loop thread: MuJoCo's GL context is bound to the thread that made it
            self.backend = None
            self.ready = threading.Event()
            self.loop = threading.Thread(target=self._sim_loop, name="robot_bridge-sim", daemon=True)
            self.loop.start()
            if not self.ready.wait(timeout=60):
                raise RuntimeError("the sim cell did not start within 60 s")
            if self.fatal_error:
                raise RuntimeError(self.fatal_error)
        else:
            self.backend = _Franka(self)
            self.timer = self.create_timer(1.0 / cfg.control_hz, self._tick)
        self.get_logger().info(f"robot_bridge up: backend {cfg.backend}, task {cfg.task}, {cfg.control_hz:g} Hz")

    def _sim_loop(self) -> None:
        try:
            self.backend = _Sim(self)
        except Exception as exc:  # noqa: BLE001
            self.fail(f"sim cell failed to start: {exc}")
            self.ready.set()
            return
        self.ready.set()
        try:
            lockstep = self.cfg.lockstep and not self.cfg.realtime
            for _ in paced(1.0 / self.cfg.control_hz, self.stopping, self.cfg.realtime):
                if lockstep:  # a command (or a reset request) wakes the loop at once
                    if not self.command_arrived.wait(self.cfg.lockstep_timeout) and self.episode_id:
                        self.lockstep_timeouts += 1  # inside an episode (before the first reset nobody answers)
                    self.command_arrived.clear()
                self._serve_resets()
                self._tick()
        except Exception as exc:  # noqa: BLE001 - a dead control loop must stop the node, loudly
            self.fail(f"sim control loop died: {exc!r}")
        finally:
            self.backend.close()

    # -- inputs ----------------------------------------------------------------------------------------------------
    def now_s(self) -> float:
        return self.sim_time if (self.cfg.backend == "sim" and not self.cfg.realtime) else \
            self.get_clock().now().nanoseconds * 1e-9

    def _on_command(self, msg: Action) -> None:
        try:
            a = check_action(action_to_array(msg), self.cfg.safety)
        except CommandRefused as exc:
            source = msg.source_name or "unknown source"
            self.refused[(source, exc.kind)] += 1
            self.get_logger().error(f"command refused ({source}; {exc.kind}, {self.refused[(source, exc.kind)]} so "
                                    f"far): {exc}")
            return
        with self.lock:
            self.latest = (a, self.now_s())
            self.watchdog.feed(self.now_s())
            # lock-step: only the command answering the state just published starts the next step (a re-sent older
            # command, e.g. the mux's timer repeating the last action, would shift every later action by one step)
            answers = (int(msg.episode_id), int(msg.step)) == (self.episode_id, self.episode_step)
        if answers:
            self.command_arrived.set()

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_START:
            self.eval_episode = bool(msg.is_eval)

    def _on_reset(self, request: ResetEpisode.Request, response: ResetEpisode.Response):
        if self.cfg.backend == "sim":  # hand it to the control-loop thread and wait
            done, out = threading.Event(), []
            with self.lock:
                self.resets.append((request, done, out))
            self.command_arrived.set()
            if not done.wait(timeout=30):
                out = [False, "reset timed out", 0, 0]
        else:
            out = self._do_reset(request)
        response.success, response.message, response.episode_id, response.seed = out[0], out[1], out[2], out[3]
        return response

    def _serve_resets(self) -> None:
        with self.lock:
            pending, self.resets = self.resets, []
        for request, done, out in pending:
            out.extend(self._do_reset(request))
            done.set()

    def _do_reset(self, request: ResetEpisode.Request) -> list:
        try:
            with self.lock:
                seed = self.backend.reset(request.task_id, int(request.seed))
                self.latest = None
                self.episode_id += 1
                self.episode_step = 0
            return [True, f"episode {self.episode_id} (seed {seed})", self.episode_id, seed]
        except Exception as exc:  # noqa: BLE001 - report any failure to the caller instead of dying
            self.get_logger().error(f"reset failed: {exc}")
            return [False, f"reset failed: {exc}", self.episode_id, 0]

    # -- control loop ------------------------------------------------------------------------------------------
    def _tick(self) -> None:
        cfg = self.cfg
        if cfg.backend == "franka_ros2" and not self.backend.ready():
            return
        with self.lock:
            now = self.now_s()
            # holding (the state's flag): no command for the watchdog's timeout; a tick without a fresh command
            # (a late one, or none) does not move the arm either
            holding = self.watchdog.expired(now)
            limited = False
            if holding or self.latest is None:
                self.backend.hold()
                self.held_ticks += 1
            else:
                a = self.latest[0]
                self.latest = None  # executed: never repeated
                _, quat = self.backend.pose()
                rot = quat_to_mat(quat)
                dpos = rot @ (a[:3] * cfg.action_scale_pos)  # wrist frame -> base frame
                drot = rot @ (a[3:6] * cfg.action_scale_rot)
                dpos, drot, limited = limit_step(dpos, drot, cfg.safety)
                pos, _ = self.backend.pose()
                target, clipped = clip_to_workspace(pos + dpos, cfg.safety)
                self.backend.apply(target - pos, drot, float(a[6]))
                limited = limited or clipped
            if cfg.backend == "sim" and not cfg.realtime:
                self.sim_time += 1.0 / cfg.control_hz
                self.pub_clock.publish(Clock(clock=Time(nanoseconds=int(self.sim_time * 1e9)).to_msg()))
            state, joints, joint_vel, closed = self.backend.state()
            self.episode_step += 1
            episode_id, episode_step = self.episode_id, self.episode_step
        stamp = self.get_clock().now().to_msg()
        if cfg.backend == "sim":
            phase = (episode_id, self.backend.env.task.phase(self.backend.env))
            if phase != self.phase:  # a new episode's first phase, or a phase boundary
                self.phase = phase
                ev = EpisodeEvent(event=EpisodeEvent.EVENT_PHASE, episode_id=episode_id, phase=phase[1],
                                  task_id=self.backend.env.task.task_id)
                ev.header.stamp = stamp
                self.pub_phase.publish(ev)
        if cfg.backend == "sim":  # the goal features go out before the state that a consumer pairs them with
            priv = Observation()
            priv.header.stamp, priv.header.frame_id = stamp, cfg.frame_id
            priv.state = [float(v) for v in self.backend.env.task.privileged(self.backend.env)]
            self.pub_privileged.publish(priv)
        self.pub_state.publish(robot_state_msg(state, joints, joint_vel, closed, stamp, cfg.frame_id,
                                               holding=holding, limited=limited, episode_id=episode_id,
                                               episode_step=episode_step))
        if cfg.backend == "sim":
            scripted = None if self.eval_episode else self.backend.intervention()
            if scripted is not None:
                m = Action()
                m.header.stamp = stamp
                m.action = [float(v) for v in scripted]
                m.source, m.source_name, m.intervention = Action.SOURCE_SCRIPTED, cfg.scripted.policy, True
                m.episode_id, m.step = episode_id, episode_step  # the step it answers (the mux matches it)
                self.pub_scripted.publish(m)
            self.pub_success.publish(Bool(data=bool(self.backend.success)))
            obs = self.backend.obs
            self.pub_image.publish(image_msg(obs["wrist"], stamp, cfg.camera_frame_id))
            size = obs["wrist"].shape[0]
            self.pub_info.publish(camera_info(size, size, self.backend.fovy, stamp, cfg.camera_frame_id))

    def shutdown(self) -> None:
        self.get_logger().info(f"robot_bridge down: {self.episode_id} episode(s), {self.held_ticks} held tick(s), "
                               f"{self.lockstep_timeouts} lock-step wait(s) timed out, "
                               f"{sum(self.refused.values())} command(s) refused")
        self.stopping.set()
        if self.cfg.backend == "sim":
            self.loop.join(timeout=5)
