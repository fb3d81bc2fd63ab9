"""RL specialists: learner updates/s (batch 256; state, pixels, and pixels with a frozen encoder whose embeddings
are cached in the replay) and the rl_actor's 10 Hz loop latency.

* learner: ``Learner.train_step`` on filled buffers (random data: speed does not depend on the values); one step =
  ``utd`` (2) critic updates + 1 actor update, as configured in config/nodes/rl.yaml; sampling from the numpy buffers
  included.
* actor: an rl_actor process with a fresh checkpoint; this process plays the cell (a ResetEpisode service, then a
  RobotState + Reward (+ wrist image) with one stamp at 10 Hz) and times the policy Action that answers each step.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stamped import paced_latency, stamp_ns

EMBED_CACHE = 4


def _learner(mode: str, run_dir: str, seconds: float) -> tuple[dict, object]:
    from rldg_ros.rl.agent import AgentConfig
    from rldg_ros.rl.learner import Learner, LearnerConfig
    from rldg_ros.rl.spaces import ObsConfig

    cached = mode == "pixels_cached"
    cfg = LearnerConfig(task="connector_insertion/usb", run_dir=run_dir, demos="none", capacity=20000,
                        demo_capacity=20000, steps_per_transition=0, checkpoint_every_s=1e9,
                        obs=ObsConfig(mode="pixels" if cached else mode),
                        agent=AgentConfig(embed_cache=EMBED_CACHE if cached else 0))
    L = Learner(cfg, tensorboard=False, progress=False)
    rng = np.random.default_rng(0)
    for buf in (L.online, L.demo):
        n = 5000
        for arr in buf.data.values():
            # uint8 drawn as uint8: int64 draws of 5000 128 px images would take GBs and minutes
            arr[:n] = (rng.integers(0, 256, arr[:n].shape, dtype=np.uint8) if arr.dtype == np.uint8 else
                       rng.normal(size=arr[:n].shape).astype(arr.dtype))
        buf.size = buf.ptr = n
    t0 = time.perf_counter()
    L.train_step()
    L.state["step"].block_until_ready()
    compile_s = time.perf_counter() - t0
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds or n < 2:
        L.train_step()
        n += 1
    L.state["step"].block_until_ready()
    dt = time.perf_counter() - t0
    out = {"first_step_with_compile_s": compile_s,
           "learner_steps_per_s": n / dt, "critic_updates_per_s": n * cfg.agent.utd / dt, "batch_size":
           cfg.agent.batch_size, "utd": cfg.agent.utd}
    if cached:  # what the cache costs instead: each arriving transition's two frames encoded K times, in batches
        ts = [{"state": np.zeros(20, np.float32), "next_state": np.zeros(20, np.float32),
               "image": rng.integers(0, 256, (128, 128, 3), dtype=np.uint8),
               "next_image": rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)} for _ in range(64)]
        L._encoded(ts)  # compile
        t0, m = time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds / 4 or m < 2:
            L._encoded(ts)
            m += 1
        out.update(embed_cache=EMBED_CACHE, transitions_encoded_per_s=m * len(ts) / (time.perf_counter() - t0))
    L.checkpoint("bench")
    L.close()
    return out, cfg


def _actor_latency(mode: str, run_dir: str, seconds: float) -> dict:
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from rldg_msgs.msg import Action, Reward, RobotState
    from rldg_msgs.srv import ResetEpisode
    from rldg_ros import topics
    from rldg_ros.nodes.convert import image_msg, robot_state_msg
    from rldg_ros.qos import RELIABLE_10, SENSOR

    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "94"),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    proc = subprocess.Popen([str(Path(sys.executable).parent / "rl_actor"), "--ros-args", "-p",
                             f"checkpoint:={run_dir}", "-p", "time_limit:=1000000", "-p", "eval_only:=true"],
                            env=env, stderr=subprocess.DEVNULL)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    rclpy.init()
    node = Node(f"bench_rl_actor_{mode}")
    clock = node.get_clock()
    received: dict[int, int] = {}
    node.create_subscription(Action, topics.POLICY_ACTION.name,
                             lambda m: received.setdefault(stamp_ns(m), clock.now().nanoseconds), RELIABLE_10)
    def on_reset(_request, response):
        response.success, response.episode_id = True, 1
        return response

    node.create_service(ResetEpisode, topics.RESET_EPISODE.name, on_reset)
    pub_state = node.create_publisher(RobotState, topics.ROBOT_STATE.name, RELIABLE_10)
    pub_reward = node.create_publisher(Reward, topics.REWARD.name, RELIABLE_10)
    pub_image = node.create_publisher(Image, topics.POLICY_IMAGE.name, SENSOR)
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3), dtype=np.uint8)
    state = np.zeros(20)
    state[:3], state[3:7] = [0.55, 0.0, 0.12], [0, 1, 0, 0]
    step = [0]

    def publish() -> int:
        stamp = clock.now().to_msg()
        step[0] += 1
        if mode == "pixels":
            pub_image.publish(image_msg(img, stamp, "camera"))
        r = Reward()
        r.header.stamp = stamp
        pub_reward.publish(r)
        pub_state.publish(robot_state_msg(state, np.zeros(7), np.zeros(7), True, stamp, episode_id=1,
                                          episode_step=step[0]))
        return stamp.sec * 1_000_000_000 + stamp.nanosec

    try:
        sent, lat = paced_latency(node, publish, received, seconds)
        return {"steps_sent": len(sent), "actions_received": int(lat.size),
                "latency_ms_median": float(np.median(lat)), "latency_ms_p99": float(np.percentile(lat, 99)),
                "latency_ms_max": float(lat.max())}
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        proc.wait(timeout=20)


def measure(seconds: float = 20.0) -> dict:
    """``RLDG_BENCH_RL_MODES`` (default ``state,pixels,pixels_cached``) picks the observation modes."""
    results = {}
    modes = [m for m in os.environ.get("RLDG_BENCH_RL_MODES", "state,pixels,pixels_cached").split(",") if m]
    for mode in modes:
        with tempfile.TemporaryDirectory() as tmp:
            learn, _ = _learner(mode, tmp, seconds)
            results[f"learner_{mode}"] = learn
            if mode != "pixels_cached":  # the actor acts on the image the same way with or without the cache
                results[f"actor_{mode}_10hz"] = _actor_latency(mode, tmp, seconds)
    p, c = results.get("learner_pixels"), results.get("learner_pixels_cached")
    if p and c:
        results["pixels_cached_speedup"] = c["learner_steps_per_s"] / p["learner_steps_per_s"]
    return {"task": "connector_insertion/usb", "note": "pixels = 128x128 wrist image + proprio; learner step = "
            "2 critic updates + 1 actor update at batch 256; pixels_cached: frozen encoder, "
            f"{EMBED_CACHE} augmented embeddings per frame kept in the replay (AgentConfig.embed_cache)",
            "results": results}


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
