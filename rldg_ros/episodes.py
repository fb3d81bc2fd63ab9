"""Episode bookkeeping shared by every node that runs episodes on the cell (``rl_actor``, ``teleop_episodes``), and
the pairing of one control step's inputs by stamp. ROS-free: the nodes feed it and publish what it decides.

- :class:`EpisodeRunner`: which episode comes next (training or evaluation, and its seed), when the run is done
  (N episodes, N successes, or the last N evaluation episodes all succeeded), the running episode's counters, an
  operator's end request, and one row per finished episode.
- :class:`StampSync`: the parts of a control step (robot state, reward, image, ...) arrive on separate topics with
  the stamp of the state they belong to; a step is complete when every required part is there.
- :class:`TransitionBuilder`: what the robot executed after each observation (the intervention mux's command for
  that step, or a hold), and the previous step's transition once the next observation arrives.
- :func:`task_defaults`: a sim task's instruction and time limit, for nodes whose parameters leave them empty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rldg_ros.spec import ACTION_DIM, CONTROL_HZ, GRIPPER_CLOSED, GRIPPER_DIM, GRIPPER_OPEN, SOURCE_HOLD

#: reasons an episode ends with, besides success and the time limit: what an operator's EpisodeCommand asks for
OPERATOR_END = "operator"
MARK_SUCCESS = "marked success"
MARK_FAILURE = "marked failure"


@dataclass
class EpisodePlan:
    """What a node runs. Seeds: training episodes ``first_seed`` + 0, 1, 2 ... (-1: the cell picks at random);
    evaluation episodes ``eval_first_seed`` + 0, 1, 2 ... across rounds, so no evaluation seed repeats."""

    episodes: int = 0  # stop after this many episodes (0: no limit)
    successes: int = 0  # ... or once this many succeeded (0: no limit)
    first_seed: int = 0
    eval_only: bool = False  # every episode is an evaluation episode
    eval_every: int = 0  # an evaluation round after every N training episodes (0: never)
    eval_episodes: int = 5  # episodes per evaluation round
    eval_gate: float = 0.0  # a round starts only once this fraction of the last eval_every training episodes
    #                         succeeded with no intervention (0: always); else it is retried after the next one
    eval_first_seed: int = 0
    stop_after_eval_successes: int = 0  # training: done once the last N evaluation episodes all succeeded


@dataclass
class Episode:
    """The running episode's counters."""

    episode_id: int
    seed: int
    is_eval: bool
    steps: int = 0
    ret: float = 0.0
    interventions: int = 0
    unseen: int = 0  # steps whose executed command had not arrived when the next state came
    end_request: str | None = None  # an operator's END / MARK_*: the episode ends at its next step


