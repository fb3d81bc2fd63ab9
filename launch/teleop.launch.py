"""ros2 launch rldg_ros teleop.launch.py [key:=value ...]

Graph 'teleop' of rldg_ros/graphs.py ('rldg graphs teleop' lists its arguments and nodes).
"""

from rldg_ros.launch_support import launch_description


def generate_launch_description():
    return launch_description("teleop")
