"""reward_classifier node over ROS: one Reward per good frame (same stamp), k-frame latch, reset on episode start,
bad frames rejected with a logged error; the sim ground-truth source; a missing model stops the node."""

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from builtin_interfaces.msg import Time
from helpers.reward_data import scene, write_synthetic
from helpers.stderr_watch import StderrWatcher, wait_until
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from rldg_msgs.msg import EpisodeEvent, Reward
from rldg_ros import topics
from rldg_ros.nodes.convert import image_msg
from rldg_ros.qos import RELIABLE_10, SENSOR
from rldg_ros.reward.model import ArchConfig
from rldg_ros.reward.train import TrainConfig, train

BIN = Path(sys.executable).parent
TINY = ArchConfig(image_size=32, channels=(8, 16), embed_features=4, hidden=32, dropout=0.0)


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    d = tmp_path_factory.mktemp("reward")
    write_synthetic(d / "data", episodes=16)
    train(d / "data", d / "m", TrainConfig(steps=150, batch_size=16, eval_every=50, lr=1e-3, target_precision=0.95),
          arch=TINY, progress=False, log=lambda _: None)
    return d / "m"


class Probe:
    def __init__(self, ctx):
        self.node = Node("reward_probe", context=ctx)
        self.ex = SingleThreadedExecutor(context=ctx)
        self.ex.add_node(self.node)
        self.rewards: list[Reward] = []
        self.node.create_subscription(Reward, topics.REWARD.name, self.rewards.append, RELIABLE_10)
        self.img = self.node.create_publisher(Image, topics.POLICY_IMAGE.name, SENSOR)
        self.episode = self.node.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
        self.success = self.node.create_publisher(Bool, topics.SIM_SUCCESS.name, RELIABLE_10)
        self.sec = 100

    def spin(self, seconds):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.ex.spin_once(timeout_sec=0.01)

    def send(self, img, encoding="rgb8", timeout=10.0) -> Reward | None:
        """Publish one frame with a unique stamp; return the reward carrying that stamp (None if none came)."""
        self.sec += 1
        msg = image_msg(img, Time(sec=self.sec), "camera_color_optical_frame")
        msg.encoding = encoding
        self.img.publish(msg)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for r in self.rewards:
                if r.header.stamp.sec == self.sec:
                    return r
            self.ex.spin_once(timeout_sec=0.01)
        return None


def _start(args, env):
    return subprocess.Popen([str(BIN / "reward_classifier"), "--ros-args", *args], env=env, stderr=subprocess.PIPE,
                            text=True)


def _stop(proc) -> str:
    proc.terminate()
    err = proc.communicate(timeout=20)[1]
    assert proc.returncode == 0, err
    return err


def test_classifier_node_latches_resets_and_rejects_bad_frames(model, ros_env, ros_context):
    proc = _start(["-p", f"model:={model}", "-p", "k:=3", "-p", "task:=pick_place/train"], ros_env)
    watch = StderrWatcher(proc)
    probe = Probe(ros_context)
    rng = np.random.default_rng(5)
    try:
        # the node needs a moment to load the model: send until a reward comes back
        first = None
        for _ in range(60):
            first = probe.send(scene(rng, False), timeout=1.0)
            if first is not None:
                break
        assert first is not None, "no reward from reward_classifier"
        assert first.probability < first.threshold and not first.success and first.reward == 0.0

        # k = 3: success on the third consecutive success frame, not before; a failure frame breaks the run
        got = [probe.send(scene(rng, True)) for _ in range(2)] + [probe.send(scene(rng, False))]
        got += [probe.send(scene(rng, True)) for _ in range(3)]
        assert all(r is not None for r in got)
        assert [r.success for r in got] == [False, False, False, False, False, True]
        assert got[-1].reward == 1.0 and got[-1].probability >= got[-1].threshold > 0

        # a new episode resets the latch
        probe.episode.publish(EpisodeEvent(event=EpisodeEvent.EVENT_START, episode_id=2))
        probe.spin(0.5)
        assert not probe.send(scene(rng, True)).success

        # bad frames: wrong size, unsupported encoding -> nothing published, an error logged (sent until the log
        # shows both: best-effort frames may be lost on a loaded machine)
        n = len(probe.rewards)
        wrong_size = "image rejected: 64x64 image, the model takes 32x32"
        wrong_encoding = "image rejected: unsupported image encoding 'mono16'"

        def send_bad():
            probe.send(np.zeros((64, 64, 3), np.uint8), timeout=0.2)
            probe.send(scene(rng, True), encoding="mono16", timeout=0.2)

        assert wait_until(lambda: watch.seen(wrong_size) and watch.seen(wrong_encoding), 30, send_bad), watch.text
        assert len(probe.rewards) == n
        assert probe.send(scene(rng, True)) is not None  # still alive
    finally:
        probe.node.destroy_node()
        err = watch.stop()
    assert proc.returncode == 0, err
    assert "was trained on ['connector_insertion/usb'], not on 'pick_place/train'" in err


def test_ground_truth_source_and_missing_model(ros_env, ros_context):
    proc = _start(["-p", "source:=sim_ground_truth", "-p", "k:=1"], ros_env)
    probe = Probe(ros_context)
    img = np.zeros((128, 128, 3), np.uint8)
    try:
        first = None
        for _ in range(60):
            first = probe.send(img, timeout=1.0)
            if first is not None:
                break
        assert first is not None and first.probability == 0.0 and not first.success
        for _ in range(50):  # the success topic is latched by no one: publish until the node has it
            probe.success.publish(Bool(data=True))
            r = probe.send(img, timeout=1.0)
            if r is not None and r.success:
                break
        assert r is not None and r.success and r.probability == 1.0 and r.reward == 1.0
    finally:
        _stop(proc)
        probe.node.destroy_node()

    res = subprocess.run([str(BIN / "reward_classifier")], env=ros_env, capture_output=True, text=True, timeout=60)
    assert res.returncode != 0 and "no model is set" in res.stderr
