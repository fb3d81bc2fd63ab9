"""``robot_bridge``'s sim backend: the MuJoCo cell (:class:`rldg_ros.sim.bridge_cell.SimCell`) stepped on its own
thread at ``control_hz`` in real time, or as fast as possible with ``/clock`` (optionally in lock-step with the
commands); it also publishes what only a simulator knows: the wrist camera, ground-truth success, privileged goal
features, task phases and the scripted intervener's actions."""

from __future__ import annotations

import threading

import numpy as np
from rclpy.time import Time
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import CameraInfo, Image
from std_msgs.msg import Bool

from rldg_msgs.msg import Action, EpisodeEvent, Observation
from rldg_ros import topics
from rldg_ros.nodes.base import paced
from rldg_ros.nodes.convert import camera_info, image_msg
from rldg_ros.qos import RELIABLE_10, SENSOR
from rldg_ros.sim.bridge_cell import SimCell


class SimBackend:
    """The cell on its own control-loop thread, with the topics only a simulator has."""

    def __init__(self, node) -> None:
        cfg = node.cfg
        self.node, self.cfg = node, cfg
        self.cell: SimCell | None = None
        self.sim_time = 0.0
        self.lockstep_timeouts = 0  # lock-step waits that ran out: the step went ahead without its answer (held)
        self.command_arrived = threading.Event()
        self.stopping = threading.Event()
        self.resets: list[tuple[object, threading.Event, list]] = []
        self.pub_image = node.create_publisher(Image, topics.WRIST_IMAGE.name, SENSOR)
        self.pub_info = node.create_publisher(CameraInfo, topics.WRIST_CAMERA_INFO.name, SENSOR)
        self.pub_clock = node.create_publisher(Clock, "/clock", 10) if not cfg.realtime else None
        self.pub_scripted = node.create_publisher(Action, topics.SCRIPTED_ACTION.name, RELIABLE_10)
        self.pub_success = node.create_publisher(Bool, topics.SIM_SUCCESS.name, RELIABLE_10)
        self.pub_privileged = node.create_publisher(Observation, topics.SIM_PRIVILEGED.name, RELIABLE_10)
        # evaluation episodes run the policy alone: the scripted intervener sits them out
        self.eval_episode = False
        node.create_subscription(EpisodeEvent, topics.EPISODE.name, self._on_episode, RELIABLE_10)
        # task phases (grasp -> insertion, ...) as EpisodeEvent PHASE: the converter can keep one phase's steps
        self.pub_phase = node.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
        self.phase: tuple[int, str] | None = None
        self.started = threading.Event()
        self.loop = threading.Thread(target=self._loop, name="robot_bridge-sim", daemon=True)

    def start(self) -> None:
        self.loop.start()
        if not self.started.wait(timeout=60):
            raise RuntimeError("the sim cell did not start within 60 s")
        if self.node.fatal_error:
            raise RuntimeError(self.node.fatal_error)

    def _loop(self) -> None:
        try:
            self.cell = SimCell(self.cfg)
        except Exception as exc:  # noqa: BLE001
            self.node.fail(f"sim cell failed to start: {exc}")
            self.started.set()
            return
        self.started.set()
        try:
            lockstep = self.cfg.lockstep and not self.cfg.realtime
            for _ in paced(1.0 / self.cfg.control_hz, self.stopping, self.cfg.realtime):
                if lockstep:  # a command (or a reset request) wakes the loop at once
                    if not self.command_arrived.wait(self.cfg.lockstep_timeout) and self.node.episode_id:
                        self.lockstep_timeouts += 1  # inside an episode (before the first reset nobody answers)
                    self.command_arrived.clear()
                self._serve_resets()
                self.node.tick()
        except Exception as exc:  # noqa: BLE001 - a dead control loop must stop the node, loudly
            self.node.fail(f"sim control loop died: {exc!r}")
        finally:
            self.cell.close()

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_START:
            self.eval_episode = bool(msg.is_eval)
            # announce the phase again at the next step: the one announced right after the reset went out before
            # this START, and a recorder that starts a bag per episode at START filed it with the previous one
            self.phase = None

    def ready(self) -> bool:
        return self.cell is not None

    def now_s(self) -> float | None:
        return None if self.cfg.realtime else self.sim_time

    def wake(self) -> None:
        self.command_arrived.set()

    def request_reset(self, request) -> list:
        """Handed to the control-loop thread (the cell lives there); waits for it."""
        done, out = threading.Event(), []
        with self.node.lock:
            self.resets.append((request, done, out))
        self.command_arrived.set()
        if not done.wait(timeout=30):
            return [False, "reset timed out", 0, 0]
        return out

    def _serve_resets(self) -> None:
        with self.node.lock:
            pending, self.resets = self.resets, []
        for request, done, out in pending:
            out.extend(self.node.do_reset(request))
            done.set()

    def pose(self) -> tuple[np.ndarray, np.ndarray]:
        return self.cell.pose()

    def apply(self, dpos: np.ndarray, drot: np.ndarray, gripper: float | None) -> None:
        self.cell.apply(dpos, drot, gripper)

    def hold(self) -> None:
        self.cell.hold()

    def reset(self, task: str, seed: int) -> int:
        return self.cell.reset(task, seed)

    def state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
        return self.cell.state()

    def advance(self) -> None:
        if self.pub_clock is not None:
            self.sim_time += 1.0 / self.cfg.control_hz
            self.pub_clock.publish(Clock(clock=Time(nanoseconds=int(self.sim_time * 1e9)).to_msg()))

    def publish_before_state(self, stamp, episode_id: int) -> None:
        """A new phase, and the goal features: out before the state that a consumer pairs them with."""
        env = self.cell.env
        phase = (episode_id, env.task.phase(env))
        if phase != self.phase:  # a new episode's first phase, or a phase boundary
            self.phase = phase
            ev = EpisodeEvent(event=EpisodeEvent.EVENT_PHASE, episode_id=episode_id, phase=phase[1],
                              task_id=env.task.task_id)
            ev.header.stamp = stamp
            self.pub_phase.publish(ev)
        priv = Observation()
        priv.header.stamp, priv.header.frame_id = stamp, self.cfg.frame_id
        priv.state = [float(v) for v in env.task.privileged(env)]
        self.pub_privileged.publish(priv)

    def publish_after_state(self, stamp, episode_id: int, episode_step: int) -> None:
        """The scripted intervener's action for this step, ground-truth success, the wrist image."""
        cfg, cell = self.cfg, self.cell
        scripted = None if self.eval_episode else cell.intervention()
        if scripted is not None:
            m = Action()
            m.header.stamp = stamp
            m.action = [float(v) for v in scripted]
            m.source, m.source_name, m.intervention = Action.SOURCE_SCRIPTED, cfg.scripted.policy, True
            m.episode_id, m.step = episode_id, episode_step  # the step it answers (the mux matches it)
            self.pub_scripted.publish(m)
        self.pub_success.publish(Bool(data=bool(cell.success)))
        obs = cell.obs
        self.pub_image.publish(image_msg(obs["wrist"], stamp, cfg.camera_frame_id))
        size = obs["wrist"].shape[0]
        self.pub_info.publish(camera_info(size, size, cell.fovy, stamp, cfg.camera_frame_id))

    def stop(self) -> None:
        self.stopping.set()
        if self.loop.is_alive():
            self.loop.join(timeout=5)

    def close(self) -> None:
        pass  # the loop closes the cell on its own thread