class EpisodeRunner:
    def __init__(self, plan: EpisodePlan, limit_steps: int) -> None:
        if limit_steps < 1:
            raise ValueError(f"limit_steps must be >= 1, got {limit_steps}")
        self.plan = plan
        self.limit_steps = int(limit_steps)
        self.current: Episode | None = None
        self.starting = False  # a reset was requested and has not answered yet
        self.next_is_eval = plan.eval_only  # the kind of the episode the reset in flight is for
        self.history: list[dict[str, Any]] = []
        self.train_done = 0
        self.eval_done = 0
        self.eval_left = 0
        self.eval_pending = False
        self.train_since_round = 0  # training episodes since the last evaluation round was scheduled

    # -- what comes next -----------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self.current is not None

    @property
    def episodes_done(self) -> int:
        return len(self.history)

    @property
    def successes(self) -> int:
        return sum(h["success"] for h in self.history)

    def converged(self) -> bool:
        k = self.plan.stop_after_eval_successes
        if not k or self.plan.eval_only:
            return False
        evals = [h["success"] for h in self.history if h["eval"]][-k:]
        return len(evals) == k and all(evals)

    def all_done(self) -> bool:
        p = self.plan
        return bool((p.episodes and self.episodes_done >= p.episodes)
                    or (p.successes and self.successes >= p.successes) or self.converged())

    def next_start(self) -> tuple[bool, int] | None:
        """-> (is_eval, seed) of the episode to reset for, and marks a reset in flight; None if one is running or
        in flight, or the run is done."""
        if self.running or self.starting or self.all_done():
            return None
        p = self.plan
        if not p.eval_only and self.eval_left == 0 and self.eval_pending:
            self.eval_left, self.eval_pending = p.eval_episodes, False
        is_eval = p.eval_only or self.eval_left > 0
        if is_eval:
            seed = p.eval_first_seed + self.eval_done
        else:
            seed = -1 if p.first_seed < 0 else p.first_seed + self.train_done
        self.starting, self.next_is_eval = True, is_eval
        return is_eval, seed

    def start_failed(self) -> None:
        self.starting = False

    def started(self, episode_id: int, seed: int) -> Episode:
        """The cell was reset for the episode :meth:`next_start` chose."""
        self.starting = False
        self.current = Episode(int(episode_id), int(seed), self.next_is_eval)
        return self.current

    # -- the running episode -------------------------------------------------------------------------------------
    def request_end(self, reason: str) -> bool:
        """An operator's END / MARK_SUCCESS / MARK_FAILURE; False if no episode is running."""
        if self.current is None:
            return False
        self.current.end_request = reason
        return True

    def step(self, reward: float = 0.0, intervention: bool = False, unseen: bool = False) -> None:
        e = self.current
        if e is None:
            return
        e.steps += 1
        e.ret += float(reward)
        e.interventions += int(intervention)
        e.unseen += int(unseen)

    def timed_out(self) -> bool:
        return self.current is not None and self.current.steps >= self.limit_steps

    def end(self, success: bool, reason: str, **extra: Any) -> dict[str, Any]:
        """Ends the running episode; -> its row (also kept in ``history``)."""
        e = self.current
        if e is None:
            raise RuntimeError("no episode is running")
        self.current = None
        row = {"episode": e.episode_id, "eval": e.is_eval, "success": bool(success), "reason": reason,
               "steps": e.steps, "return": e.ret, "interventions": e.interventions, "commands_unseen": e.unseen,
               "intervention_rate": e.interventions / max(e.steps, 1), "seed": e.seed, "time": time.time(), **extra}
        self.history.append(row)
        if e.is_eval:
            self.eval_done += 1
            self.eval_left = max(0, self.eval_left - 1)
        else:
            self.train_done += 1
            self.train_since_round += 1
            if self.plan.eval_every and self.train_since_round >= self.plan.eval_every and self.eval_gate_open():
                self.eval_pending, self.train_since_round = True, 0
        return row

    def eval_gate_open(self) -> bool:
        """Whether the last ``eval_every`` training episodes succeeded alone (no intervention) often enough for an
        evaluation round (``eval_gate``)."""
        if self.plan.eval_gate <= 0:
            return True
        recent = [h for h in self.history if not h["eval"]][-self.plan.eval_every:]
        alone = sum(h["success"] and not h["interventions"] for h in recent)
        return alone >= self.plan.eval_gate * len(recent)

    def recent_rate(self, is_eval: bool, n: int = 20) -> tuple[float, int]:
        """Success rate of the last ``n`` episodes of one kind -> (rate, how many)."""
        recent = [h for h in self.history if h["eval"] == is_eval][-n:]
        return (sum(h["success"] for h in recent) / len(recent) if recent else 0.0), len(recent)

    def summary(self) -> dict[str, Any]:
        """Counts by kind and every finished episode's row."""
        evals = [h for h in self.history if h["eval"]]
        trains = [h for h in self.history if not h["eval"]]
        return {"eval_episodes": len(evals), "eval_successes": sum(h["success"] for h in evals),
                "train_episodes": len(trains), "train_successes": sum(h["success"] for h in trains),
                "episodes": self.history}


@dataclass
class _Frame:
    parts: dict[str, Any] = field(default_factory=dict)
    t: float = 0.0


