"""``rl_actor``: runs the current RL policy on the robot, owns the episodes, and streams transitions to the learner.

Each control step is one ``rldg/robot_state`` (one per step, with its episode id), paired by stamp with its
``rldg/reward``, and with the wrist image (pixels mode) or the privileged goal features (sim-only mode). The previous
step then becomes a transition with the action the robot really **executed** (the mux's ``rldg/action/command``:
policy, human or scripted intervention, or a hold), sent to the learner and kept until it is acknowledged
(``TransitionSender``). Episodes end on success, time limit or an operator's ``rldg/episode_command``
(``EpisodeNode``), with evaluation rounds every ``eval_every`` episodes; the next action goes to
``rldg/action/policy``. Until the first parameter blob (``rldg/policy_params``) or a ``checkpoint`` there is no
policy and no episode starts; a full outbox (``max_pending``) stops new episodes rather than drop data.
"""

from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from rclpy.time import Time
from sensor_msgs.msg import Image

from rldg_msgs.msg import Action, EpisodeEvent, Observation, ParameterBlob, Reward, RobotState, Transition
from rldg_ros import topics
from rldg_ros.episodes import MARK_SUCCESS, EpisodeRunner, StampSync, TransitionBuilder
from rldg_ros.nodes.convert import image_to_array, observation_msg, robot_state_to_array
from rldg_ros.nodes.episode_node import EpisodeNode
from rldg_ros.nodes.transition_link import TransitionSender
from rldg_ros.qos import PARAMS, RELIABLE_10, SENSOR
from rldg_ros.rl.actor_config import RlActorConfig
from rldg_ros.rl.transport import BlobAssembler

__all__ = ["RlActor", "RlActorConfig"]


