"""``rl_actor``: runs the current RL policy on the robot, owns the episodes, and streams transitions to the learner.

Each control step is one ``rldg/robot_state`` (the bridge publishes one per step, with its episode id). The actor
pairs it, by stamp, with that step's ``rldg/reward`` (classifier or sim ground truth), the wrist image (pixels
mode) and the privileged goal features (labelled sim-only mode), then:

1. assembles the transition of the previous step with the action the robot really **executed** (the mux's
   ``rldg/action/command`` for that step: the policy's, or the human/scripted intervention's, or a hold), the
   reward, and ``terminal`` on success; puts it in the outbox, which keeps it until the learner acknowledges it
   (``rldg/transitions/ack``) and resends from the acknowledged seq when the learner restarts;
2. ends the episode on success, time limit or operator (``rldg/episode_command``), resets the cell through
   ``rldg/reset_episode`` and announces START/END on ``rldg/episode``; every ``eval_every`` training episodes it
   runs ``eval_episodes`` evaluation episodes without exploration noise;
3. publishes the policy action for the next step on ``rldg/action/policy`` (the intervention mux decides).

Parameters arrive as chunked blobs (``rldg/policy_params``); until the first one (or a ``checkpoint``) there is no
policy, and the actor does not start episodes. If the learner goes away the actor keeps acting with the last
parameters; if the outbox reaches ``max_pending`` it stops starting new episodes rather than drop data.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup, ReentrantCallbackGroup
from sensor_msgs.msg import Image

from rldg_msgs.msg import (
    Action,
    EpisodeEvent,
    Observation,
    ParameterBlob,
    Reward,
    RobotState,
    Transition,
    TransitionAck,
)
from rldg_msgs.srv import EpisodeCommand, ResetEpisode
from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.episodes import MARK_SUCCESS, EpisodePlan, EpisodeRunner, StampSync
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import OPERATOR_REASONS, image_to_array, robot_state_to_array
from rldg_ros.qos import PARAMS, RELIABLE_10, RELIABLE_DEEP, SENSOR
from rldg_ros.rl.transport import BlobAssembler, Outbox
from rldg_ros.spec import ACTION_DIM, EVAL_FIRST_SEED, GRIPPER_CLOSED, GRIPPER_DIM, GRIPPER_OPEN

EVAL_SEED = EVAL_FIRST_SEED


@dataclass
class RlActorConfig:
    task: str = param("connector_insertion/usb", help="task id")
    actor_id: str = param("", help="name in transitions (empty: node name + a random session suffix)")
    time_limit: int = param(0, min=0, help="episode limit in control steps (0: the sim task's own, else 100)")
    instruction: str = param("", help="language instruction its episodes carry (empty: the sim task's own): the "
                             "recorded rollouts become a generalist's language-conditioned data")
    end_on_success: bool = param(True, help="end an episode when rldg/reward reports success")
    eval_every: int = param(10, min=0, help="run evaluation episodes after every N training episodes (0: never)")
    eval_episodes: int = param(5, min=1, help="evaluation episodes per evaluation round")
    eval_only: bool = param(False, help="only evaluation episodes (deterministic), no transitions sent")
    sample_actions: bool = param(False, help="eval_only: sample each action from the policy (as HIL-SERL's rollouts "
                                 "do) instead of taking its mean: data collection that covers the states around the "
                                 "specialist's path")
    rollout_noise: float = param(0.0, min=0.0, max=1.0, help="eval_only: Gaussian noise (std, in the policy's [-1, "
                                 "1] action units) added to each executed action, so the recorded states also "
                                 "cover recoveries from off the specialist's path; convert --relabel labels them "
                                 "with its mean action (noise injection as in DART, Laskey et al. 2017)")
    rollout_noise_steps: float = param(1.0, min=1.0, max=100.0, help="correlation time of rollout_noise in control "
                                       "steps (Ornstein-Uhlenbeck; 1: white): longer pushes the arm off its path "
                                       "for a while instead of jittering around it")
    episodes: int = param(0, min=0, help="stop after this many episodes (0: no limit)")
    first_seed: int = param(0, min=-1, help="seed of the first training episode (+1 each; -1: random)")
    eval_first_seed: int = param(EVAL_SEED, min=0, help="seed of the first evaluation episode (+1 each): held-out "
                                 "seeds for evaluation, other seeds to collect data")
    stop_after_eval_successes: int = param(0, min=0, help="training: stop once the last N evaluation episodes all "
                                           "succeeded (0: never; the graph's duration still applies)")
    seed: int = param(0, min=0, help="exploration noise seed")
    checkpoint: str = param("", help="start from a learner checkpoint directory (run_dir or run_dir/checkpoints/X)")
    max_pending: int = param(20000, min=10, help="unacknowledged transitions kept; when full no new episode starts")
    resend_after_s: float = param(2.0, min=0.1, help="resend unacknowledged transitions after this long")
    sync_timeout: float = param(1.0, min=0.05, help="drop a step whose reward/image did not arrive within this")
    run_dir: str = param("", help="episode metrics go to run_dir/actor (metrics.jsonl, TensorBoard; empty: none)")
    report_path: str = param("", help="write a JSON summary of all episodes here at shutdown")
    grasp_epsilon: float = param(-1.0, max=1.0, help="random gripper decisions (-1: the learner's setting)")


def stamp_ns(stamp) -> int:
    return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)


class RlActor(RldgNode):
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
        self.outbox = Outbox(c.max_pending, c.resend_after_s)
        self.sync = StampSync({"state", "reward"}, c.sync_timeout)
        self.executed: dict[tuple[int, int], Action] = {}  # the mux's commands by (episode, step)
        self.instruction = c.instruction or self._task_instruction()
        self.episodes = EpisodeRunner(EpisodePlan(
            episodes=c.episodes, first_seed=c.first_seed, eval_only=c.eval_only, eval_every=c.eval_every,
            eval_episodes=c.eval_episodes, eval_first_seed=c.eval_first_seed,
            stop_after_eval_successes=c.stop_after_eval_successes), c.time_limit or self._task_limit())
        self.draining = False  # the graph is stopping: no new step or episode, only the outbox is emptied
        self.prev: tuple[Observation, int] | None = None  # the last step's (observation msg, step)
        self.metrics = None
        if c.run_dir:
            from rldg_ros.rl.learner import MetricsLog

            self.metrics = MetricsLog(Path(c.run_dir) / ("eval" if c.eval_only else "actor"))
        if c.checkpoint:
            self.policy.load_checkpoint(c.checkpoint)
            self._built()
            self.get_logger().info(f"policy from checkpoint {c.checkpoint} (step {self.policy.version})")

        group = MutuallyExclusiveCallbackGroup()
        self.pub_action = self.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
        self.pub_transition = self.create_publisher(Transition, topics.TRANSITIONS.name, RELIABLE_DEEP)
        self.pub_episode = self.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
        for msg_type, topic, part, qos in ((RobotState, topics.ROBOT_STATE, "state", RELIABLE_10),
                                           (Reward, topics.REWARD, "reward", RELIABLE_10),
                                           (Image, topics.POLICY_IMAGE, "image", SENSOR),
                                           (Observation, topics.SIM_PRIVILEGED, "privileged", RELIABLE_10)):
            self.create_subscription(msg_type, topic.name, lambda m, part=part: self._put(part, m), qos,
                                     callback_group=group)
        self.create_subscription(Action, topics.COMMAND.name, self._on_command, RELIABLE_10, callback_group=group)
        self.create_subscription(ParameterBlob, topics.POLICY_PARAMS.name, self._on_params, PARAMS,
                                 callback_group=group)
        self.create_subscription(TransitionAck, topics.TRANSITION_ACK.name, self._on_ack, RELIABLE_10,
                                 callback_group=group)
        reentrant = ReentrantCallbackGroup()
        self.reset_client = self.create_client(ResetEpisode, topics.RESET_EPISODE.name, callback_group=reentrant)
        self.create_service(EpisodeCommand, topics.EPISODE_COMMAND.name, self._on_episode_command,
                            callback_group=reentrant)
        self.create_timer(0.05, self._tick, callback_group=group)
        self.get_logger().info(f"rl_actor up as {self.actor_id}: task {c.task}, limit "
                               f"{self.episodes.limit_steps} steps" + (", evaluation only" if c.eval_only else ""))

    def _task_instruction(self) -> str:
        try:
            from rldg_ros.sim.tasks import make_task

            return str(make_task(self.cfg.task).instruction)
        except (ImportError, KeyError):  # a real cell without the sim, or a task it does not know
            self.get_logger().warning(f"rl_actor: no instruction for task {self.cfg.task!r}: its episodes carry none "
                                      "(set instruction:=...)")
            return ""

    def _task_limit(self) -> int:
        try:
            from rldg_ros.sim.tasks import make_task

            return int(make_task(self.cfg.task).time_limit)
        except (ImportError, KeyError):
            return 100

    # -- policy ------------------------------------------------------------------------------------------------
    def _built(self) -> None:
        """The policy's observation mode decides which parts make a complete step."""
        mode = self.policy.obs_mode
        self.sync.required = {"state", "reward"} | ({"image"} if mode == "pixels" else set()) | (
            {"privileged"} if mode == "privileged" else set())
        m = self.policy.meta
        label = " (PRIVILEGED sim state)" if mode == "privileged" else ""
        self.get_logger().info(f"policy: obs {mode}{label}, layout {m['layout']}, grasp {m['grasp']}")

    def _on_params(self, msg: ParameterBlob) -> None:
        blob = self.assembler.add(int(msg.version), int(msg.chunk_index), int(msg.num_chunks), msg.sha256,
                                  bytes(msg.data))
        if blob is None:
            return
        with self.lock:
            try:
                meta = json.loads(msg.format)
                rebuilt = self.policy.build(meta)
                params = self.policy.decode_blob(blob)
            except Exception as exc:  # noqa: BLE001 - a bad blob must not kill the robot's policy
                self.get_logger().error(f"parameter blob v{msg.version} refused: {exc}")
                return
            if rebuilt:
                self._built()
            if self.policy.use(params, int(msg.version)):
                self.get_logger().info(f"first policy parameters (learner step {msg.version})")

    # -- inputs ------------------------------------------------------------------------------------------------
    def _put(self, part: str, msg) -> None:
        """One input of a control step (state, reward, image, privileged), keyed by the stamp they share."""
        if part in ("image", "privileged") and part not in self.sync.required:
            return
        with self.lock:
            f = self.sync.put(part, stamp_ns(msg.header.stamp), msg)
            e = self.episodes.current
            if (f is not None and not self.draining and e is not None and self.policy.ready
                    and f["state"].episode_id == e.episode_id):
                self._step(f)

    def _on_command(self, msg: Action) -> None:
        with self.lock:
            e = self.episodes.current
            if e is not None and msg.episode_id == e.episode_id:
                self.executed[(int(msg.episode_id), int(msg.step))] = msg

    def _on_ack(self, msg: TransitionAck) -> None:
        if msg.actor_id != self.actor_id:
            return
        with self.lock:
            self.outbox.ack(int(msg.acked_seq))
            if msg.acked_seq < self.outbox.seq:
                self._send_due()

    # -- the control step --------------------------------------------------------------------------------------
    def _observation_msg(self, f: dict) -> tuple[Observation, np.ndarray]:
        o = Observation()
        o.header = f["state"].header
        state = robot_state_to_array(f["state"])
        priv = list(f["privileged"].state) if "privileged" in f else []
        o.state = [float(v) for v in state] + [1.0 if f["state"].gripper_closed else 0.0] + [float(v) for v in priv]
        if "image" in f:
            o.image = f["image"]
        return o, state

    def _step(self, f: dict) -> None:
        e = self.episodes.current
        o_msg, state = self._observation_msg(f)
        try:
            obs = self.policy.observation(state, image_to_array(f["image"]) if "image" in f else None,
                                          np.asarray(f["privileged"].state, np.float32) if "privileged" in f
                                          else None)
        except ValueError as exc:  # refused here, before a transition is built from it
            self.get_logger().error(f"observation refused: {exc}", throttle_duration_sec=2.0)
            return
        step = int(f["state"].episode_step)
        reward, success = float(f["reward"].reward), bool(f["reward"].success)
        if self.prev is not None:
            prev_msg, prev_step = self.prev
            executed, intervention, source, unseen = self._executed(e.episode_id, prev_step, f["state"])
            self.episodes.step(reward, intervention, unseen)
            if not self.cfg.eval_only:
                self._queue(e, prev_msg, o_msg, executed, reward, success, intervention, source, prev_step)
        self.prev = (o_msg, step)
        if success and self.cfg.end_on_success:
            self._end(True, "success")
        elif e.end_request:
            self._end(e.end_request == MARK_SUCCESS, e.end_request)
        elif self.episodes.timed_out():
            self._end(False, "timeout")
        else:
            m = Action()
            m.header.stamp = f["state"].header.stamp
            m.action = [float(v) for v in self.policy.act(obs, e.is_eval, first_step=e.steps == 0)]
            m.source, m.source_name, m.intervention = Action.SOURCE_POLICY, "rl_actor", False
            m.episode_id, m.step = e.episode_id, step
            self.pub_action.publish(m)

    def _queue(self, e, prev_msg, o_msg, executed, reward, success, intervention, source, prev_step) -> None:
        """The previous step's transition into the outbox (kept until the learner acknowledges it)."""
        t = Transition()
        t.header.stamp = o_msg.header.stamp
        t.actor_id = self.actor_id
        t.observation, t.next_observation = prev_msg, o_msg
        t.action = [float(v) for v in executed]
        t.reward, t.terminal = reward, success and self.cfg.end_on_success
        t.truncated = not t.terminal and e.steps >= self.episodes.limit_steps
        t.intervention, t.source = intervention, source
        t.episode_id, t.step, t.policy_version = e.episode_id, prev_step, max(self.policy.version, 0)
        t.seq = self.outbox.add(t)
        self._send_due()

    def _executed(self, episode_id: int, step: int, now_state: RobotState) -> tuple[np.ndarray, bool, int, bool]:
        """The action the robot executed after observation ``step``: the mux's command, or a hold; and whether the
        command had not arrived (unseen)."""
        cmd = self.executed.pop((episode_id, step), None)
        for k in [k for k in self.executed if k[1] < step]:
            del self.executed[k]
        if cmd is None or now_state.holding:
            hold = np.zeros(ACTION_DIM, np.float32)
            hold[GRIPPER_DIM] = GRIPPER_CLOSED if now_state.gripper_closed else GRIPPER_OPEN
            return hold, False, Action.SOURCE_HOLD, cmd is None
        return np.asarray(cmd.action, np.float32), bool(cmd.intervention), int(cmd.source), False

    def _send_due(self) -> None:
        for seq, msg in self.outbox.due():
            self.pub_transition.publish(msg)
            self.outbox.mark_sent(seq)

    # -- episodes ----------------------------------------------------------------------------------------------
    def _event(self, kind: int, episode_id: int, success: bool = False, reason: str = "", steps: int = 0) -> None:
        ev = EpisodeEvent()
        ev.header.stamp = self.get_clock().now().to_msg()
        ev.event, ev.episode_id, ev.task_id = kind, episode_id, self.cfg.task
        ev.is_eval = self.episodes.current.is_eval if self.episodes.current else self.cfg.eval_only
        ev.success, ev.reason, ev.num_steps = success, reason, steps
        ev.language_instruction = self.instruction
        self.pub_episode.publish(ev)

    def _start(self) -> None:
        c, runner = self.cfg, self.episodes
        if (runner.running or runner.starting or self.draining or not self.policy.ready
                or not self.reset_client.service_is_ready()):
            return
        if runner.all_done():
            if not self.finished and not len(self.outbox):
                self.finish(f"rl_actor: {runner.episodes_done} episodes done"
                            + (f"; the last {c.stop_after_eval_successes} evaluation episodes succeeded"
                               if runner.converged() else ""))
            return
        if self.outbox.full():
            self.get_logger().warning(f"{len(self.outbox)} transitions unacknowledged (learner gone?): not starting "
                                      "a new episode until the learner catches up", throttle_duration_sec=10.0)
            return
        _, seed = runner.next_start()
        fut = self.reset_client.call_async(ResetEpisode.Request(task_id=c.task, seed=seed))
        fut.add_done_callback(self._started)

    def _started(self, fut) -> None:
        with self.lock:
            try:
                r = fut.result()
            except Exception:  # noqa: BLE001 - a failed call is a failed reset: ask again later
                r = None
            if r is None or not r.success:
                self.episodes.start_failed()
                self.get_logger().error(f"reset failed: {getattr(r, 'message', 'no response')}")
                return
            e = self.episodes.started(int(r.episode_id), int(r.seed))
            self.prev = None
            self.sync.clear()
            self.executed.clear()
            self._event(EpisodeEvent.EVENT_START, e.episode_id)

    def _end(self, success: bool, reason: str) -> None:
        e = self.episodes.current
        self._event(EpisodeEvent.EVENT_END, e.episode_id, success, reason, e.steps)
        row = self.episodes.end(success, reason, policy_version=self.policy.version)
        rate, n = self.episodes.recent_rate(e.is_eval)
        kind = "eval" if e.is_eval else "train"
        if self.metrics is not None:
            self.metrics.write(f"episode_{kind}", self.policy.version, {**row, "success_rate_20": rate})
        self.get_logger().info(f"episode {e.episode_id} ({kind}): {reason} after {e.steps} steps, "
                               f"{e.interventions} intervened, {e.unseen} command(s) unseen; "
                               f"success rate (last {n} {kind}) {rate:.2f}; policy v{self.policy.version}; "
                               f"outbox {len(self.outbox)}")

    def _on_episode_command(self, request: EpisodeCommand.Request, response: EpisodeCommand.Response):
        with self.lock:
            cmd, running = request.command, self.episodes.running
            if cmd == EpisodeCommand.Request.START:
                response.success = not running
                response.message = f"episode {self.episodes.current.episode_id} is running" if running else "starting"
                self._start()
            elif cmd in OPERATOR_REASONS:
                response.success = self.episodes.request_end(OPERATOR_REASONS[cmd])
                response.message = "the episode ends at the next step" if running else "no episode is running"
            else:
                response.success, response.message = False, f"unknown episode command {cmd}"
            e = self.episodes.current
            response.episode_id = e.episode_id if e else (self.episodes.history[-1]["episode"]
                                                         if self.episodes.history else 0)
        return response

    def _tick(self) -> None:
        with self.lock:
            self.sync.expire()
            self._send_due()
            if not self.episodes.running:
                self._start()

    def summary(self) -> dict:
        h = self.episodes.history
        evals = [x for x in h if x["eval"]]
        trains = [x for x in h if not x["eval"]]
        return {"task": self.cfg.task, "actor_id": self.actor_id, "obs_mode": self.policy.obs_mode,
                "eval_episodes": len(evals), "eval_successes": sum(x["success"] for x in evals),
                "train_episodes": len(trains), "train_successes": sum(x["success"] for x in trains),
                "pending": len(self.outbox), "episodes": h}

    def begin_drain(self) -> None:
        with self.lock:
            self.draining = True
            if not self.cfg.eval_only and len(self.outbox):
                self.get_logger().info(f"stopping: waiting for the learner to acknowledge {len(self.outbox)} "
                                       "transition(s)")

    def drained(self) -> bool:
        with self.lock:
            return self.cfg.eval_only or not len(self.outbox)

    def shutdown(self) -> None:
        if self.cfg.report_path:
            Path(self.cfg.report_path).parent.mkdir(parents=True, exist_ok=True)
            Path(self.cfg.report_path).write_text(json.dumps(self.summary(), indent=1))
        unacked = len(self.outbox.pending)
        if unacked and not self.cfg.eval_only:  # the learner stopped with the graph before acknowledging these
            self.get_logger().warning(f"{unacked} transition(s) not acknowledged by a learner at shutdown")
        if self.metrics is not None:
            self.metrics.write("shutdown", self.policy.version, {"transitions": self.outbox.seq,
                                                                 "acked": self.outbox.acked, "unacked": unacked})
            self.metrics.close()
