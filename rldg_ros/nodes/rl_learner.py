"""``rl_learner``: owns the replay buffers, trains SAC/RLPD continuously, publishes actor parameters, checkpoints.

* in:  ``rldg/transitions`` (Transition, from any number of actors; taken in per-actor seq order)
* out: ``rldg/transitions/ack`` (durable: written to the write-ahead log), ``rldg/policy_params`` (ParameterBlob
  chunks every ``publish_every`` learner steps; transient-local, so an actor that joins late gets the latest)
* srv: ``rldg/save_checkpoint``

The learning core is :class:`rldg_ros.rl.learner.Learner` (ROS-free). Training runs on its own thread, throttled
to ``steps_per_transition`` learner steps per online transition. A restart resumes from ``run_dir`` (checkpoint +
write-ahead log): the buffer and step count are where the last acknowledged transition left them.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup

from rldg_msgs.msg import ParameterBlob, Transition, TransitionAck
from rldg_msgs.srv import SaveCheckpoint
from rldg_ros import topics
from rldg_ros.nodes.base import RldgNode
from rldg_ros.qos import PARAMS, RELIABLE_10, RELIABLE_DEEP
from rldg_ros.rl.learner import Learner, LearnerConfig
from rldg_ros.rl.transport import chunk_blob

CHUNK = 256 * 1024


def transition_from_msg(msg: Transition, learner: Learner) -> dict:
    """A Transition message -> the learner's buffer transition (features computed here, one place)."""
    from rldg_ros.nodes.convert import image_to_array
    from rldg_ros.rl.demos import observation, transition

    def obs_of(o):
        s = np.asarray(o.state, np.float32)
        if len(s) < 21:
            raise ValueError(f"observation state has {len(s)} values; the actor sends 20 robot state values, "
                             "gripper_closed and the privileged features")
        image = image_to_array(o.image) if learner.obs_cfg.mode == "pixels" else None
        return observation(s[:20], image, s[21:], learner.obs_cfg), int(s[20] > 0.5)

    if not (np.all(np.isfinite(msg.action)) and np.isfinite(msg.reward)):
        raise ValueError("action or reward contains NaN/inf")
    obs, prev_g = obs_of(msg.observation)
    nobs, _ = obs_of(msg.next_observation)
    return transition(obs, np.asarray(msg.action, np.float32), float(msg.reward), bool(msg.terminal), nobs,
                      learner.task.layout, prev_g, bool(msg.intervention))