class StampSync:
    """Collects the parts of control steps keyed by their stamp (ns); :meth:`put` returns a step's parts once all
    of ``required`` are there, and forgets older incomplete steps (they can no longer complete: the state stream is
    ordered). ``timeout_s``: :meth:`expire` drops steps waiting longer than this."""

    def __init__(self, required: set[str], timeout_s: float) -> None:
        self.required = set(required)
        self.timeout_s = float(timeout_s)
        self.frames: dict[int, _Frame] = {}

    def put(self, part: str, stamp_ns: int, msg: Any, now: float | None = None) -> dict[str, Any] | None:
        f = self.frames.get(stamp_ns)
        if f is None:
            f = self.frames[stamp_ns] = _Frame(t=time.monotonic() if now is None else now)
        f.parts[part] = msg
        if not self.required <= f.parts.keys():
            return None
        del self.frames[stamp_ns]
        for k in [k for k in self.frames if k < stamp_ns]:
            del self.frames[k]
        return f.parts

    def expire(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        old = [k for k, f in self.frames.items() if now - f.t > self.timeout_s]
        for k in old:
            del self.frames[k]
        return len(old)

    def clear(self) -> None:
        self.frames.clear()


def hold_action(gripper_closed: bool) -> np.ndarray:
    """Zero motion with the gripper where it is: what a holding robot executes."""
    a = np.zeros(ACTION_DIM, np.float32)
    a[GRIPPER_DIM] = GRIPPER_CLOSED if gripper_closed else GRIPPER_OPEN
    return a


@dataclass
class Executed:
    """What the robot did after one observation."""

    action: np.ndarray
    intervention: bool
    source: int  # spec.SOURCE_*
    unseen: bool  # the step's command had not arrived when the next state came (a hold is assumed)


class TransitionBuilder:
    """Pairs each observation with the action the robot **executed** after it and hands back the previous step when
    the next observation arrives, so the transition (obs, executed action, reward, next obs) can be built.

    The intervention mux publishes the command it sent for each (episode, step): the policy's, a human's or the
    scripted intervener's. A step whose command never came, or on which the robot held, executed a hold."""

    def __init__(self, end_on_success: bool = True) -> None:
        self.end_on_success = end_on_success
        self.commands: dict[tuple[int, int], tuple[np.ndarray, bool, int]] = {}
        self.prev: tuple[Any, int] | None = None  # the last observation and its step

    def clear(self) -> None:
        """A new episode: nothing carries over."""
        self.commands.clear()
        self.prev = None

    def command(self, episode_id: int, step: int, action, intervention: bool, source: int) -> None:
        self.commands[(int(episode_id), int(step))] = (np.asarray(action, np.float32), bool(intervention), int(source))

    def observe(self, obs: Any, step: int) -> tuple[Any, int] | None:
        """The observation of ``step`` arrived -> the previous (observation, step), or None on an episode's first."""
        prev, self.prev = self.prev, (obs, int(step))
        return prev

    def executed(self, episode_id: int, step: int, holding: bool, gripper_closed: bool) -> Executed:
        """What was executed after observation ``step`` (``holding``/``gripper_closed``: the robot's next state);
        commands of earlier steps are forgotten."""
        cmd = self.commands.pop((int(episode_id), int(step)), None)
        for k in [k for k in self.commands if k[1] < step]:
            del self.commands[k]
        if cmd is None or holding:
            return Executed(hold_action(gripper_closed), False, SOURCE_HOLD, cmd is None)
        return Executed(cmd[0], cmd[1], cmd[2], False)

    def ends(self, success: bool, steps: int, limit_steps: int) -> tuple[bool, bool]:
        """-> (terminal, truncated) of a transition: terminal on success (when success ends episodes), truncated
        when the time limit ended it instead."""
        terminal = bool(success and self.end_on_success)
        return terminal, not terminal and steps >= limit_steps


@dataclass(frozen=True)
class TaskDefaults:
    instruction: str | None  # None: the task is not one the sim knows (a real cell's own task)
    limit_steps: int | None


def task_defaults(task: str) -> TaskDefaults:
    """A sim task's language instruction and time limit (control steps at ``CONTROL_HZ``); both None for a task the
    sim does not know, or when the sim is not installed (a real cell)."""
    try:
        from rldg_ros.sim.tasks import make_task

        t = make_task(task)
    except (ImportError, KeyError):
        return TaskDefaults(None, None)
    return TaskDefaults(str(t.instruction), int(t.time_limit))


#: an episode's time limit when neither the node's parameters nor the task set one: 10 s
DEFAULT_LIMIT_STEPS = int(10 * CONTROL_HZ)
