"""Conversions between ROS messages and the numpy structures of the core."""

from __future__ import annotations

import math

import numpy as np
from geometry_msgs.msg import Twist
from sensor_msgs.msg import CameraInfo, Image, Joy

from rldg_msgs.msg import Action, Observation, RobotState
from rldg_msgs.srv import EpisodeCommand
from rldg_ros.episodes import MARK_FAILURE, MARK_SUCCESS, OPERATOR_END
from rldg_ros.spec import (
    STATE_ANG_VEL,
    STATE_DIM,
    STATE_FORCE,
    STATE_GRIPPER_WIDTH,
    STATE_LIN_VEL,
    STATE_POS,
    STATE_QUAT,
    STATE_TORQUE,
)

#: an operator's EpisodeCommand that ends an episode -> the reason it ends with (rldg_ros.episodes)
OPERATOR_REASONS = {EpisodeCommand.Request.END: OPERATOR_END, EpisodeCommand.Request.MARK_SUCCESS: MARK_SUCCESS,
                    EpisodeCommand.Request.MARK_FAILURE: MARK_FAILURE}

def action_to_array(msg: Action) -> np.ndarray:
    return np.asarray(msg.action, dtype=np.float64)


def twist_msg(v) -> Twist:
    """(6,) [vx, vy, vz, wx, wy, wz] -> Twist."""
    t = Twist()
    t.linear.x, t.linear.y, t.linear.z = (float(x) for x in v[:3])
    t.angular.x, t.angular.y, t.angular.z = (float(x) for x in v[3:6])
    return t


def twist_to_array(msg: Twist) -> np.ndarray:
    return np.array([msg.linear.x, msg.linear.y, msg.linear.z, msg.angular.x, msg.angular.y, msg.angular.z])


def joy_msg(stamp, buttons, axes=()) -> Joy:
    joy = Joy()
    if stamp is not None:
        joy.header.stamp = stamp
    joy.axes = [float(a) for a in axes]
    joy.buttons = [int(b) for b in buttons]
    return joy


def image_msg(rgb: np.ndarray, stamp, frame_id: str) -> Image:
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"an rgb8 image is H x W x 3, got shape {rgb.shape}")
    # no per-byte field checks (ROS_PYTHON_CHECK_FIELDS walks every byte in Python: ~3 ms for 128x128 at each
    # publish): the bytes come from a uint8 array of the checked shape
    msg = Image(check_fields=False)
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    msg.height, msg.width = int(rgb.shape[0]), int(rgb.shape[1])
    msg.encoding = "rgb8"
    msg.step = msg.width * 3
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg


def image_to_array(msg: Image) -> np.ndarray:
    """rgb8/bgr8 Image -> HxWx3 uint8 (RGB); a clear error for anything else."""
    if msg.encoding not in ("rgb8", "bgr8"):
        raise ValueError(f"unsupported image encoding {msg.encoding!r} (need rgb8 or bgr8)")
    if msg.step != msg.width * 3 or len(msg.data) != msg.height * msg.step:
        raise ValueError(f"malformed image: {msg.width}x{msg.height}, step {msg.step}, {len(msg.data)} bytes")
    img = np.frombuffer(bytes(msg.data), dtype=np.uint8).reshape(msg.height, msg.width, 3)
    return img[..., ::-1].copy() if msg.encoding == "bgr8" else img


def camera_info(width: int, height: int, fovy_deg: float, stamp, frame_id: str) -> CameraInfo:
    """Pinhole intrinsics of a MuJoCo camera (square pixels, vertical field of view ``fovy_deg``)."""
    f = (height / 2.0) / math.tan(math.radians(fovy_deg) / 2.0)
    info = CameraInfo()
    if stamp is not None:
        info.header.stamp = stamp
    info.header.frame_id = frame_id
    info.width, info.height = width, height
    info.distortion_model = "plumb_bob"
    info.d = [0.0] * 5
    info.k = [f, 0.0, width / 2.0, 0.0, f, height / 2.0, 0.0, 0.0, 1.0]
    info.r = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    info.p = [f, 0.0, width / 2.0, 0.0, 0.0, f, height / 2.0, 0.0, 0.0, 0.0, 1.0, 0.0]
    return info


def robot_state_msg(state: np.ndarray, joints: np.ndarray, joint_vel: np.ndarray, gripper_closed: bool, stamp,
                    frame_id: str = "base", *, holding: bool = False, limited: bool = False,
                    mode: int = 0, episode_id: int = 0, episode_step: int = 0) -> RobotState:
    """``state`` is the spec's robot state (``rldg_ros.spec``: STATE_NAMES and its named slices)."""
    s = np.asarray(state, dtype=np.float64)
    if s.shape != (STATE_DIM,):
        raise ValueError(f"robot state must have {STATE_DIM} values, got shape {s.shape}")
    msg = RobotState()
    if stamp is not None:
        msg.header.stamp = stamp
    msg.header.frame_id = frame_id
    p, q = msg.tcp_pose.position, msg.tcp_pose.orientation
    p.x, p.y, p.z = s[STATE_POS]
    q.w, q.x, q.y, q.z = s[STATE_QUAT]
    lin, ang = msg.tcp_twist.linear, msg.tcp_twist.angular
    lin.x, lin.y, lin.z = s[STATE_LIN_VEL]
    ang.x, ang.y, ang.z = s[STATE_ANG_VEL]
    f, t = msg.tcp_wrench.force, msg.tcp_wrench.torque
    f.x, f.y, f.z = s[STATE_FORCE]
    t.x, t.y, t.z = s[STATE_TORQUE]
    msg.gripper_width = float(s[STATE_GRIPPER_WIDTH])
    msg.gripper_closed = bool(gripper_closed)
    msg.joint_positions = [float(v) for v in joints]
    msg.joint_velocities = [float(v) for v in joint_vel]
    msg.control_mode = mode
    msg.holding = holding
    msg.safety_limited = limited
    msg.episode_id, msg.episode_step = int(episode_id), int(episode_step)
    return msg


def robot_state_to_array(msg: RobotState) -> np.ndarray:
    s = np.empty(STATE_DIM, np.float32)
    p, q = msg.tcp_pose.position, msg.tcp_pose.orientation
    lin, ang = msg.tcp_twist.linear, msg.tcp_twist.angular
    f, t = msg.tcp_wrench.force, msg.tcp_wrench.torque
    s[STATE_POS], s[STATE_QUAT] = (p.x, p.y, p.z), (q.w, q.x, q.y, q.z)
    s[STATE_LIN_VEL], s[STATE_ANG_VEL] = (lin.x, lin.y, lin.z), (ang.x, ang.y, ang.z)
    s[STATE_FORCE], s[STATE_TORQUE] = (f.x, f.y, f.z), (t.x, t.y, t.z)
    s[STATE_GRIPPER_WIDTH] = msg.gripper_width
    return s


def observation_msg(state_msg: RobotState, image: Image | None, privileged: list | None) -> Observation:
    """The observation a transition carries: the state array, the gripper flag, the privileged features (sim-only
    mode), the wrist image (pixels mode); stamped as the state."""
    o = Observation(header=state_msg.header, image=image if image is not None else Image())
    o.state = ([float(v) for v in robot_state_to_array(state_msg)] + [1.0 if state_msg.gripper_closed else 0.0]
               + [float(v) for v in ([] if privileged is None else privileged)])
    return o
