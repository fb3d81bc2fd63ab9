"""The ROS-free episode bookkeeping the actor and teleop nodes share, and the stamp pairing of a step's inputs."""

import numpy as np
import pytest

from rldg_ros.episodes import (
    DEFAULT_LIMIT_STEPS,
    MARK_SUCCESS,
    EpisodePlan,
    EpisodeRunner,
    StampSync,
    TransitionBuilder,
    task_defaults,
)
from rldg_ros.spec import GRIPPER_CLOSED, GRIPPER_DIM, GRIPPER_OPEN, SOURCE_HOLD, SOURCE_HUMAN, SOURCE_POLICY


def run_episode(r: EpisodeRunner, success: bool, steps: int = 3, reason: str = "") -> dict:
    is_eval, seed = r.next_start()
    r.started(episode_id=len(r.history) + 1, seed=seed)
    for _ in range(steps):
        r.step(reward=1.0 if success else 0.0, intervention=True)
    return r.end(success, reason or ("success" if success else "timeout"))


def test_training_then_evaluation_rounds_with_their_own_seeds():
    r = EpisodeRunner(EpisodePlan(first_seed=1000, eval_every=2, eval_episodes=2, eval_first_seed=100_000), 10)
    kinds = []
    for _ in range(7):
        is_eval, seed = r.next_start()
        kinds.append(("eval" if is_eval else "train", seed))
        r.start_failed()  # a reset that did not answer: the same episode is asked for again
        assert r.next_start() == (is_eval, seed)
        r.started(1, seed)
        r.end(True, "success")
    assert kinds == [("train", 1000), ("train", 1001), ("eval", 100000), ("eval", 100001), ("train", 1002),
                     ("train", 1003), ("eval", 100002)]  # evaluation seeds never repeat across rounds



def test_the_evaluation_gate_waits_for_training_episodes_that_succeed_alone():
    r = EpisodeRunner(EpisodePlan(eval_every=2, eval_episodes=1, eval_gate=0.5, eval_first_seed=100_000), 10)

    def train(success: bool, intervened: bool) -> None:
        assert r.next_start()[0] is False
        r.started(len(r.history) + 1, 0)
        r.step(intervention=intervened)
        r.end(success, "")

    train(True, True), train(True, True)  # successes, but with the operator's help: no round yet
    train(True, False)  # the last 2: one alone -> half: the round starts
    assert r.next_start() == (True, 100_000)
    r.started(9, 100_000), r.end(True, "success")
    train(False, False), train(False, False)  # eval_every episodes since the round, none alone: gated
    train(True, False)  # retried after each training episode: the last 2 are half alone now
    assert r.next_start() == (True, 100_001)
    r = EpisodeRunner(EpisodePlan(eval_every=1, eval_episodes=1), 10)
    train(False, True)
    assert r.next_start()[0] is True  # eval_gate 0: every round, as before
def test_a_run_is_done_after_n_episodes_n_successes_or_converged():
    r = EpisodeRunner(EpisodePlan(episodes=3), 5)
    for ok in (True, False, True):
        assert not r.all_done()
        run_episode(r, ok)
    assert r.all_done() and r.next_start() is None and r.successes == 2
    r = EpisodeRunner(EpisodePlan(episodes=10, successes=2), 5)
    run_episode(r, True), run_episode(r, False)
    assert not r.all_done()
    run_episode(r, True)
    assert r.all_done()
    r = EpisodeRunner(EpisodePlan(eval_every=1, eval_episodes=2, stop_after_eval_successes=2), 5)
    outcomes = [True, True, False, True, True, True]  # train, eval ok, eval fail, train, eval ok, eval ok
    for ok in outcomes:
        assert not r.all_done()
        run_episode(r, ok)
    assert r.converged() and r.all_done()


def test_one_episode_at_a_time_and_its_row():
    r = EpisodeRunner(EpisodePlan(), limit_steps=4)
    assert r.next_start() == (False, 0)
    assert r.next_start() is None  # a reset is in flight
    r.started(7, 0)
    assert r.next_start() is None  # an episode is running
    for _ in range(4):
        r.step(reward=0.5, intervention=False, unseen=True)
    assert r.timed_out()
    assert r.request_end(MARK_SUCCESS) and r.current.end_request == MARK_SUCCESS
    row = r.end(True, MARK_SUCCESS, policy_version=12)
    assert row["episode"] == 7 and row["steps"] == 4 and row["return"] == 2.0 and row["commands_unseen"] == 4
    assert row["policy_version"] == 12 and row["intervention_rate"] == 0.0 and not r.running
    assert not r.request_end(MARK_SUCCESS)  # nothing to end now
    with pytest.raises(RuntimeError, match="no episode is running"):
        r.end(False, "timeout")
    assert r.recent_rate(False) == (1.0, 1)
    with pytest.raises(ValueError, match="limit_steps"):
        EpisodeRunner(EpisodePlan(), 0)


