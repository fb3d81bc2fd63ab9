"""The ROS-free episode bookkeeping the actor and teleop nodes share, and the stamp pairing of a step's inputs."""

import pytest

from rldg_ros.episodes import MARK_SUCCESS, EpisodePlan, EpisodeRunner, StampSync


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
