"""ros2 launch rldg_ros smoke.launch.py [key:=value ...]

Graph 'smoke' of rldg_ros/graphs.py ('rldg graphs smoke' lists its arguments and nodes).
"""

from rldg_ros.launch_support import launch_description


def generate_launch_description():
    return launch_description("smoke")
