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


def test_every_policy_kind_loads_through_one_contract(tmp_path):
    """octo, openvla, rl, expert and human_like are registered kinds; the scripted ones load without a checkpoint,
    are sim-only and act once bound to a cell; a learned kind without a checkpoint is refused by name."""
    import numpy as np

    from rldg_ros.config import ConfigError
    from rldg_ros.sim.env import CellConfig, make_env
    from rldg_ros.vla.policy import LOADERS, is_sim_only
    from rldg_ros.vla.serving import load_policy

    assert {"octo", "openvla", "rl", "expert", "human_like"} <= set(LOADERS)
    with pytest.raises(ConfigError, match="checkpoint"):
        load_policy("octo", "")
    with pytest.raises(ConfigError, match="does not exist"):
        load_policy("rl", str(tmp_path / "nope"))
    p = load_policy("expert")
    assert is_sim_only(p) and p.name == "expert"
    with pytest.raises(RuntimeError, match="bind"):
        p.act({"state": np.zeros(20)}, "")
    env = make_env("connector_insertion/usb", CellConfig())
    try:
        obs, _ = env.reset(seed=5)
        p.bind(env, 5)
        p.reset()
        a = np.asarray(p.act({"state": obs["state"], "sim": obs}, "insert the usb"))
        assert a.shape == (7,) and np.all(np.isfinite(a)) and np.abs(a).max() > 0
    finally:
        env.close()