class RlLearner(RldgNode):
    CONFIG = LearnerConfig
    DEFAULT_NAME = "rl_learner"
    #: a stopping learner keeps taking transitions until none came for QUIET_S (longer than the actor's resend
    #: period, nodes/rl.yaml resend_after_s 2 s), so an actor stopping at the same time (launch) can hand them over
    DRAIN_TIMEOUT_S = 6.0
    QUIET_S = 2.5
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.lock = threading.Lock()
        self.learner = Learner(self.cfg, progress=False)
        L = self.learner
        self.meta = json.dumps({"format": "flax-msgpack", "task": self.cfg.task, "obs_mode": L.obs_cfg.mode,
                                "obs": asdict(L.obs_cfg), "layout": L.task.layout, "grasp": L.task.grasp,
                                "discount": L.task.discount, "state_dim": L.state_dim,
                                "agent": asdict(self.cfg.agent), "backbone": self.cfg.backbone,
                                "embed_dim": L.agent.embed_dim if L.agent.external else 0})
        self.dropped = 0
        self.last_rx = time.monotonic()
        self.bad = 0
        self.pub_ack = self.create_publisher(TransitionAck, topics.TRANSITION_ACK.name, RELIABLE_10)
        self.pub_params = self.create_publisher(ParameterBlob, topics.POLICY_PARAMS.name, PARAMS)
        group = MutuallyExclusiveCallbackGroup()
        self.create_subscription(Transition, topics.TRANSITIONS.name, self._on_transition, RELIABLE_DEEP,
                                 callback_group=group)
        self.create_timer(0.1, self._flush, callback_group=group)
        self.create_service(SaveCheckpoint, topics.SAVE_CHECKPOINT.name, self._on_save)
        self.stopping = threading.Event()
        self.published_step = -1
        self._publish_params()
        self.thread = threading.Thread(target=self._train_loop, name="rl_learner-train", daemon=True)
        self.thread.start()
        where = f"resumed from {L.resumed_from}" if L.resumed_from else "fresh"
        mode = L.obs_cfg.mode + (" (PRIVILEGED sim state: not deployable on a robot)"
                                 if L.obs_cfg.mode == "privileged" else "")
        self.get_logger().info(f"rl_learner up ({where}): task {self.cfg.task}, obs {mode}, layout {L.task.layout}, "
                               f"step {L.step}, online {len(L.online)}, demo {len(L.demo)}")

    # -- ingestion ---------------------------------------------------------------------------------------------
    def _on_transition(self, msg: Transition) -> None:
        self.last_rx = time.monotonic()
        try:
            t = transition_from_msg(msg, self.learner)
        except ValueError as exc:
            self.bad += 1
            self.get_logger().error(f"transition {msg.actor_id}#{msg.seq} refused: {exc}", throttle_duration_sec=2.0)
            return
        with self.lock:
            if not self.learner.receive(msg.actor_id, int(msg.seq), t):
                self.dropped += 1  # duplicate or out of order: the actor resends from the acknowledged seq

    def _flush(self) -> None:
        with self.lock:
            acked = self.learner.flush()
        now = self.get_clock().now().to_msg()
        for actor_id, seq in acked.items():
            m = TransitionAck()
            m.header.stamp = now
            m.actor_id, m.acked_seq, m.durable = actor_id, int(seq), True
            self.pub_ack.publish(m)

    # -- training ----------------------------------------------------------------------------------------------
    def _publish_params(self) -> None:
        with self.lock:
            blob, step = self.learner.actor_blob(), self.learner.step
        digest, chunks = chunk_blob(blob, CHUNK)
        stamp = self.get_clock().now().to_msg()
        for i, c in enumerate(chunks):
            m = ParameterBlob()
            m.header.stamp = stamp
            m.version, m.format, m.sha256 = int(step), self.meta, digest
            m.chunk_index, m.num_chunks = i, len(chunks)
            m.data = c
            self.pub_params.publish(m)
        self.published_step = step

    def _train_loop(self) -> None:
        L = self.learner
        last_log = time.monotonic()
        try:
            while not self.stopping.is_set():
                with self.lock:
                    can = L.ready() and L.step < L.allowed_steps()
                    batches = L.sample() if can else None
                if can:
                    L.train_step(batches)  # the jitted update runs without the lock: ingestion goes on
                else:
                    self.stopping.wait(0.01)
                    continue
                if L.step - self.published_step >= self.cfg.publish_every:
                    self._publish_params()
                with self.lock:
                    L.maybe_checkpoint()
                if time.monotonic() - last_log > 10.0:
                    last_log = time.monotonic()
                    self.get_logger().info(f"step {L.step}: online {len(L.online)}, demo {len(L.demo)}, "
                                           f"interventions {L.online.intervention_count()}")
        except Exception as exc:  # noqa: BLE001 - a dead training thread must stop the node loudly
            self.fail(f"training loop died: {exc!r}")

    def _on_save(self, request: SaveCheckpoint.Request, response: SaveCheckpoint.Response):
        if request.path:
            response.success, response.message = False, "custom paths are not supported: checkpoints go to run_dir"
            return response
        with self.lock:
            path = self.learner.checkpoint("requested")
            response.step = int(self.learner.step)
        response.success, response.message, response.path = True, f"checkpoint at step {response.step}", str(path)
        return response

    def drained(self) -> bool:
        return time.monotonic() - self.last_rx >= self.QUIET_S

    def shutdown(self) -> None:
        self.stopping.set()
        # an update in flight (the first pixel step compiles for a minute on a CPU) is not waited for: the state it
        # would produce is replaced atomically, so the checkpoint below saves the last completed step either way
        self.thread.join(timeout=3)
        with self.lock:
            self.learner.checkpoint("shutdown")
            self.learner.close()