def test_stamp_sync_pairs_parts_by_stamp_and_forgets_older_steps():
    s = StampSync({"state", "reward"}, timeout_s=1.0)
    assert s.put("state", 100, "s100", now=0.0) is None
    assert s.put("state", 200, "s200", now=0.0) is None
    assert s.put("reward", 200, "r200", now=0.0) == {"state": "s200", "reward": "r200"}
    assert s.frames == {}  # step 100 can no longer complete once 200 did
    s.required |= {"image"}  # a pixel policy needs the image too
    s.put("state", 300, "s300", now=5.0)
    assert s.put("reward", 300, "r300", now=5.0) is None
    assert s.put("image", 300, "i300", now=5.0) == {"state": "s300", "reward": "r300", "image": "i300"}
    s.put("state", 400, "s400", now=5.0)
    assert s.expire(now=5.5) == 0 and s.expire(now=6.5) == 1 and not s.frames


def test_transitions_carry_the_executed_command_or_a_hold():
    tb = TransitionBuilder()
    assert tb.observe("o0", 0) is None  # the episode's first observation: no transition yet
    tb.command(7, 0, [0.5, 0, 0, 0, 0, 0, 1], intervention=False, source=SOURCE_POLICY)
    prev = tb.observe("o1", 1)
    assert prev == ("o0", 0)
    ex = tb.executed(7, prev[1], holding=False, gripper_closed=True)
    assert ex.source == SOURCE_POLICY and not ex.unseen and not ex.intervention
    np.testing.assert_allclose(ex.action, [0.5, 0, 0, 0, 0, 0, 1])

    # a human's intervention is what the robot executed
    tb.command(7, 1, [0, 0.3, 0, 0, 0, 0, -1], intervention=True, source=SOURCE_HUMAN)
    ex = tb.executed(7, tb.observe("o2", 2)[1], holding=False, gripper_closed=False)
    assert ex.intervention and ex.source == SOURCE_HUMAN and ex.action[1] == pytest.approx(0.3)

    # no command arrived for step 2: a hold with the gripper where it is, flagged unseen
    ex = tb.executed(7, tb.observe("o3", 3)[1], holding=False, gripper_closed=True)
    assert ex.unseen and ex.source == SOURCE_HOLD and not ex.action[:GRIPPER_DIM].any()
    assert ex.action[GRIPPER_DIM] == GRIPPER_CLOSED

    # the robot held (stale command) although a command came: the hold is what it executed, not unseen
    tb.command(7, 3, [1, 1, 1, 0, 0, 0, 1], intervention=False, source=SOURCE_POLICY)
    ex = tb.executed(7, tb.observe("o4", 4)[1], holding=True, gripper_closed=False)
    assert ex.source == SOURCE_HOLD and not ex.unseen and ex.action[GRIPPER_DIM] == GRIPPER_OPEN
    assert not ex.action[:GRIPPER_DIM].any()


def test_transition_builder_forgets_old_commands_and_a_new_episode_starts_clean():
    tb = TransitionBuilder()
    tb.command(1, 0, np.zeros(7), False, SOURCE_POLICY)
    tb.command(1, 5, np.ones(7), False, SOURCE_POLICY)
    tb.executed(1, 5, holding=False, gripper_closed=False)
    assert tb.commands == {}  # step 0's command can no longer be used
    tb.observe("o", 3)
    tb.command(1, 6, np.ones(7), False, SOURCE_POLICY)
    tb.clear()
    assert tb.prev is None and tb.commands == {}


def test_transition_ends_terminal_on_success_truncated_on_the_limit():
    assert TransitionBuilder(end_on_success=True).ends(True, 5, 10) == (True, False)
    assert TransitionBuilder(end_on_success=True).ends(False, 10, 10) == (False, True)
    assert TransitionBuilder(end_on_success=True).ends(False, 4, 10) == (False, False)
    # success does not end the episode: not terminal, and truncated at the limit
    assert TransitionBuilder(end_on_success=False).ends(True, 10, 10) == (False, True)


def test_task_defaults_from_the_sim_and_none_for_unknown_tasks():
    d = task_defaults("connector_insertion/usb")
    assert d.instruction and d.limit_steps and d.limit_steps > 0
    unknown = task_defaults("my_real_cell/screw_in")
    assert unknown.instruction is None and unknown.limit_steps is None
    assert DEFAULT_LIMIT_STEPS > 0


def test_runner_summary_counts_by_kind():
    r = EpisodeRunner(EpisodePlan(first_seed=0, eval_every=1, eval_episodes=1, eval_first_seed=100_000), 10)
    run_episode(r, True)
    run_episode(r, False)  # evaluation
    run_episode(r, True)
    s = r.summary()
    assert (s["train_episodes"], s["train_successes"], s["eval_episodes"], s["eval_successes"]) == (2, 2, 1, 0)
    assert len(s["episodes"]) == 3
