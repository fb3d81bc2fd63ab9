"""``robot_bridge``: rldg actions in, rldg robot state out, for the MuJoCo cell or a real Franka (franka_ros2).

Every command goes through one safety path whatever the backend: refused if NaN/inf/oversized (logged), turned
into a base-frame TCP delta, limited per step, clipped to the workspace box, and executed once: a control tick
without a fresh command holds the current pose (``holding`` is reported after ``safety.watchdog_timeout`` without
one). Backends (``robot_backends.py``, one protocol):

* ``sim``: owns the cell (rldg_ros.sim), steps it at ``control_hz`` in real time (or as fast as possible,
  publishing ``/clock``, with ``realtime: false``), publishes the wrist camera under realsense2_camera's names.
* ``franka_ros2``: publishes a ``geometry_msgs/PoseStamped`` target for a Cartesian impedance controller and
  reads ``current_pose`` / ``external_wrench_in_base_frame`` (best effort, as franka_robot_state_broadcaster
  publishes them) and joint states; topic names in ``config/nodes/franka.yaml``.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from rldg_msgs.msg import Action, RobotState
from rldg_msgs.srv import ResetEpisode
from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.hil.rules import InterventionRulesConfig
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import action_to_array, robot_state_msg
from rldg_ros.nodes.robot_backends import BACKENDS, RobotBackend
from rldg_ros.qos import RELIABLE_10
from rldg_ros.safety import CommandRefused, SafetyConfig, Watchdog, check_action, clip_to_workspace, limit_step
from rldg_ros.sim.geometry import quat_to_mat
from rldg_ros.spec import ACTION_POS, ACTION_ROT, CONTROL_HZ, GRIPPER_DIM


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
        self.held_ticks = 0  # ticks without a fresh command (the arm held)
        self.pub_state = self.create_publisher(RobotState, topics.ROBOT_STATE.name, RELIABLE_10)
        self.create_subscription(Action, topics.COMMAND.name, self._on_command, RELIABLE_10)
        self.create_service(ResetEpisode, topics.RESET_EPISODE.name, self._on_reset)
        self.backend: RobotBackend = BACKENDS[cfg.backend](self)
        self.backend.start()
        self.get_logger().info(f"robot_bridge up: backend {cfg.backend}, task {cfg.task}, {cfg.control_hz:g} Hz")

    # -- inputs ----------------------------------------------------------------------------------------------------
    def now_s(self) -> float:
        t = self.backend.now_s()
        return self.get_clock().now().nanoseconds * 1e-9 if t is None else t

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
            self.backend.wake()

    def _on_reset(self, request: ResetEpisode.Request, response: ResetEpisode.Response):
        out = self.backend.request_reset(request)
        response.success, response.message, response.episode_id, response.seed = out[0], out[1], out[2], out[3]
        return response

    def do_reset(self, request: ResetEpisode.Request) -> list:
        """Reset the robot for a new episode (on the thread that drives the ticks) -> [ok, message, id, seed]."""
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
    def tick(self) -> None:
        """One control period: execute the fresh command once (through the safety path) or hold; publish the
        state."""
        cfg, backend = self.cfg, self.backend
        if not backend.ready():
            return
        with self.lock:
            now = self.now_s()
            # holding (the state's flag): no command for the watchdog's timeout; a tick without a fresh command
            # (a late one, or none) does not move the arm either
            holding = self.watchdog.expired(now)
            limited = False
            if holding or self.latest is None:
                backend.hold()
                self.held_ticks += 1
            else:
                a = self.latest[0]
                self.latest = None  # executed: never repeated
                pos, quat = backend.pose()
                rot = quat_to_mat(quat)
                dpos = rot @ (a[ACTION_POS] * cfg.action_scale_pos)  # wrist frame -> base frame
                drot = rot @ (a[ACTION_ROT] * cfg.action_scale_rot)
                dpos, drot, limited = limit_step(dpos, drot, cfg.safety)
                target, clipped = clip_to_workspace(pos + dpos, cfg.safety)
                backend.apply(target - pos, drot, float(a[GRIPPER_DIM]))
                limited = limited or clipped
            backend.advance()
            state, joints, joint_vel, closed = backend.state()
            self.episode_step += 1
            episode_id, episode_step = self.episode_id, self.episode_step
        stamp = self.get_clock().now().to_msg()
        backend.publish_before_state(stamp, episode_id)
        self.pub_state.publish(robot_state_msg(state, joints, joint_vel, closed, stamp, cfg.frame_id,
                                               holding=holding, limited=limited, episode_id=episode_id,
                                               episode_step=episode_step))
        backend.publish_after_state(stamp, episode_id, episode_step)

    def shutdown(self) -> None:
        self.get_logger().info(f"robot_bridge down: {self.episode_id} episode(s), {self.held_ticks} held tick(s), "
                               f"{getattr(self.backend, 'lockstep_timeouts', 0)} lock-step wait(s) timed out, "
                               f"{sum(self.refused.values())} command(s) refused")
        self.backend.stop()
