"""ros2 launch rldg_ros run_vla.launch.py [key:=value ...]

Graph 'run_vla' of rldg_ros/graphs.py ('rldg graphs run_vla' lists its arguments and nodes).
"""

from rldg_ros.launch_support import launch_description


def generate_launch_description():
    return launch_description("run_vla")
