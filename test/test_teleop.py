"""The teleop graph: scripted demonstrations end to end, and operator episode control through the service."""

import subprocess
import sys
import time
from pathlib import Path

from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node

from rldg_msgs.msg import EpisodeEvent
from rldg_msgs.srv import EpisodeCommand
from rldg_ros import topics
from rldg_ros.qos import RELIABLE_10

RLDG = str(Path(sys.executable).parent / "rldg")


def _graph(ros_env, *args):
    return subprocess.Popen([RLDG, "up", "teleop", *args], env=ros_env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def _probe(ctx):
    node = Node("teleop_probe", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    events: list[EpisodeEvent] = []
    node.create_subscription(EpisodeEvent, topics.EPISODE.name, events.append, RELIABLE_10)
    return node, ex, events


def _spin_until(ex, pred, timeout):
    end = time.monotonic() + timeout
    while not pred() and time.monotonic() < end:
        ex.spin_once(timeout_sec=0.05)
    return pred()


def test_scripted_teleop_records_successful_episodes(ros_env, ros_context):
    # a generous limit: an overloaded machine runs the loop late, the watchdog holds the robot, progress per step
    # drops (the limit counts control steps); the expert needs ~40 of them when the loop keeps up
    proc = _graph(ros_env, "input:=expert", "episodes:=2", "task:=connector_insertion/vga", "time_limit_s:=60")
    node, ex, events = _probe(ros_context)
    try:
        ends = lambda: [e for e in events if e.event == EpisodeEvent.EVENT_END]  # noqa: E731
        assert _spin_until(ex, lambda: len(ends()) >= 2, 150), [(e.event, e.reason) for e in events]
        # episode 1 starts as soon as the graph is up: a subscriber that matched later may miss that START
        starts = [e for e in events if e.event == EpisodeEvent.EVENT_START]
        assert starts and all(e.task_id == "connector_insertion/vga" for e in starts)
        assert all("vga" in e.language_instruction for e in starts)
        assert all(e.success and e.reason == "success" and 0 < e.num_steps < 600 for e in ends()[:2]), \
            [(e.episode_id, e.success, e.reason, e.num_steps) for e in ends()]
        assert ends()[1].episode_id == ends()[0].episode_id + 1
    finally:
        node.destroy_node()
        proc.terminate()
        out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out


def test_operator_controls_episodes_through_the_service(ros_env, ros_context):
    # successes:=1: the graph ends by itself once one episode succeeded (N successful demonstrations)
    proc = _graph(ros_env, "input:=none", "successes:=1")
    node, ex, events = _probe(ros_context)
    client = node.create_client(EpisodeCommand, topics.EPISODE_COMMAND.name)

    def call(cmd):
        fut = client.call_async(EpisodeCommand.Request(command=cmd))
        assert _spin_until(ex, fut.done, 20)
        return fut.result()

    try:
        assert client.wait_for_service(timeout_sec=60)
        assert not call(EpisodeCommand.Request.MARK_SUCCESS).success  # nothing running yet
        assert call(EpisodeCommand.Request.START).success
        assert _spin_until(ex, lambda: any(e.event == EpisodeEvent.EVENT_START for e in events), 30)
        assert not call(EpisodeCommand.Request.START).success  # one at a time
        r = call(EpisodeCommand.Request.MARK_FAILURE)
        assert r.success
        assert _spin_until(ex, lambda: any(e.event == EpisodeEvent.EVENT_END for e in events), 10)
        end = next(e for e in events if e.event == EpisodeEvent.EVENT_END)
        assert not end.success and end.reason == "marked failure" and end.episode_id == r.episode_id
        assert proc.poll() is None  # a failure does not count towards successes:=1
        assert call(EpisodeCommand.Request.START).success
        assert _spin_until(ex, lambda: sum(e.event == EpisodeEvent.EVENT_START for e in events) >= 2, 30)
        assert call(EpisodeCommand.Request.MARK_SUCCESS).success
        assert not call(EpisodeCommand.Request.START).success  # the one success asked for is there
        out = proc.communicate(timeout=60)[0]  # ends without being stopped
        assert "2 episodes done, 1 successful" in out, out[-3000:]
    finally:
        node.destroy_node()
        if proc.poll() is None:
            proc.terminate()
            out = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, out
