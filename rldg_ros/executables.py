"""Every executable of the rldg_ros package: the single list that setup.py, launch files and ``rldg up`` use.

This module imports nothing, so ``setup.py`` can read it without importing rclpy.

``NODES`` maps an executable name to the ``module:Class`` of its rclpy node (an :class:`rldg_ros.nodes.base.RldgNode`).
"""

NODES: dict[str, str] = {
    "demo_talker": "rldg_ros.nodes.demo:DemoTalker",
    "demo_listener": "rldg_ros.nodes.demo:DemoListener",
    "robot_bridge": "rldg_ros.nodes.robot_bridge:RobotBridge",
    "franka_sim_driver": "rldg_ros.nodes.franka_sim_driver:FrankaSimDriver",
    "camera": "rldg_ros.nodes.camera:Camera",
    "intervention_mux": "rldg_ros.nodes.intervention_mux:InterventionMuxNode",
    "spacemouse_hid": "rldg_ros.nodes.spacemouse_hid:SpaceMouseHid",
    "keyboard_teleop": "rldg_ros.nodes.keyboard_teleop:KeyboardTeleop",
    "teleop_episodes": "rldg_ros.nodes.teleop_episodes:TeleopEpisodes",
    "reward_classifier": "rldg_ros.nodes.reward_classifier:RewardClassifierNode",
    "rl_actor": "rldg_ros.nodes.rl_actor:RlActor",
    "rl_learner": "rldg_ros.nodes.rl_learner:RlLearner",
    "recorder": "rldg_ros.nodes.recorder:Recorder",
    "vla_policy": "rldg_ros.nodes.vla_policy:VlaPolicy",
}

#: console scripts besides the nodes
COMMANDS: dict[str, str] = {
    "rldg": "rldg_ros.cli:main",
}


def console_scripts() -> list[str]:
    """Entry points for setup.py: every node plus the CLI."""
    names = sorted(NODES)
    return [f"{name} = rldg_ros.nodes.entry:{name}" for name in names] + [
        f"{name} = {target}" for name, target in COMMANDS.items()
    ]
