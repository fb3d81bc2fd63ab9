"""vla_policy: chunk execution, and the run_vla graph serving a tiny model at the control rate."""

import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from rldg_ros.vla.serving import ChunkExecutor

BIN = Path(sys.executable).parent
WANTED = 25  # policy actions the served model must answer before the test stops the graph


def test_receding_horizon_and_temporal_ensembling():
    r = ChunkExecutor("receding", execute_steps=2, decay=0.0)
    chunk = np.arange(4 * 7, dtype=np.float32).reshape(4, 7)
    assert r.needs_prediction()
    r.add(chunk)
    np.testing.assert_array_equal(r.next(), chunk[0])
    assert not r.needs_prediction()
    np.testing.assert_array_equal(r.next(), chunk[1])
    assert r.needs_prediction()  # 2 executed: replan
    e = ChunkExecutor("ensemble", execute_steps=1, decay=0.0)
    e.add(np.zeros((4, 7)))
    np.testing.assert_array_equal(e.next(), np.zeros(7))
    e.add(np.ones((4, 7)))  # step 1: the first chunk's 2nd action (0) and the new chunk's 1st (1) average
    np.testing.assert_allclose(e.next(), np.full(7, 0.5))
    w = ChunkExecutor("ensemble", execute_steps=1, decay=1.0)
    w.add(np.zeros((4, 7)))
    w.next()
    w.add(np.ones((4, 7)))
    np.testing.assert_allclose(w.next(), np.full(7, 1 / (1 + np.exp(-1.0))))  # older predictions weigh less


def _tiny_octo(path: Path) -> None:
    from rldg_ros.vla import octo_style as octo

    cfg = octo.OctoConfig(image_size=32, stem=(16, 32), patch=2, width=32, depth=2, heads=2, mlp=64, head_hidden=64,
                          head_blocks=2, diffusion_steps=8,
                          vocab=octo.build_vocab(["insert the usb connector into the port"]))
    z = [0.0] * 7
    stats = {"action": {"mean": z, "std": [0.3] * 7, "q01": [-1.0] * 7, "q99": [1.0] * 7, "min": z, "max": z}}
    octo.save(path, octo.OctoModel.init(cfg), stats, {"purpose": "test (untrained)"})


def test_run_vla_graph_serves_a_tiny_model_at_the_control_rate(tmp_path, ros_env, ros_context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from rldg_msgs.msg import Action
    from rldg_ros import topics
    from rldg_ros.qos import RELIABLE_10

    ckpt = tmp_path / "octo"
    _tiny_octo(ckpt)
    node = Node("vla_probe", context=ros_context)
    ex = SingleThreadedExecutor(context=ros_context)
    ex.add_node(node)
    policy, commands = [], []
    node.create_subscription(Action, topics.POLICY_ACTION.name, lambda m: policy.append((time.monotonic(), m)),
                             RELIABLE_10)
    node.create_subscription(Action, topics.COMMAND.name, lambda m: commands.append(m), RELIABLE_10)
    # no fixed duration: under load the model takes a while to come up, so wait for a number of answered states (or
    # a generous deadline), then stop the graph the way a user does (Ctrl-C)
    log = open(tmp_path / "up.log", "w+")  # noqa: SIM115 - a file, not a pipe nobody reads while the graph runs
    proc = subprocess.Popen([str(BIN / "rldg"), "up", "run_vla", "model:=octo", f"checkpoint:={ckpt}",
                             "task:=connector_insertion/usb"], env=ros_env, stdout=log, stderr=subprocess.STDOUT,
                            text=True)
    try:
        end = time.monotonic() + 200
        while len(policy) < WANTED and time.monotonic() < end and proc.poll() is None:
            ex.spin_once(timeout_sec=0.05)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        proc.wait(timeout=40)
        log.seek(0)
        out = log.read()
        t_stop = time.monotonic() + 1.0
        while time.monotonic() < t_stop:  # what was in flight when it stopped
            ex.spin_once(timeout_sec=0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        node.destroy_node()
    assert proc.returncode == 0, out[-3000:]
    assert len(policy) >= WANTED, out[-3000:]
    # one action per robot state it answers (a slow model skips states, never answers one twice); the achieved rate
    # and latency are measured in `make bench` (bench/results/vla.json), not asserted here
    answered = [(p[1].episode_id, p[1].step) for p in policy]
    assert len(set(answered)) == len(answered), answered
    acts = np.array([p[1].action for p in policy])
    assert np.all(np.isfinite(acts)) and np.all(np.abs(acts) <= 1.0)
    assert {p[1].source_name for p in policy} == {"octo-style-tiny"}
    assert any(c.source_name == "octo-style-tiny" for c in commands)  # through the mux, the same path as any command
    assert "actions sent" in out and "image->action median" in out
