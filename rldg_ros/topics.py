"""Topic and service names of the stack, with their types and QoS: nodes use these, the README documents them.

Names are relative so a whole cell can run under a namespace. Camera and SpaceMouse names are those of the real
drivers (realsense2_camera >= 4.54, spacenav), so the real drivers plug in without remapping.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    name: str
    type: str
    qos: str  # "reliable" or "sensor" (best effort)
    description: str


WRIST_IMAGE = Topic("camera/camera/color/image_raw", "sensor_msgs/Image", "sensor",
                    "wrist camera, rgb8 (realsense2_camera name)")
WRIST_CAMERA_INFO = Topic("camera/camera/color/camera_info", "sensor_msgs/CameraInfo", "sensor",
                          "wrist camera intrinsics")
POLICY_IMAGE = Topic("rldg/wrist/image", "sensor_msgs/Image", "sensor",
                     "wrist image at the policy resolution, square rgb8 (camera node)")
POLICY_CAMERA_INFO = Topic("rldg/wrist/camera_info", "sensor_msgs/CameraInfo", "sensor",
                           "intrinsics of rldg/wrist/image")
ROBOT_STATE = Topic("rldg/robot_state", "rldg_msgs/RobotState", "reliable",
                    "TCP pose/twist/wrench, gripper, joints, mode (robot_bridge)")
POLICY_ACTION = Topic("rldg/action/policy", "rldg_msgs/Action", "reliable",
                      "the policy's proposed action (rl_actor, vla_policy, collector)")
COMMAND = Topic("rldg/action/command", "rldg_msgs/Action", "reliable",
                "the executed action, flagged intervention/source (intervention_mux -> robot_bridge)")
SPACENAV_TWIST = Topic("spacenav/twist", "geometry_msgs/Twist", "reliable", "SpaceMouse 6-D input (spacenav)")
SPACENAV_JOY = Topic("spacenav/joy", "sensor_msgs/Joy", "reliable", "SpaceMouse buttons (spacenav)")
SCRIPTED_ACTION = Topic("rldg/action/scripted", "rldg_msgs/Action", "reliable",
                        "automatic intervener's action while one of its rules fires (sim)")
KEYBOARD_TWIST = Topic("keyboard/twist", "geometry_msgs/Twist", "reliable", "keyboard teleop, spacenav-like")
KEYBOARD_JOY = Topic("keyboard/joy", "sensor_msgs/Joy", "reliable", "keyboard teleop gripper buttons")
SIM_SUCCESS = Topic("rldg/sim/success", "std_msgs/Bool", "reliable",
                    "ground-truth task success, sim only (privileged: never an input to a policy)")
SIM_PRIVILEGED = Topic("rldg/sim/privileged", "rldg_msgs/Observation", "reliable",
                       "ground-truth goal features, sim only: input of the labelled privileged-state RL mode alone")
REWARD = Topic("rldg/reward", "rldg_msgs/Reward", "reliable", "success probability and reward (reward_classifier)")
EPISODE = Topic("rldg/episode", "rldg_msgs/EpisodeEvent", "reliable", "episode start/end/phase events")
TRANSITIONS = Topic("rldg/transitions", "rldg_msgs/Transition", "reliable", "actor -> learner transitions")
TRANSITION_ACK = Topic("rldg/transitions/ack", "rldg_msgs/TransitionAck", "reliable",
                       "learner -> actor: stored up to seq")
POLICY_PARAMS = Topic("rldg/policy_params", "rldg_msgs/ParameterBlob", "reliable",
                      "learner -> actor policy parameters")

RESET_EPISODE = Topic("rldg/reset_episode", "rldg_msgs/srv/ResetEpisode", "service", "reset the cell (robot_bridge)")
SET_CONTROL_MODE = Topic("rldg/set_control_mode", "rldg_msgs/srv/SetControlMode", "service",
                         "policy / human / pause / hold (intervention_mux)")
EPISODE_COMMAND = Topic("rldg/episode_command", "rldg_msgs/srv/EpisodeCommand", "service",
                        "start/end/mark episodes (episode owner)")
SAVE_CHECKPOINT = Topic("rldg/save_checkpoint", "rldg_msgs/srv/SaveCheckpoint", "service",
                        "checkpoint now (rl_learner)")

ALL = [v for v in list(globals().values()) if isinstance(v, Topic)]
