"""``robot_bridge``'s real-robot backend: franka_ros2's Cartesian impedance controller (or our franka_sim_driver,
which speaks the same topics), ticked by a ROS timer."""

from __future__ import annotations

import threading

import numpy as np
from geometry_msgs.msg import PoseStamped, WrenchStamped
from rclpy.time import Time
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from rldg_ros.qos import RELIABLE_10, SENSOR
from rldg_ros.safety import clip_to_workspace
from rldg_ros.sim.geometry import quat_from_axis_angle, quat_mul


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
