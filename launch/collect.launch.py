"""ros2 launch rldg_ros collect.launch.py [key:=value ...]

Graph 'collect' of rldg_ros/graphs.py ('rldg graphs collect' lists its arguments and nodes).
"""

from rldg_ros.launch_support import launch_description


def generate_launch_description():
    return launch_description("collect")
