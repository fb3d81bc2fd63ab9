"""Every rldg_msgs message and service crosses DDS between two processes intact."""

import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

HELPERS = Path(__file__).parent / "helpers"
sys.path.insert(0, str(HELPERS))
from msgfill import all_types, fill  # noqa: E402

QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE, durability=DurabilityPolicy.VOLATILE)
EXPECTED_MSGS = {"Action", "EpisodeEvent", "Observation", "ParameterBlob", "Reward", "RobotState", "Transition",
                 "TransitionAck"}
EXPECTED_SRVS = {"EpisodeCommand", "ResetEpisode", "SaveCheckpoint", "SetControlMode"}


def test_interface_set_is_the_designed_one():
    assert {c.__name__ for c in all_types("rldg_msgs.msg")} == EXPECTED_MSGS
    assert {c.__name__ for c in all_types("rldg_msgs.srv")} == EXPECTED_SRVS


def test_the_spec_mirrors_the_message_constants():
    """The ROS-free core uses rldg_ros.spec's source codes and layout; the messages carry the same values."""
    from rldg_msgs.msg import Action
    from rldg_ros import spec

    for name in ("SOURCE_POLICY", "SOURCE_HUMAN", "SOURCE_SCRIPTED", "SOURCE_HOLD"):
        assert getattr(Action, name) == getattr(spec, name), name
    assert len(Action().action) in (0, spec.ACTION_DIM)  # unbounded: the length is checked by the receivers


@pytest.fixture
def echo_server(ros_env):
    proc = subprocess.Popen([sys.executable, str(HELPERS / "echo_server.py")], env=ros_env,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready", "echo server did not start"
        yield proc
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def _spin_until(executor, predicate, timeout):
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return predicate()


def test_every_message_and_service_round_trips_between_processes(echo_server, ros_context):
    node = Node("dds_interface_test", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    rng = random.Random(42)
    try:
        for cls in all_types("rldg_msgs.msg"):
            sent = fill(cls(), rng)
            got = []
            pub = node.create_publisher(cls, f"echo/{cls.__name__}/in", QOS)
            sub = node.create_subscription(cls, f"echo/{cls.__name__}/out", got.append, QOS)
            assert _spin_until(ex, lambda p=pub, s=sub: p.get_subscription_count() > 0 and s.get_publisher_count() > 0,
                               15), f"{cls.__name__}: peer not discovered"
            # publish until the echo comes back (the peer's reader may match a moment after ours)
            deadline = time.monotonic() + 10
            while not got and time.monotonic() < deadline:
                pub.publish(sent)
                _spin_until(ex, lambda g=got: bool(g), 0.5)
            assert got, f"{cls.__name__}: no echo"
            assert got[0] == sent, f"{cls.__name__} changed in transit"
            node.destroy_publisher(pub)
            node.destroy_subscription(sub)

        for cls in all_types("rldg_msgs.srv"):
            client = node.create_client(cls, f"echo/{cls.__name__}")
            assert client.wait_for_service(timeout_sec=15), f"{cls.__name__}: service not available"
            request = fill(cls.Request(), rng)
            future = client.call_async(request)
            assert _spin_until(ex, future.done, 10), f"{cls.__name__}: no response"
            response = future.result()
            assert response.success is True
            assert response.message == repr(request), f"{cls.__name__}: request changed in transit"
            node.destroy_client(client)
    finally:
        ex.shutdown()
        node.destroy_node()


def test_domains_isolate_processes(echo_server, ros_context, domain_id):
    """A node on another ROS_DOMAIN_ID does not see the echo server (parallel tests cannot cross-talk)."""
    from rclpy.context import Context

    other = Context()
    rclpy.init(context=other, domain_id=(domain_id % 100) + 101)
    node = Node("other_domain", context=other)
    try:
        from rldg_msgs.msg import Action

        pub = node.create_publisher(Action, "echo/Action/in", QOS)
        time.sleep(3.0)  # longer than discovery on the same domain takes
        assert pub.get_subscription_count() == 0
    finally:
        node.destroy_node()
        rclpy.shutdown(context=other)
