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
import time
import uuid
from dataclasses import dataclass, field
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
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import image_to_array, robot_state_to_array
from rldg_ros.qos import PARAMS, RELIABLE_10, RELIABLE_DEEP, SENSOR
from rldg_ros.rl.agent import AgentConfig
from rldg_ros.rl.spaces import RolloutNoise
from rldg_ros.rl.transport import BlobAssembler, Outbox
from rldg_ros.spec import EVAL_FIRST_SEED

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


@dataclass
class _Frame:
    state: RobotState | None = None
    reward: Reward | None = None
    image: Image | None = None
    privileged: Observation | None = None
    t: float = field(default_factory=time.monotonic)


class RlActor(RldgNode):
    CONFIG = RlActorConfig
    DEFAULT_NAME = "rl_actor"
    DRAIN_TIMEOUT_S = 8.0  # a stopping actor resends what the learner has not acknowledged for up to this long
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        c = self.cfg
        import jax

        self.jax = jax
        self.actor_id = c.actor_id or f"{self.get_name()}-{uuid.uuid4().hex[:8]}"
        self.lock = threading.RLock()
        self.agent = None
        self.meta: dict | None = None
        self.aparams = None
        self.version = -1
        self.rng = jax.random.PRNGKey(c.seed)
        self.nrng = np.random.default_rng(c.seed)
        self.noise = (RolloutNoise(c.rollout_noise, c.rollout_noise_steps, self.nrng)
                      if c.eval_only and c.rollout_noise > 0 else None)
        self.assembler = BlobAssembler()
        self.outbox = Outbox(c.max_pending, c.resend_after_s)
        self.frames: dict[int, _Frame] = {}
        self.executed: dict[tuple[int, int], Action] = {}
        self.limit = c.time_limit or self._task_limit()
        self.instruction = c.instruction or self._task_instruction()
        # episode state
        self.running = False
        self.draining = False  # the graph is stopping: no new step or episode, only the outbox is emptied
        self.starting = False
        self.is_eval = c.eval_only
        self.episode_id = 0
        self.steps = 0
        self.prev: tuple[Observation, np.ndarray, int] | None = None  # (obs msg, robot state, step)
        self.ep_return = 0.0
        self.ep_interventions = 0
        self.ep_unseen = 0  # steps whose command this actor had not received when the next state came
        self.train_done = 0
        self.eval_left = 0
        self.eval_pending = False
        self.eval_round_index = 0
        self.ep_seed = -1
        self.episodes_done = 0
        self.history: list[dict] = []
        self.operator_end: str | None = None
        self.metrics = None
        if c.run_dir:
            from rldg_ros.rl.learner import MetricsLog

            self.metrics = MetricsLog(Path(c.run_dir) / ("eval" if c.eval_only else "actor"))
        if c.checkpoint:
            self._load_checkpoint(c.checkpoint)

        group = MutuallyExclusiveCallbackGroup()
        self.pub_action = self.create_publisher(Action, topics.POLICY_ACTION.name, RELIABLE_10)
        self.pub_transition = self.create_publisher(Transition, topics.TRANSITIONS.name, RELIABLE_DEEP)
        self.pub_episode = self.create_publisher(EpisodeEvent, topics.EPISODE.name, RELIABLE_10)
        self.create_subscription(RobotState, topics.ROBOT_STATE.name, lambda m: self._put("state", m), RELIABLE_10,
                                 callback_group=group)
        self.create_subscription(Reward, topics.REWARD.name, lambda m: self._put("reward", m), RELIABLE_10,
                                 callback_group=group)
        self.create_subscription(Image, topics.POLICY_IMAGE.name, self._on_image, SENSOR, callback_group=group)
        self.create_subscription(Observation, topics.SIM_PRIVILEGED.name, lambda m: self._put("privileged", m),
                                 RELIABLE_10,
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
        self.get_logger().info(f"rl_actor up as {self.actor_id}: task {c.task}, limit {self.limit} steps"
                               + (", evaluation only" if c.eval_only else ""))

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
    def _build(self, meta: dict) -> None:
        from rldg_ros.rl.agent import SACAgent
        from rldg_ros.rl.spaces import LAYOUTS, ObsConfig

        if self.meta is not None and {k: meta[k] for k in ("obs", "layout", "state_dim", "agent", "grasp")} == {
                k: self.meta[k] for k in ("obs", "layout", "state_dim", "agent", "grasp")}:
            return
        agent_cfg = AgentConfig(**meta["agent"])
        self.agent = SACAgent(agent_cfg, int(meta["state_dim"]), len(LAYOUTS[meta["layout"]]),
                              image_size=meta["obs"]["image_size"] if meta["obs_mode"] == "pixels" else None,
                              grasp=bool(meta["grasp"]), discount=float(meta["discount"]))
        self.obs_cfg = ObsConfig(**meta["obs"])
        self.template = self.agent.actor_params(self.agent.init(0)["params"])
        self.meta = meta
        label = " (PRIVILEGED sim state)" if meta["obs_mode"] == "privileged" else ""
        self.get_logger().info(f"policy: obs {meta['obs_mode']}{label}, layout {meta['layout']}, "
                               f"grasp {meta['grasp']}")

    def _load_checkpoint(self, path: str) -> None:
        from rldg_ros.rl.agent import from_bytes
        from rldg_ros.rl.learner import load_actor_checkpoint

        meta, raw = load_actor_checkpoint(path)
        self._build(meta)
        state = from_bytes(self.agent.init(0), raw)
        self.aparams = self.agent.actor_params(state["params"])
        self.version = int(meta["step"])
        self.get_logger().info(f"policy from checkpoint {path} (step {self.version})")

    def _on_params(self, msg: ParameterBlob) -> None:
        blob = self.assembler.add(int(msg.version), int(msg.chunk_index), int(msg.num_chunks), msg.sha256,
                                  bytes(msg.data))
        if blob is None:
            return
        from rldg_ros.rl.agent import from_bytes

        try:
            self._build(json.loads(msg.format))
            params = from_bytes(self.template, blob)
        except Exception as exc:  # noqa: BLE001 - a bad blob must not kill the robot's policy
            self.get_logger().error(f"parameter blob v{msg.version} refused: {exc}")
            return
        with self.lock:
            first = self.aparams is None
            self.aparams, self.version = params, int(msg.version)
        if first:
            self.get_logger().info(f"first policy parameters (learner step {msg.version})")

    def _act(self, obs: dict) -> np.ndarray:
        from rldg_ros.rl.spaces import to_env_action

        self.rng, k = self.jax.random.split(self.rng)
        sample = self.cfg.eval_only and self.cfg.sample_actions  # collecting data from the policy's distribution
        a, g = self.agent.act(self.aparams, obs, k, deterministic=self.is_eval and not sample)
        if self.noise is not None:  # collection with rollout_noise: states off the specialist's path
            if self.steps == 0:
                self.noise.reset()
            a = np.asarray(a) + self.noise.sample(np.shape(a))
        eps = self.cfg.grasp_epsilon if self.cfg.grasp_epsilon >= 0 else self.meta["agent"]["grasp_epsilon"]
        if self.meta["grasp"] and not self.is_eval and self.nrng.random() < eps:
            g = int(self.nrng.integers(0, 2))
        return to_env_action(a, self.meta["layout"], 1.0 if g else -1.0)

    # -- inputs ------------------------------------------------------------------------------------------------
    @staticmethod
    def _key(stamp) -> int:
        return int(stamp.sec) * 1_000_000_000 + int(stamp.nanosec)

    def _put(self, part: str, msg) -> None:
        """One input of a control step (state, reward, image, privileged), keyed by the stamp they share."""
        with self.lock:
            setattr(self.frames.setdefault(self._key(msg.header.stamp), _Frame()), part, msg)
            self._try(msg.header.stamp)

    def _on_image(self, msg: Image) -> None:
        if self.meta is not None and self.meta["obs_mode"] == "pixels":
            self._put("image", msg)

    def _on_command(self, msg: Action) -> None:
        with self.lock:
            if msg.episode_id == self.episode_id:
                self.executed[(int(msg.episode_id), int(msg.step))] = msg

    def _on_ack(self, msg: TransitionAck) -> None:
        if msg.actor_id != self.actor_id:
            return
        with self.lock:
            self.outbox.ack(int(msg.acked_seq))
            if msg.acked_seq < self.outbox.seq:
                self._send_due()

    # -- the control step --------------------------------------------------------------------------------------
    def _complete(self, f: _Frame) -> bool:
        if f.state is None or f.reward is None or self.meta is None:
            return False
        if self.meta["obs_mode"] == "pixels" and f.image is None:
            return False
        return not (self.meta["obs_mode"] == "privileged" and f.privileged is None)

    def _try(self, stamp) -> None:
        key = self._key(stamp)
        f = self.frames.get(key)
        if f is None or not self._complete(f):
            return
        del self.frames[key]
        if self.draining:
            return
        for k in [k for k in self.frames if k < key]:  # older incomplete frames will never complete now
            del self.frames[k]
        if self.running and self.aparams is not None and f.state.episode_id == self.episode_id:
            self._step(f)

    def _observation_msg(self, f: _Frame) -> tuple[Observation, np.ndarray]:
        o = Observation()
        o.header = f.state.header
        state = robot_state_to_array(f.state)
        priv = list(f.privileged.state) if f.privileged is not None else []
        o.state = [float(v) for v in state] + [1.0 if f.state.gripper_closed else 0.0] + [float(v) for v in priv]
        if f.image is not None and self.meta["obs_mode"] == "pixels":
            o.image = f.image
        return o, state

    def _agent_obs(self, f: _Frame, state: np.ndarray) -> dict:
        from rldg_ros.rl.demos import observation

        image = image_to_array(f.image) if self.meta["obs_mode"] == "pixels" else None
        priv = np.asarray(f.privileged.state, np.float32) if f.privileged is not None else None
        obs = observation(state, image, priv, self.obs_cfg)
        self.agent.check_observation(obs)  # refused here, before a transition is built from it
        return obs

    def _step(self, f: _Frame) -> None:
        o_msg, state = self._observation_msg(f)
        try:
            obs = self._agent_obs(f, state)
        except ValueError as exc:
            self.get_logger().error(f"observation refused: {exc}", throttle_duration_sec=2.0)
            return
        step = int(f.state.episode_step)
        reward = float(f.reward.reward)
        success = bool(f.reward.success)
        if self.prev is not None:
            prev_msg, _, prev_step = self.prev
            executed, intervention, source = self._executed(prev_step, f.state)
            self.ep_return += reward
            self.ep_interventions += int(intervention)
            if not self.cfg.eval_only:
                t = Transition()
                t.header.stamp = f.state.header.stamp
                t.actor_id = self.actor_id
                t.observation, t.next_observation = prev_msg, o_msg
                t.action = [float(v) for v in executed]
                t.reward, t.terminal = reward, success and self.cfg.end_on_success
                t.truncated = not t.terminal and self.steps + 1 >= self.limit
                t.intervention, t.source = intervention, source
                t.episode_id, t.step, t.policy_version = self.episode_id, prev_step, max(self.version, 0)
                t.seq = self.outbox.add(t)
                self._send_due()
        self.steps += 1 if self.prev is not None else 0
        self.prev = (o_msg, state, step)
        if success and self.cfg.end_on_success:
            self._end(True, "success")
        elif self.operator_end:
            reason, self.operator_end = self.operator_end, None
            self._end(reason == "marked success", reason)
        elif self.steps >= self.limit:
            self._end(False, "timeout")
        else:
            a = self._act(obs)
            m = Action()
            m.header.stamp = f.state.header.stamp
            m.action = [float(v) for v in a]
            m.source, m.source_name, m.intervention = Action.SOURCE_POLICY, "rl_actor", False
            m.episode_id, m.step = self.episode_id, step
            self.pub_action.publish(m)

    def _executed(self, step: int, now_state: RobotState) -> tuple[np.ndarray, bool, int]:
        """The action the robot executed after observation ``step``: the mux's command, or a hold."""
        cmd = self.executed.pop((self.episode_id, step), None)
        if cmd is None:
            self.ep_unseen += 1
        for k in [k for k in self.executed if k[1] < step]:
            del self.executed[k]
        if cmd is None or now_state.holding:
            hold = np.zeros(7, np.float32)
            hold[6] = 1.0 if now_state.gripper_closed else -1.0
            return hold, False, Action.SOURCE_HOLD
        return np.asarray(cmd.action, np.float32), bool(cmd.intervention), int(cmd.source)

    def _send_due(self) -> None:
        for seq, msg in self.outbox.due():
            self.pub_transition.publish(msg)
            self.outbox.mark_sent(seq)

    # -- episodes ----------------------------------------------------------------------------------------------
    def _event(self, kind: int, success: bool = False, reason: str = "") -> None:
        e = EpisodeEvent()
        e.header.stamp = self.get_clock().now().to_msg()
        e.event, e.episode_id, e.task_id, e.is_eval = kind, self.episode_id, self.cfg.task, self.is_eval
        e.success, e.reason, e.num_steps = success, reason, self.steps
        e.language_instruction = self.instruction
        self.pub_episode.publish(e)

    def _start(self) -> None:
        c = self.cfg
        if (self.running or self.starting or self.draining or self.aparams is None
                or not self.reset_client.service_is_ready()):
            return
        if (c.episodes and self.episodes_done >= c.episodes) or self._converged():
            if not self.finished and not len(self.outbox):
                self.finish(f"rl_actor: {self.episodes_done} episodes done"
                            + (f"; the last {c.stop_after_eval_successes} evaluation episodes succeeded"
                               if self._converged() else ""))
            return
        if self.outbox.full():
            self.get_logger().warning(f"{len(self.outbox)} transitions unacknowledged (learner gone?): not starting "
                                      "a new episode until the learner catches up", throttle_duration_sec=10.0)
            return
        if not c.eval_only and self.eval_left == 0 and self.eval_pending:
            self.eval_left, self.eval_pending = c.eval_episodes, False
        self.is_eval = c.eval_only or self.eval_left > 0
        if self.is_eval:
            seed = c.eval_first_seed + self.eval_round_index
        else:
            seed = -1 if c.first_seed < 0 else c.first_seed + self.train_done
        self.starting = True
        fut = self.reset_client.call_async(ResetEpisode.Request(task_id=c.task, seed=seed))
        fut.add_done_callback(self._started)

    def _started(self, fut) -> None:
        with self.lock:
            self.starting = False
            r = fut.result()
            if r is None or not r.success:
                self.get_logger().error(f"reset failed: {getattr(r, 'message', 'no response')}")
                return
            self.episode_id = int(r.episode_id)
            self.running, self.steps, self.prev = True, 0, None
            self.ep_return, self.ep_interventions, self.operator_end = 0.0, 0, None
            self.ep_unseen = 0
            self.frames.clear()
            self.executed.clear()
            self.ep_seed = int(r.seed)
            self._event(EpisodeEvent.EVENT_START)

    def _converged(self) -> bool:
        k = self.cfg.stop_after_eval_successes
        if not k or self.cfg.eval_only:
            return False
        evals = [h["success"] for h in self.history if h["eval"]][-k:]
        return len(evals) == k and all(evals)

    def _end(self, success: bool, reason: str) -> None:
        self.running = False
        self.episodes_done += 1
        row = {"episode": self.episode_id, "eval": self.is_eval, "success": success, "reason": reason,
               "steps": self.steps, "return": self.ep_return, "interventions": self.ep_interventions,
               "commands_unseen": self.ep_unseen,
               "intervention_rate": self.ep_interventions / max(self.steps, 1), "policy_version": self.version,
               "seed": self.ep_seed, "time": time.time()}
        self.history.append(row)
        if self.is_eval:
            self.eval_round_index += 1
            self.eval_left = max(0, self.eval_left - 1)
        else:
            self.train_done += 1
            self.eval_pending = bool(self.cfg.eval_every) and self.train_done % self.cfg.eval_every == 0
        self._event(EpisodeEvent.EVENT_END, success, reason)
        recent = [h for h in self.history if h["eval"] == self.is_eval][-20:]
        rate = sum(h["success"] for h in recent) / len(recent)
        kind = "eval" if self.is_eval else "train"
        if self.metrics is not None:
            self.metrics.write(f"episode_{kind}", self.version, {**row, "success_rate_20": rate})
        self.get_logger().info(f"episode {self.episode_id} ({kind}): {reason} after {self.steps} steps, "
                               f"{self.ep_interventions} intervened, {self.ep_unseen} command(s) unseen; "
                               f"success rate (last {len(recent)} {kind}) "
                               f"{rate:.2f}; policy v{self.version}; outbox {len(self.outbox)}")

    def _on_episode_command(self, request: EpisodeCommand.Request, response: EpisodeCommand.Response):
        with self.lock:
            cmd = request.command
            if cmd == EpisodeCommand.Request.START:
                response.success, response.message = not self.running, (
                    "starting" if not self.running else f"episode {self.episode_id} is running")
                self._start()
            elif cmd in (EpisodeCommand.Request.END, EpisodeCommand.Request.MARK_SUCCESS,
                         EpisodeCommand.Request.MARK_FAILURE):
                if not self.running:
                    response.success, response.message = False, "no episode is running"
                else:
                    self.operator_end = {EpisodeCommand.Request.END: "operator",
                                         EpisodeCommand.Request.MARK_SUCCESS: "marked success",
                                         EpisodeCommand.Request.MARK_FAILURE: "marked failure"}[cmd]
                    response.success, response.message = True, "the episode ends at the next step"
            else:
                response.success, response.message = False, f"unknown episode command {cmd}"
            response.episode_id = self.episode_id
        return response

    def _tick(self) -> None:
        with self.lock:
            now = time.monotonic()
            for k in [k for k, f in self.frames.items() if now - f.t > self.cfg.sync_timeout]:
                del self.frames[k]
            self._send_due()
            if not self.running:
                self._start()

    def summary(self) -> dict:
        evals = [h for h in self.history if h["eval"]]
        trains = [h for h in self.history if not h["eval"]]
        return {"task": self.cfg.task, "actor_id": self.actor_id, "obs_mode": (self.meta or {}).get("obs_mode"),
                "eval_episodes": len(evals), "eval_successes": sum(h["success"] for h in evals),
                "train_episodes": len(trains), "train_successes": sum(h["success"] for h in trains),
                "pending": len(self.outbox), "episodes": self.history}

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
            self.metrics.write("shutdown", self.version, {"transitions": self.outbox.seq,
                                                          "acked": self.outbox.acked, "unacked": unacked})
            self.metrics.close()
