"""rldg eval: the ROS graph and the in-process cell give the same episodes on a scripted policy."""

import pytest

from rldg_ros.vla.evaluate import evaluate, parse_policy


@pytest.mark.slow
def test_graph_and_in_process_evaluation_agree_on_a_scripted_policy(ros_env, monkeypatch):
    monkeypatch.setenv("ROS_DOMAIN_ID", ros_env["ROS_DOMAIN_ID"])
    tasks = ["connector_insertion/usb", "pick_place/train"]
    inproc = evaluate("expert", tasks, 3, first_seed=100000, in_process=True, progress=False)
    graph = evaluate("human_like", tasks[:1], 2, first_seed=100000, in_process=False)  # a second policy, graph only
    assert graph["tasks"][0]["episodes"] == 2
    graph = evaluate("expert", tasks, 3, first_seed=100000, in_process=False)
    for a, b in zip(inproc["tasks"], graph["tasks"], strict=True):
        assert a["task"] == b["task"] and a["successes"] == b["successes"] == 3
        for ea, eb in zip(a["episodes_detail"], b["episodes_detail"], strict=True):
            assert ea["seed"] == eb["seed"] and ea["success"] == eb["success"]
            assert abs(ea["steps"] - eb["steps"]) <= 2, (ea, eb)  # the same actions, step for step
        assert abs(a["mean_cycle_time_s"] - b["mean_cycle_time_s"]) <= 0.2
        lo, hi = a["success_rate_ci95"]
        assert lo < 1.0 == hi  # 3/3: a wide Wilson interval


def test_policy_specs_are_checked(tmp_path):
    assert parse_policy("expert") == ("expert", "")
    with pytest.raises(ValueError, match="octo:PATH"):
        parse_policy("octo")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        parse_policy(f"openvla:{tmp_path / 'nope'}")


def test_wilson_interval_always_holds_the_observed_rate():
    """At 0 or n successes rounding left the interval a hair outside the rate (1 - 1e-16, 3e-17): a negative error
    bar that stopped the full profile's report."""
    from rldg_ros.sim.rollout import wilson_interval

    for n in range(1, 301):
        for k in range(n + 1):
            lo, hi = wilson_interval(k, n)
            assert 0.0 <= lo <= k / n <= hi <= 1.0, (k, n, lo, hi)
    assert wilson_interval(20, 20)[1] == 1.0 and wilson_interval(0, 20)[0] == 0.0
    assert wilson_interval(13, 100) == pytest.approx((0.0776, 0.2098), abs=1e-4)
