"""Translate a graph of :mod:`rldg_ros.graphs` into a ``launch`` description (for users with a ROS 2 distro).

The launch files under ``launch/`` are one call to :func:`launch_description`; ``launch`` and ``launch_ros`` are
imported here, lazily, because they only exist in a ROS 2 distro.
"""

from __future__ import annotations

from typing import Any

from rldg_ros.graphs import Arg, get_graph, when_values


def launch_description(graph_name: str) -> Any:
    from ament_index_python.packages import get_package_share_directory
    from launch.actions import DeclareLaunchArgument
    from launch.conditions import IfCondition
    from launch.substitutions import LaunchConfiguration, PythonExpression
    from launch_ros.actions import Node

    from launch import LaunchDescription

    graph = get_graph(graph_name)
    share = get_package_share_directory("rldg_ros")

    def sub(value: Any) -> Any:
        return LaunchConfiguration(value.name) if isinstance(value, Arg) else value

    actions: list[Any] = [
        DeclareLaunchArgument(a.name, default_value=a.default, description=a.description,
                              **({"choices": list(a.choices)} if a.choices else {}))
        for a in graph.args
    ]
    for spec in graph.nodes:
        parameters: list[Any] = []
        parameters.extend(f"{share}/config/{f}" for f in spec.params_files)
        if spec.parameters:
            parameters.append({k: sub(v) for k, v in spec.parameters.items()})
        condition = None
        if spec.when:
            values = when_values(spec)
            condition = IfCondition(PythonExpression(["'", LaunchConfiguration(spec.when[0]), f"' in {values!r}"]))
        actions.append(Node(
            package=spec.package,
            executable=spec.executable,
            name=spec.name,
            namespace=spec.namespace,
            parameters=parameters,
            remappings=[(src, sub(dst)) for src, dst in spec.remappings],
            condition=condition,
            output="screen",
            emulate_tty=True,
            **({"respawn": True, "respawn_delay": 2.0} if spec.respawn else {}),
        ))
    return LaunchDescription(actions)
