"""intervention_mux over ROS: policy passthrough, SpaceMouse takeover, stale driver -> hold, control modes."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from geometry_msgs.msg import Twist
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from rldg_msgs.msg import Action
from rldg_msgs.srv import SetControlMode
from rldg_ros import topics
from rldg_ros.qos import RELIABLE_10

BIN = Path(sys.executable).parent


def test_mux_node(ros_env, ros_context):
    proc = subprocess.Popen([str(BIN / "intervention_mux"), "--ros-args", "-p", "input:=spacemouse"], env=ros_env,
                            stderr=subprocess.PIPE, text=True)
    node = Node("mux_probe", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    out: list[Action] = []
    node.create_subscription(Action, topics.COMMAND.name, out.append, RELIABLE_10)
    pol = node.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
    twist_pub = node.create_publisher(Twist, topics.SPACENAV_TWIST.name, RELIABLE_10)
    mode = node.create_client(SetControlMode, topics.SET_CONTROL_MODE.name)
    policy = [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]

    def drive(seconds, twist=None):
        end, nxt = time.monotonic() + seconds, time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= nxt:
                m = Action()
                m.action = policy
                m.source_name = "test_policy"
                pol.publish(m)
                if twist is not None:
                    t = Twist()
                    t.linear.x = twist
                    twist_pub.publish(t)
                nxt += 0.1
            ex.spin_once(timeout_sec=0.01)

    def set_mode(m):
        fut = mode.call_async(SetControlMode.Request(mode=m))
        end = time.monotonic() + 10
        while not fut.done() and time.monotonic() < end:
            ex.spin_once(timeout_sec=0.05)
        return fut.result()

    try:
        end = time.monotonic() + 20
        while not out and time.monotonic() < end:
            drive(0.5)
        assert out, "no command from intervention_mux"
        drive(0.5)
        last = out[-1]
        assert last.source == Action.SOURCE_POLICY and not last.intervention
        np.testing.assert_allclose(last.action, policy, atol=1e-6)

        drive(0.5, twist=-0.8)  # the operator pulls the puck towards them: base -x
        last = out[-1]
        assert last.source == Action.SOURCE_HUMAN and last.intervention and last.source_name == "spacemouse"
        assert last.action[0] < -0.5  # gripper pointing down: base -x is wrist -x

        drive(1.0)  # spacenav silent after an active command: the driver died -> hold
        last = out[-1]
        assert last.source == Action.SOURCE_HOLD and np.allclose(last.action[:6], 0)

        assert mode.wait_for_service(timeout_sec=10)
        r = set_mode(SetControlMode.Request.MODE_POLICY)
        assert r.success and r.previous_mode == SetControlMode.Request.MODE_HOLD
        drive(1.0)
        assert out[-1].source == Action.SOURCE_POLICY
        np.testing.assert_allclose(out[-1].action, policy, atol=1e-6)  # ramp finished
        assert set_mode(SetControlMode.Request.MODE_PAUSE).success
        drive(0.5)
        assert out[-1].source == Action.SOURCE_HOLD
        assert not set_mode(7).success
    finally:
        node.destroy_node()
        proc.terminate()
        err = proc.communicate(timeout=20)[1]
    assert proc.returncode == 0, err
    assert "stale" in err and "takeover by spacemouse" in err


def test_scripted_intervener_rescues_a_stuck_policy(ros_env, ros_context):
    """bridge (sim, expert intervener, stuck rule) + mux (input:=expert) + a policy that never moves:
    the expert takes over through the mux and inserts the connector."""
    from rldg_msgs.msg import RobotState
    from rldg_ros import config_path
    from rldg_ros.sim.tasks.peg import PEG_OUT, PORT_HEIGHT

    bridge = subprocess.Popen([str(BIN / "robot_bridge"), "--ros-args", "--params-file",
                               str(config_path("robot_bridge")), "-p", "scripted.policy:=expert",
                               "-p", "scripted.stuck_steps:=5", "-p", "scripted.min_steps:=200"], env=ros_env,
                              stderr=subprocess.PIPE, text=True)
    mux = subprocess.Popen([str(BIN / "intervention_mux"), "--ros-args", "-p", "input:=expert"], env=ros_env,
                           stderr=subprocess.PIPE, text=True)
    node = Node("rescue_probe", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    states, commands = [], []
    node.create_subscription(RobotState, topics.ROBOT_STATE.name, states.append, RELIABLE_10)
    node.create_subscription(Action, topics.COMMAND.name, commands.append, RELIABLE_10)
    pol = node.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
    try:
        end, nxt = time.monotonic() + 40, time.monotonic()
        inserted = False
        while time.monotonic() < end and not inserted:
            if time.monotonic() >= nxt:
                m = Action()
                m.action = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0]  # a stuck policy
                pol.publish(m)
                nxt += 0.1
            ex.spin_once(timeout_sec=0.01)
            if states:
                tip_z = states[-1].tcp_pose.position.z - PEG_OUT
                inserted = tip_z < PORT_HEIGHT - 0.01
        assert any(c.source == Action.SOURCE_SCRIPTED and c.intervention for c in commands)
        assert inserted, "the expert intervener did not insert the connector"
    finally:
        node.destroy_node()
        for p in (mux, bridge):
            p.terminate()
            p.communicate(timeout=20)
    assert bridge.returncode == 0 and mux.returncode == 0
