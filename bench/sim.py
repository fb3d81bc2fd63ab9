"""The MuJoCo cell: policy steps/s with and without the 128 px wrist camera (one process), controller cost per
call, physics steps/s, and the robot_bridge loop over ROS (state inter-arrival jitter at 10 Hz)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("MUJOCO_GL", "egl")


def _steps_per_s(task: str, wrist: bool, n: int = 200) -> tuple[float, float]:
    """(policy steps/s excluding resets, mean reset time in s): a random walk keeps the arm moving."""
    from rldg_ros.sim import make_env

    env = make_env(task, wrist_camera=wrist)
    rng = np.random.default_rng(0)
    try:
        env.reset(seed=0)
        step_time, reset_time, resets = 0.0, 0.0, 0
        for i in range(n):
            t0 = time.perf_counter()
            _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 7))
            step_time += time.perf_counter() - t0
            if term or trunc or (i + 1) % 50 == 0:
                t0 = time.perf_counter()
                env.reset(seed=i)
                reset_time += time.perf_counter() - t0
                resets += 1
        return n / step_time, reset_time / max(resets, 1)
    finally:
        env.close()


def _controller_cost(task: str) -> dict:
    import mujoco

    from rldg_ros.sim import make_env

    env = make_env(task, wrist_camera=False)
    try:
        env.reset(seed=0)
        m, d = env.model, env.data
        mujoco.mj_step1(m, d)
        n = 5000
        t0 = time.perf_counter()
        for _ in range(n):
            env.controller.torque(d)
        ctrl_us = (time.perf_counter() - t0) / n * 1e6
        t0 = time.perf_counter()
        for _ in range(n):
            env._physics_step()
        step_us = (time.perf_counter() - t0) / n * 1e6
        return {"controller_us_per_call": ctrl_us, "physics_plus_controller_us_per_step": step_us,
                "physics_steps_per_s": 1e6 / step_us, "physics_dt_s": env.cfg.physics_dt,
                "real_time_factor": 1e6 / step_us * env.cfg.physics_dt}
    finally:
        env.close()


def _bridge_jitter(seconds: float = 20.0) -> dict:
    import rclpy
    from rclpy.node import Node

    from rldg_msgs.msg import Action, RobotState
    from rldg_ros import config_path, topics
    from rldg_ros.qos import RELIABLE_10

    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "91"),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    exe = str(Path(sys.executable).parent / "robot_bridge")
    proc = subprocess.Popen([exe, "--ros-args", "--params-file", str(config_path("nodes/robot_bridge"))], env=env,
                            stderr=subprocess.DEVNULL)
    os.environ.update({k: env[k] for k in ("ROS_DOMAIN_ID", "ROS_AUTOMATIC_DISCOVERY_RANGE")})
    rclpy.init()
    node = Node("bench_bridge")
    arrivals: list[float] = []
    node.create_subscription(RobotState, topics.ROBOT_STATE.name, lambda _m: arrivals.append(time.perf_counter()),
                             RELIABLE_10)
    pub = node.create_publisher(Action, topics.COMMAND.name, RELIABLE_10)
    try:
        deadline = time.monotonic() + 60
        while len(arrivals) < 5:
            assert time.monotonic() < deadline, "robot_bridge did not come up"
            rclpy.spin_once(node, timeout_sec=0.1)
        arrivals.clear()
        end = time.monotonic() + seconds
        k = 0
        next_cmd = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_cmd:  # a slow circle in the plane, so the cell does real work
                m = Action()
                m.action = [0.3 * np.cos(k / 10), 0.3 * np.sin(k / 10), 0.0, 0.0, 0.0, 0.0, 1.0]
                pub.publish(m)
                k += 1
                next_cmd += 0.1
            rclpy.spin_once(node, timeout_sec=0.005)
        dt = np.diff(arrivals) * 1000
        return {"state_messages": len(arrivals), "achieved_rate_hz": len(arrivals) / seconds,
                "period_ms_median": float(np.median(dt)), "period_ms_p99": float(np.percentile(dt, 99)),
                "jitter_ms_p99": float(np.percentile(np.abs(dt - 100.0), 99))}
    finally:
        node.destroy_node()
        rclpy.shutdown()
        proc.terminate()
        proc.wait(timeout=20)


def measure() -> dict:
    task = "connector_insertion/usb"
    return {
        "task": task,
        "note": "one process on a 2-core machine; goal >= 40 policy steps/s with the wrist camera (4x real time)",
        "results": {
            **dict(zip(("policy_steps_per_s_wrist_camera", "reset_s_wrist_camera"), _steps_per_s(task, True),
                       strict=True)),
            **dict(zip(("policy_steps_per_s_no_camera", "reset_s_no_camera"), _steps_per_s(task, False),
                       strict=True)),
            **_controller_cost(task),
            "bridge_10hz_over_ros": _bridge_jitter(),
        },
    }


if __name__ == "__main__":
    import json

    print(json.dumps(measure(), indent=2))
