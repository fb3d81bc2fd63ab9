"""Synthetic rldg bags with known contents: for the converter's tests and its benchmark (``make bench``).

Each episode: EpisodeEvent START, then per step a RobotState, the wrist Image with the state's stamp, the Action
that answers it (tagged with episode and step) and a Reward, then END. Values are functions of (episode, step), so a
reader can check every step it gets back.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rldg_ros.data.bags import BagWriter, typestore

TOPICS = {
    "/camera/camera/color/image_raw": "sensor_msgs/msg/Image",
    "/rldg/robot_state": "rldg_msgs/msg/RobotState",
    "/rldg/action/command": "rldg_msgs/msg/Action",
    "/rldg/reward": "rldg_msgs/msg/Reward",
    "/rldg/episode": "rldg_msgs/msg/EpisodeEvent",
}


def expected_action(ep: int, step: int) -> np.ndarray:
    return np.array([np.sin(0.1 * step + ep), np.cos(0.2 * step), -0.5, 0.0, 0.0, 0.01 * ep, 1.0], np.float32)


def expected_x(ep: int, step: int) -> float:
    return 0.5 + 0.001 * step + 0.1 * ep


def image_for(ep: int, step: int, size: int) -> np.ndarray:
    img = np.zeros((size, size, 3), np.uint8)
    img[..., 0] = (step * 7) % 256
    img[..., 1] = (ep * 40) % 256
    img[: size // 2, :, 2] = 200
    return img


class _Msgs:
    def __init__(self) -> None:
        ts = typestore()
        self.ts = ts
        self.T = {k: ts.types[v] for k, v in {
            "Header": "std_msgs/msg/Header", "Time": "builtin_interfaces/msg/Time",
            "Image": "sensor_msgs/msg/Image", "RobotState": "rldg_msgs/msg/RobotState",
            "Action": "rldg_msgs/msg/Action", "Reward": "rldg_msgs/msg/Reward",
            "EpisodeEvent": "rldg_msgs/msg/EpisodeEvent", "Pose": "geometry_msgs/msg/Pose",
            "Point": "geometry_msgs/msg/Point", "Quaternion": "geometry_msgs/msg/Quaternion",
            "Twist": "geometry_msgs/msg/Twist", "Wrench": "geometry_msgs/msg/Wrench",
            "Vector3": "geometry_msgs/msg/Vector3"}.items()}

    def header(self, t_ns: int):
        return self.T["Header"](stamp=self.T["Time"](sec=t_ns // 10**9, nanosec=t_ns % 10**9), frame_id="base")

    def cdr(self, msg, msgtype: str) -> bytes:
        return bytes(self.ts.serialize_cdr(msg, msgtype))

    def state(self, t_ns: int, ep: int, step: int):
        T, v0 = self.T, self.T["Vector3"](x=0.0, y=0.0, z=0.0)
        pose = T["Pose"](position=T["Point"](x=expected_x(ep, step), y=0.0, z=0.2),
                         orientation=T["Quaternion"](x=1.0, y=0.0, z=0.0, w=0.0))
        return T["RobotState"](header=self.header(t_ns), tcp_pose=pose, tcp_twist=T["Twist"](linear=v0, angular=v0),
                               tcp_wrench=T["Wrench"](force=v0, torque=v0), gripper_width=0.01,
                               gripper_closed=True, joint_positions=np.zeros(7), joint_velocities=np.zeros(7),
                               control_mode=0, holding=False, safety_limited=False, episode_id=ep,
                               episode_step=step)

    def image(self, t_ns: int, img: np.ndarray):
        h, w = img.shape[:2]
        return self.T["Image"](header=self.header(t_ns), height=h, width=w, encoding="rgb8", is_bigendian=0,
                               step=w * 3, data=img.reshape(-1))

    def action(self, t_ns: int, ep: int, step: int, intervention: bool):
        return self.T["Action"](header=self.header(t_ns), action=expected_action(ep, step), source=0,
                                source_name="test", intervention=intervention, episode_id=ep, step=step)

    def reward(self, t_ns: int, r: float):
        return self.T["Reward"](header=self.header(t_ns), probability=r, threshold=0.5, success=r > 0, reward=r)

    def event(self, t_ns: int, kind: int, ep: int, success: bool = False, steps: int = 0,
              task: str = "connector_insertion/usb", phase: str = ""):
        return self.T["EpisodeEvent"](header=self.header(t_ns), event=kind, episode_id=ep, task_id=task,
                                      language_instruction=f"insert the plug {ep}", phase=phase, is_eval=False,
                                      success=success, reason="success" if success else "timeout",
                                      num_steps=steps)


def write_episodes(path: str | Path, episodes: int, steps: int, image_size: int = 128, t0_ns: int = 10**18,
                   failed: tuple[int, ...] = (), storage: str = "mcap", repeats: bool = True,
                   texture: bool = False, phase_at: int | None = None,
                   jump_at: tuple[int, int] | None = None, task: str = "connector_insertion/usb",
                   phase_late: bool = False) -> dict:
    """One bag holding ``episodes`` episodes of ``steps`` steps at 10 Hz; returns what was written. ``texture``
    adds camera-like detail (gradients and noise) so JPEG costs what it costs on real images."""
    m = _Msgs()
    rng = np.random.default_rng(0)
    grain = rng.integers(0, 40, (8, image_size, image_size, 3), dtype=np.uint8) if texture else None
    ramp = np.linspace(0, 120, image_size, dtype=np.float32)[None, :, None]
    w = BagWriter(path, storage)
    for topic, t in TOPICS.items():
        w.add(topic, t)
    t = t0_ns
    dt = 100_000_000
    for ep in range(episodes):
        w.write("/rldg/episode", t, m.cdr(m.event(t, 0, ep, task=task), TOPICS["/rldg/episode"]))
        success = ep not in failed
        for k in range(steps):
            t += dt
            if jump_at == (ep, k):  # the recording machine's clock steps back 100 s
                t -= 100 * 10**9
            phase = None
            if phase_at is not None and k in (0, phase_at):  # task phases: grasp, then insertion from phase_at
                phase = m.cdr(m.event(t, 2, ep, task=task, phase="grasp" if k == 0 else "insertion"),
                              TOPICS["/rldg/episode"])
                # phase_late: the first one trails the first action, as the sim cell announces it at its next step
                late = phase_late and k == 0
                if not late:
                    w.write("/rldg/episode", t - 1_000_000, phase)
                    phase = None
            w.write("/rldg/robot_state", t, m.cdr(m.state(t, ep, k), TOPICS["/rldg/robot_state"]))
            img = image_for(ep, k, image_size)
            if texture:
                img = np.clip(img * 0.5 + ramp + grain[k % 8], 0, 255).astype(np.uint8)
            w.write("/camera/camera/color/image_raw", t + 1_000_000,
                    m.cdr(m.image(t, img), TOPICS["/camera/camera/color/image_raw"]))
            w.write("/rldg/action/command", t + 5_000_000,
                    m.cdr(m.action(t, ep, k, k % 4 == 0), TOPICS["/rldg/action/command"]))
            if phase is not None:
                w.write("/rldg/episode", t + 6_000_000, phase)
            if repeats:  # the mux's timer repeating the last action: not a new step
                w.write("/rldg/action/command", t + 40_000_000,
                        m.cdr(m.action(t, ep, k, k % 4 == 0), TOPICS["/rldg/action/command"]))
            r = 1.0 if (success and k == steps - 1) else 0.0
            w.write("/rldg/reward", t + dt - 1_000_000, m.cdr(m.reward(t, r), TOPICS["/rldg/reward"]))
        t += dt
        w.write("/rldg/episode", t, m.cdr(m.event(t, 1, ep, success, steps, task), TOPICS["/rldg/episode"]))
        t += 5 * dt
    w.close()
    return {"episodes": episodes, "steps": steps, "bytes": w.bytes, "messages": w.messages}
