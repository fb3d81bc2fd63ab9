"""ros2 launch rldg_ros eval_rl.launch.py [key:=value ...]

Graph 'eval_rl' of rldg_ros/graphs.py ('rldg graphs eval_rl' lists its arguments and nodes).
"""

from rldg_ros.launch_support import launch_description


def generate_launch_description():
    return launch_description("eval_rl")
