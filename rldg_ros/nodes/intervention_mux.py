"""``intervention_mux``: policy actions + human input (SpaceMouse via spacenav, keyboard) + an automatic scripted
intervener -> the one executed action for the robot bridge, flagged with its source (see rldg_ros.hil.mux).

Output is event-driven: each fresh policy action is answered at once (no added tick latency); a timer at
``control_hz`` covers the times no policy action arrives (human-only driving, pause, hold).
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from geometry_msgs.msg import Twist
from sensor_msgs.msg import Joy

from rldg_msgs.msg import Action, RobotState
from rldg_msgs.srv import SetControlMode
from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.hil.mux import MODE_NAMES, InterventionMux, MuxConfig
from rldg_ros.hil.spacemouse import InputMapConfig, InputMapper
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import action_to_array, twist_to_array
from rldg_ros.qos import RELIABLE_10
from rldg_ros.safety import CommandRefused, check_action
from rldg_ros.sim.geometry import quat_to_mat
from rldg_ros.spec import CONTROL_HZ


@dataclass
class InterventionMuxConfig:
    input: str = param("spacemouse", choices=("spacemouse", "keyboard", "expert", "human_like", "none"),
                       help="which human/scripted source may intervene")
    control_hz: float = param(CONTROL_HZ, min=1.0, max=100.0, help="output rate when no policy action drives it")
    max_abs_action: float = param(1.0, min=0.1, max=10.0,
                                  help="policy / scripted actions with any |a_i| above this are refused")
    mux: MuxConfig = field(default_factory=MuxConfig)
    input_map: InputMapConfig = field(default_factory=InputMapConfig)


class InterventionMuxNode(RldgNode):
    CONFIG = InterventionMuxConfig
    DEFAULT_NAME = "intervention_mux"
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        c = self.cfg
        self.lock = threading.Lock()
        self.mux = InterventionMux(c.mux)
        self.mapper = InputMapper(c.input_map)
        self.tcp_rot = quat_to_mat(np.array([0.0, 1.0, 0.0, 0.0]))  # pointing down until the first state
        self.last_twist = np.zeros(6)
        self.buttons_down = False
        self.last_output = 0.0
        self.step = 0
        self.events_seen = 0
        self.scripted_key: tuple[int, int] | None = None
        self.refused: Counter = Counter()  # (source, reason) -> refused inputs
        self.pub = self.create_publisher(Action, topics.COMMAND.name, RELIABLE_10)
        self.create_subscription(Action, topics.POLICY_ACTION.name, self._on_policy, RELIABLE_10)
        self.create_subscription(RobotState, topics.ROBOT_STATE.name, self._on_state, RELIABLE_10)
        self.create_service(SetControlMode, topics.SET_CONTROL_MODE.name, self._on_mode)
        if c.input == "spacemouse":
            self.create_subscription(Twist, topics.SPACENAV_TWIST.name, self._on_twist, RELIABLE_10)
            self.create_subscription(Joy, topics.SPACENAV_JOY.name, self._on_joy, RELIABLE_10)
        elif c.input == "keyboard":
            self.create_subscription(Twist, topics.KEYBOARD_TWIST.name, self._on_twist, RELIABLE_10)
            self.create_subscription(Joy, topics.KEYBOARD_JOY.name, self._on_joy, RELIABLE_10)
        elif c.input in ("expert", "human_like"):
            self.create_subscription(Action, topics.SCRIPTED_ACTION.name, self._on_scripted, RELIABLE_10)
        self.create_timer(1.0 / c.control_hz, self._on_timer)

    def now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    # -- inputs ----------------------------------------------------------------------------------------------------
    def _on_state(self, msg: RobotState) -> None:
        o = msg.tcp_pose.orientation
        q = np.array([o.w, o.x, o.y, o.z])
        if np.all(np.isfinite(q)) and np.linalg.norm(q) > 0.5:
            with self.lock:
                self.tcp_rot = quat_to_mat(q / np.linalg.norm(q))

    def _human(self) -> None:
        a = self.mapper.to_action(self.last_twist, self.tcp_rot)
        self.mux.human_input(a, self.now(), self.cfg.input, self.buttons_down)

    def _refuse(self, source: str, exc: CommandRefused) -> None:
        """Count and log a refused input (the count per source and reason is in every log line)."""
        self.refused[(source, exc.kind)] += 1
        self.get_logger().error(f"{source} input refused ({exc.kind}, {self.refused[(source, exc.kind)]} so far): "
                                f"{exc}")

    def _checked(self, source: str, msg: Action) -> np.ndarray | None:
        try:
            return check_action(action_to_array(msg), max_abs=self.cfg.max_abs_action)
        except CommandRefused as exc:
            self._refuse(source, exc)
            return None

    def _on_twist(self, msg: Twist) -> None:
        v = twist_to_array(msg)
        if not np.all(np.isfinite(v)):
            self._refuse(self.cfg.input, CommandRefused(f"NaN/inf in {v.tolist()}", "NaN/inf"))
            return
        with self.lock:
            self.last_twist = v
            self._human()

    def _on_joy(self, msg: Joy) -> None:
        with self.lock:
            self.buttons_down = self.mapper.buttons(list(msg.buttons))
            self._human()

    def _on_scripted(self, msg: Action) -> None:
        a = self._checked(msg.source_name or self.cfg.input, msg)
        with self.lock:
            self.scripted_key = (int(msg.episode_id), int(msg.step))
            if a is None:  # refused: no intervention this step (and the last one is not repeated)
                self.mux.scripted_action(None, self.now())
                return
            self.mux.scripted_action(a, self.now(), msg.source_name or self.cfg.input)
            p = self.mux.policy
            if p is None or self.now() - p[1] > self.mux.cfg.policy_timeout_s:
                # no policy is running (scripted teleop): answer the step at once, tagged with it, so a lock-step
                # cell does not wait for the timer
                self._emit(msg.header.stamp, msg.episode_id, msg.step)

    def _on_policy(self, msg: Action) -> None:
        a = self._checked(msg.source_name or "policy", msg)
        with self.lock:
            if a is None:  # refused: the step is answered with a hold, and the policy's last action is forgotten
                self.mux.drop_policy_action()
                self._publish(self.mux.hold("refused policy action"), msg.header.stamp, msg.episode_id, msg.step)
                return
            key = (int(msg.episode_id), int(msg.step))
            if msg.episode_id and self.scripted_key is not None and self.scripted_key != key:
                # a step-tagged policy action: an intervention counts only for the very step it was made for (in a
                # faster-than-real-time sim the time-based freshness window spans several steps)
                self.mux.scripted_action(None, self.now())
                self.scripted_key = None
            self.mux.policy_action(a, self.now(), msg.source_name or "policy")
            self._emit(msg.header.stamp, msg.episode_id, msg.step)

    def _on_timer(self) -> None:
        with self.lock:
            if self.now() - self.last_output >= 0.9 / self.cfg.control_hz:
                self._emit(None, 0, self.step)

    def _on_mode(self, request: SetControlMode.Request, response: SetControlMode.Response):
        with self.lock:
            try:
                response.previous_mode = self.mux.set_mode(int(request.mode))
                response.success = True
                response.message = f"control mode {MODE_NAMES[request.mode]}"
            except ValueError as exc:
                response.success, response.message = False, str(exc)
        self.get_logger().info(response.message)
        return response

    # -- output ----------------------------------------------------------------------------------------------------
    def _emit(self, stamp, episode_id: int, step: int) -> None:
        d = self.mux.decide(self.now())
        for event in self.mux.events[self.events_seen:]:
            if "stale" in event:
                self.get_logger().warning(event)
            else:
                self.get_logger().info(event)
        self.events_seen = len(self.mux.events)
        if d.action is not None:
            self._publish(d, stamp, episode_id, step)

    def _publish(self, d, stamp, episode_id: int, step: int) -> None:
        msg = Action()
        msg.header.stamp = stamp if stamp is not None else self.get_clock().now().to_msg()
        msg.action = [float(v) for v in d.action]
        msg.source, msg.source_name, msg.intervention = d.source, d.source_name, d.intervention
        msg.episode_id, msg.step = int(episode_id), int(step)
        self.pub.publish(msg)
        self.last_output = self.now()
        self.step = step + 1