class RlActor(EpisodeNode):
    CONFIG = RlActorConfig
    DEFAULT_NAME = "rl_actor"
    DRAIN_TIMEOUT_S = 8.0  # a stopping actor resends what the learner has not acknowledged for up to this long
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        c = self.cfg
        from rldg_ros.rl.actor_policy import ActorPolicy

        self.actor_id = c.actor_id or f"{self.get_name()}-{uuid.uuid4().hex[:8]}"
        self.lock = threading.RLock()
        self.policy = ActorPolicy(c.seed, c.eval_only, c.sample_actions, c.rollout_noise, c.rollout_noise_steps,
                                  c.grasp_epsilon)
        self.assembler = BlobAssembler()
        self.sync = StampSync({"state", "reward"}, c.sync_timeout)
        self.transitions = TransitionBuilder(c.end_on_success)
        self.setup_episodes(EpisodeRunner(c.plan(), c.limit_steps()), self.task_instruction(c.instruction),
                            ReentrantCallbackGroup())
        self.draining = False  # the graph is stopping: no new step or episode, only the outbox is emptied
        self.metrics = None
        if c.run_dir:
            from rldg_ros.metrics import MetricsLog

            kind, ns = ("eval" if c.eval_only else "actor"), self.get_namespace().strip("/").replace("/", "_")
            self.metrics = MetricsLog(Path(c.run_dir) / (f"{kind}s/{ns}" if ns else kind))  # a fleet: one each
        if c.checkpoint:
            self.policy.load_checkpoint(c.checkpoint)
            self._built()
            self.get_logger().info(f"policy from checkpoint {c.checkpoint} (step {self.policy.version})")

        group = MutuallyExclusiveCallbackGroup()
        self.link = TransitionSender(self, self.actor_id, c.max_pending, c.resend_after_s, group)
        self.pub_action = self.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
        for msg_type, topic, part, qos in ((RobotState, topics.ROBOT_STATE, "state", RELIABLE_10),
                                           (Reward, topics.REWARD, "reward", RELIABLE_10),
                                           (Image, topics.POLICY_IMAGE, "image", SENSOR),
                                           (Observation, topics.SIM_PRIVILEGED, "privileged", RELIABLE_10)):
            self.create_subscription(msg_type, topic.name, lambda m, part=part: self._put(part, m), qos,
                                     callback_group=group)
        self.create_subscription(Action, topics.COMMAND.name, self._on_command, RELIABLE_10, callback_group=group)
        self.create_subscription(ParameterBlob, topics.POLICY_PARAMS.name, self._on_params, PARAMS,
                                 callback_group=group)
        self.create_timer(0.05, self._tick, callback_group=group)
        self.get_logger().info(f"rl_actor up as {self.actor_id}: task {c.task}, limit "
                               f"{self.episodes.limit_steps} steps" + (", evaluation only" if c.eval_only else ""))

    # -- policy ------------------------------------------------------------------------------------------------
    def _built(self) -> None:
        """The policy's observation mode decides which parts make a complete step."""
        self.sync.required = {"state", "reward"} | self.policy.required_parts()
        self.get_logger().info(f"policy: {self.policy.describe()}")

    def _on_params(self, msg: ParameterBlob) -> None:
        blob = self.assembler.add(int(msg.version), int(msg.chunk_index), int(msg.num_chunks), msg.sha256,
                                  bytes(msg.data))
        if blob is None:
            return
        with self.lock:
            try:
                rebuilt, first = self.policy.receive(json.loads(msg.format), blob, int(msg.version))
            except Exception as exc:  # noqa: BLE001 - a bad blob must not kill the robot's policy
                self.get_logger().error(f"parameter blob v{msg.version} refused: {exc}")
                return
            if rebuilt:
                self._built()
            if first:
                self.get_logger().info(f"first policy parameters (learner step {msg.version})")

    # -- inputs ------------------------------------------------------------------------------------------------
    def _put(self, part: str, msg) -> None:
        """One input of a control step (state, reward, image, privileged), keyed by the stamp they share."""
        if part in ("image", "privileged") and part not in self.sync.required:
            return
        with self.lock:
            f = self.sync.put(part, Time.from_msg(msg.header.stamp).nanoseconds, msg)
            e = self.episodes.current
            if (f is not None and not self.draining and e is not None and self.policy.ready
                    and f["state"].episode_id == e.episode_id):
                self._step(f)

    def _on_command(self, msg: Action) -> None:
        with self.lock:
            e = self.episodes.current
            if e is not None and msg.episode_id == e.episode_id:
                self.transitions.command(msg.episode_id, msg.step, msg.action, msg.intervention, msg.source)

    # -- the control step --------------------------------------------------------------------------------------
    def _step(self, f: dict) -> None:
        e, st = self.episodes.current, f["state"]
        priv = f["privileged"].state if "privileged" in f else None
        try:
            obs = self.policy.observation(robot_state_to_array(st), image_to_array(f["image"]) if "image" in f
                                          else None, None if priv is None else np.asarray(priv, np.float32))
        except ValueError as exc:  # refused here, before a transition is built from it
            self.get_logger().error(f"observation refused: {exc}", throttle_duration_sec=2.0)
            return
        o = observation_msg(st, f.get("image"), priv)
        reward, success = float(f["reward"].reward), bool(f["reward"].success)
        prev = self.transitions.observe(o, int(st.episode_step))
        if prev is not None:
            ex = self.transitions.executed(e.episode_id, prev[1], st.holding, st.gripper_closed)
            self.episodes.step(reward, ex.intervention, ex.unseen)
            if not self.cfg.eval_only:
                self._queue(e, prev, o, ex, reward, success)
        if success and self.cfg.end_on_success:
            self._end(True, "success")
        elif e.end_request:
            self._end(e.end_request == MARK_SUCCESS, e.end_request)
        elif self.episodes.timed_out():
            self._end(False, "timeout")
        else:
            m = Action(header=st.header, source=Action.SOURCE_POLICY, source_name="rl_actor", intervention=False,
                       episode_id=e.episode_id, step=st.episode_step)
            m.action = [float(v) for v in self.policy.act(obs, e.is_eval, first_step=e.steps == 0)]
            self.pub_action.publish(m)

    def _queue(self, e, prev, o, ex, reward: float, success: bool) -> None:
        """The previous step's transition into the outbox (kept until the learner acknowledges it)."""
        t = Transition(header=o.header, observation=prev[0], next_observation=o, reward=reward,
                       intervention=ex.intervention, source=ex.source, episode_id=e.episode_id, step=prev[1],
                       policy_version=max(self.policy.version, 0))
        t.action = [float(v) for v in ex.action]
        t.terminal, t.truncated = self.transitions.ends(success, e.steps, self.episodes.limit_steps)
        self.link.send(t)

    # -- episodes ----------------------------------------------------------------------------------------------
    def start_next(self) -> None:
        runner = self.episodes
        if runner.running or runner.starting or self.draining or not self.policy.ready:
            return
        if runner.all_done():
            if not self.finished and not len(self.link):
                self.finish(f"rl_actor: {runner.episodes_done} episodes done"
                            + (f"; the last {self.cfg.stop_after_eval_successes} evaluation episodes succeeded"
                               if runner.converged() else ""))
            return
        if self.link.full():
            self.get_logger().warning(f"{len(self.link)} transitions unacknowledged (learner gone?): not starting "
                                      "a new episode until the learner catches up", throttle_duration_sec=10.0)
            return
        self.request_reset()

    def on_started(self, episode) -> None:  # noqa: ARG002 - every episode starts clean
        self.sync.clear()
        self.transitions.clear()

    def _end(self, success: bool, reason: str) -> None:
        e = self.episodes.current
        self.publish_event(EpisodeEvent.EVENT_END, e, success, reason)
        row = self.episodes.end(success, reason, policy_version=self.policy.version)
        rate, n = self.episodes.recent_rate(e.is_eval)
        kind = "eval" if e.is_eval else "train"
        if self.metrics is not None:
            self.metrics.write(f"episode_{kind}", self.policy.version, {**row, "success_rate_20": rate})
        self.get_logger().info(f"episode {e.episode_id} ({kind}): {reason} after {e.steps} steps, "
                               f"{e.interventions} intervened, {e.unseen} command(s) unseen; "
                               f"success rate (last {n} {kind}) {rate:.2f}; policy v{self.policy.version}; "
                               f"outbox {len(self.link)}")

    def operator_end(self, reason: str) -> str:
        self.episodes.request_end(reason)
        return "the episode ends at the next step"

    def _tick(self) -> None:
        with self.lock:
            self.sync.expire()
            self.link.pump()
            if not self.episodes.running:
                self.start_next()

    def begin_drain(self) -> None:
        with self.lock:
            self.draining = True
            if not self.cfg.eval_only and len(self.link):
                self.get_logger().info(f"stopping: waiting for the learner to acknowledge {len(self.link)} "
                                       "transition(s)")

    def drained(self) -> bool:
        with self.lock:
            return self.cfg.eval_only or not len(self.link)

    def shutdown(self) -> None:
        self.write_report(self.cfg.report_path, actor_id=self.actor_id, obs_mode=self.policy.obs_mode,
                          pending=len(self.link))
        stats = self.link.stats()
        if stats["unacked"] and not self.cfg.eval_only:  # the learner stopped with the graph before acknowledging
            self.get_logger().warning(f"{stats['unacked']} transition(s) not acknowledged by a learner at shutdown")
        if self.metrics is not None:
            self.metrics.write("shutdown", self.policy.version, {**stats, "actor_id": self.actor_id})
            self.metrics.close()
