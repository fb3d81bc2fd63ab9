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
                               str(config_path("nodes/robot_bridge")), "-p", "scripted.policy:=expert",
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


def test_bad_actions_are_refused_by_mux_and_bridge_and_a_silent_policy_is_not_repeated(ros_env, ros_context):
    """A sloppy publisher (field checks off, as any external node may be) sends 6-value, 1-value, NaN and oversized
    actions to the mux and straight to the bridge: each is refused with its reason and counted, the arm does not
    move; then a valid policy action once, then silence: the mux does not repeat it and the bridge holds."""
    from rldg_msgs.msg import RobotState
    from rldg_ros import config_path

    bridge = subprocess.Popen([str(BIN / "robot_bridge"), "--ros-args", "--params-file",
                               str(config_path("nodes/robot_bridge"))], env=ros_env, stderr=subprocess.PIPE, text=True)
    mux = subprocess.Popen([str(BIN / "intervention_mux"), "--ros-args", "-p", "input:=none"], env=ros_env,
                           stderr=subprocess.PIPE, text=True)
    node = Node("refusal_probe", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    states: list[RobotState] = []
    commands: list[Action] = []
    node.create_subscription(RobotState, topics.ROBOT_STATE.name, states.append, RELIABLE_10)
    node.create_subscription(Action, topics.COMMAND.name, commands.append, RELIABLE_10)
    pol = node.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
    cmd = node.create_publisher(Action, topics.COMMAND.name, RELIABLE_10)

    def spin(seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            ex.spin_once(timeout_sec=0.01)

    def sloppy(values, pub):
        m = Action(check_fields=False)  # what a node without ROS_PYTHON_CHECK_FIELDS may publish
        m.action = values
        m.source_name = "sloppy"
        pub.publish(m)

    bad = [[0.9] * 6, [0.9], [0.1, float("nan"), 0, 0, 0, 0, 1], [3.0, 0, 0, 0, 0, 0, 1]]
    try:
        end = time.monotonic() + 30
        while (not states or pol.get_subscription_count() == 0 or cmd.get_subscription_count() < 2) and \
                time.monotonic() < end:
            spin(0.2)
        assert states, "no robot state from the bridge"
        spin(1.0)
        start = np.array([states[-1].tcp_pose.position.x, states[-1].tcp_pose.position.y,
                          states[-1].tcp_pose.position.z])
        n_commands = len(commands)
        for _ in range(3):
            for values in bad:
                sloppy(values, pol)
                sloppy(values, cmd)
                spin(0.1)
        spin(1.0)
        now = np.array([states[-1].tcp_pose.position.x, states[-1].tcp_pose.position.y,
                        states[-1].tcp_pose.position.z])
        assert np.abs(now - start).max() < 5e-4, now - start  # no motion
        from_mux = [c for c in commands[n_commands:] if c.source_name != "sloppy"]
        assert from_mux and all(c.source == Action.SOURCE_HOLD and np.allclose(c.action[:6], 0) for c in from_mux)
        # one valid policy action, then the policy falls silent
        good = Action()
        good.action, good.source_name = [0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0], "test_policy"
        n_commands = len(commands)
        pol.publish(good)
        spin(2.0)
        sent = [c for c in commands[n_commands:] if c.source == Action.SOURCE_POLICY]
        assert len(sent) == 1, [(c.source, list(c.action)) for c in commands[n_commands:]]  # not repeated
        assert states[-1].holding  # the watchdog holds once the last command is older than its timeout
    finally:
        node.destroy_node()
        for p in (mux, bridge):
            p.terminate()
        mux_err, bridge_err = mux.communicate(timeout=20)[1], bridge.communicate(timeout=20)[1]
    assert mux.returncode == 0 and bridge.returncode == 0, (mux_err[-2000:], bridge_err[-2000:])
    for kind in ("wrong size", "NaN/inf", "oversized"):
        assert f"sloppy input refused ({kind}, " in mux_err, mux_err[-3000:]
        assert f"command refused (sloppy; {kind}, " in bridge_err, bridge_err[-3000:]
    assert "action must have 7 values, got 6" in mux_err and "action must have 7 values, got 1" in bridge_err
    assert "(wrong size, 6 so far)" in mux_err  # counted: 2 wrong sizes x 3 rounds
