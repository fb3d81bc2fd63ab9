"""ros2 launch rldg_ros train_rl_fleet.launch.py [key:=value ...]

Graph 'train_rl_fleet' of rldg_ros/graphs.py ('rldg graphs train_rl_fleet' lists its arguments and nodes).
"""

from rldg_ros.launch_support import launch_description


def generate_launch_description():
    return launch_description("train_rl_fleet")
