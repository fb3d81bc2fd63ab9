"""``vla_policy``: a generalist (or an RL specialist) driving the robot at the control rate.

For every new robot state it pairs the wrist image taken with that state (same stamp; else the latest image, if no
older than ``max_obs_age_s``: a stale observation sends nothing and the bridge's watchdog holds), asks the policy
for an action or an action chunk and publishes it to ``rldg/action/policy`` (the intervention mux, then the same
safety path as every command), tagged with the (episode, step) it answers. Inference runs on a worker thread on the
newest observation only: a slow model skips states instead of queueing them.

Chunks (Octo style): ``chunk_mode: receding`` executes the first ``execute_steps`` actions of a chunk, then asks
again; ``ensemble`` asks every step and averages, for the current step, every stored chunk's prediction for it
(Octo's temporal ensembling, weights ``exp(-ensemble_decay * age)``).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import Image

from rldg_msgs.msg import Action, EpisodeEvent, RobotState
from rldg_ros import topics
from rldg_ros.config import ConfigError, param
from rldg_ros.episodes import task_defaults
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import image_to_array, robot_state_to_array
from rldg_ros.qos import RELIABLE_10, SENSOR
from rldg_ros.vla.policy import is_sim_only
from rldg_ros.vla.serving import CHUNK_DEFAULTS, ChunkExecutor, load_policy


@dataclass
class VlaPolicyConfig:
    model: str = param("octo", choices=("octo", "openvla", "rl"), help="policy family")
    checkpoint: str = param("", help="checkpoint directory")
    instruction: str = param("", help="language instruction (empty: from the episode events, else the task's)")
    task: str = param("connector_insertion/usb", help="task (for its default instruction)")
    max_obs_age_s: float = param(0.3, min=0.01, help="older images are stale: nothing is sent")
    match_wait_s: float = param(0.05, min=0.0, max=1.0, help="wait this long for the image with the state's stamp")
    chunk_mode: str = param(CHUNK_DEFAULTS[0], choices=("receding", "ensemble"), help="how action chunks are executed "
                            "(Octo evaluates with temporal ensembling; single actions are the same either way)")
    execute_steps: int = param(1, min=1, max=16, help="receding horizon: actions executed per chunk")
    ensemble_decay: float = param(0.0, min=0.0, help="temporal ensembling weight decay per step of age")
    seed: int = param(0, min=0, help="sampling seed (diffusion head)")


class VlaPolicy(RldgNode):
    CONFIG = VlaPolicyConfig
    DEFAULT_NAME = "vla_policy"
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        c = self.cfg
        self.policy = load_policy(c.model, c.checkpoint, c.seed)
        if is_sim_only(self.policy):
            raise ConfigError(f"{c.checkpoint}: a sim-only policy (privileged sim state) cannot run on a robot graph; "
                              "evaluate it in the sim (rldg eval, or the eval_rl graph)")
        self.uses_state = self.policy.uses_state
        self.instruction = c.instruction or task_defaults(c.task).instruction or c.task.replace("_", " ")
        self.chunks = ChunkExecutor(c.chunk_mode, c.execute_steps, c.ensemble_decay)
        self.lock = threading.Lock()
        self.images: deque[tuple[float, tuple, np.ndarray | Image]] = deque(maxlen=8)
        self.latest: RobotState | None = None
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.latencies: deque[float] = deque(maxlen=1000)
        self.sent = 0
        self.stale = 0
        self.pub = self.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
        self.create_subscription(Image, topics.POLICY_IMAGE.name, self._on_image, SENSOR)
        self.create_subscription(RobotState, topics.ROBOT_STATE.name, self._on_state, RELIABLE_10)
        self.create_subscription(EpisodeEvent, topics.EPISODE.name, self._on_episode, RELIABLE_10)
        self.worker = threading.Thread(target=self._loop, name="vla_policy-infer", daemon=True)
        self.worker.start()
        self.get_logger().info(f"vla_policy up: {getattr(self.policy, 'name', c.model)} from {c.checkpoint}, "
                               f"instruction {self.instruction!r}, chunks {c.chunk_mode}")

    def _on_image(self, msg: Image) -> None:
        with self.lock:
            self.images.append((time.monotonic(), (msg.header.stamp.sec, msg.header.stamp.nanosec), msg))

    def _on_state(self, msg: RobotState) -> None:
        with self.lock:
            self.latest = msg
        self.wake.set()

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_START:
            with self.lock:
                if msg.language_instruction and not self.cfg.instruction:
                    self.instruction = msg.language_instruction
                self.chunks.reset()
                self.policy.reset()

    def _observation(self, state: RobotState, fallback: bool) -> tuple[dict, float] | None:
        """The image taken with ``state`` (same stamp); with ``fallback``, else the latest one if fresh enough."""
        stamp = (state.header.stamp.sec, state.header.stamp.nanosec)
        now = time.monotonic()
        with self.lock:
            match = next((x for x in reversed(self.images) if x[1] == stamp), None)
            if match is None and fallback and self.images and now - self.images[-1][0] <= self.cfg.max_obs_age_s:
                match = self.images[-1]
        if match is None:
            return None
        return {"image": image_to_array(match[2]), "state": robot_state_to_array(state)}, match[0]

    def _loop(self) -> None:
        last_key = None
        while not self.stopping.is_set():
            if not self.wake.wait(0.1):
                continue
            self.wake.clear()
            with self.lock:
                state = self.latest
            if state is None:
                continue
            key = (int(state.episode_id), int(state.episode_step))
            if key == last_key:
                continue
            # the image taken with this state trails it by a moment (the sim cell, a triggered camera): wait up to
            # match_wait_s for it, then take the latest image (a free-running camera has no matching stamps)
            obs = None
            t_end = time.monotonic() + self.cfg.match_wait_s
            while obs is None and not self.stopping.is_set():
                last_try = time.monotonic() >= t_end
                obs = self._observation(state, fallback=last_try)
                if obs is None and last_try:
                    break
                if obs is None:
                    time.sleep(0.002)
            if obs is None:
                self.stale += 1
                continue
            last_key = key
            observation, t_img = obs
            try:
                if self.chunks.needs_prediction():
                    self.chunks.add(np.asarray(self.policy.act(observation, self.instruction), np.float32))
                a = self.chunks.next()
            except Exception as exc:  # noqa: BLE001 - a failing model sends nothing: the bridge holds
                self.get_logger().error(f"policy failed: {exc}")
                continue
            if a.shape != (7,) or not np.all(np.isfinite(a)):
                self.get_logger().error(f"policy produced an invalid action {a}: not sent")
                continue
            m = Action()
            m.header.stamp = state.header.stamp
            m.action = [float(v) for v in a]
            m.source, m.source_name = Action.SOURCE_POLICY, str(getattr(self.policy, "name", self.cfg.model))
            m.episode_id, m.step = key
            self.pub.publish(m)
            self.sent += 1
            self.latencies.append(time.monotonic() - t_img)

    def shutdown(self) -> None:
        self.stopping.set()
        self.wake.set()
        self.worker.join(timeout=5)
        if self.latencies:
            lat = np.asarray(self.latencies) * 1e3
            self.get_logger().info(f"vla_policy: {self.sent} actions sent, {self.stale} stale observations, image->"
                                   f"action median {np.median(lat):.1f} ms, p99 {np.percentile(lat, 99):.1f} ms")
