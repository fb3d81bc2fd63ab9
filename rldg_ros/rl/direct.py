"""A ROS-free training loop over the cell (actor and learner interleaved in one process).

For quick experiments, tests and benchmarks; the product path is the ROS graph (``rldg up train_rl``), which
runs the same Learner and the same transition format over DDS. Interventions here come from the scripted
intervener rules (``rldg_ros.hil.rules``), as with ``input:=expert`` in the graph.
"""

from __future__ import annotations

import time

import numpy as np

from rldg_ros.rl.demos import observation, transition
from rldg_ros.rl.learner import Learner, LearnerConfig
from rldg_ros.rl.spaces import to_env_action
from rldg_ros.spec import GRIPPER_DIM, TUNING_FIRST_SEED


def evaluate(learner: Learner, env, episodes: int, seed: int) -> float:
    import jax

    aparams = learner.agent.actor_params(learner.state["params"])
    wins = 0
    for i in range(episodes):
        o, _ = env.reset(seed=seed + i)
        obs = observation(o["state"], o.get("wrist"), env.task.privileged(env), learner.obs_cfg)
        for _ in range(learner.task.time_limit):
            a, g = learner.agent.act(aparams, obs, jax.random.PRNGKey(0), deterministic=True)
            o, _, term, trunc, _ = env.step(to_env_action(a, learner.task.layout, 1.0 if g else -1.0))
            obs = observation(o["state"], o.get("wrist"), env.task.privileged(env), learner.obs_cfg)
            if term or trunc:
                wins += int(term)
                break
    return wins / episodes


def run_direct(cfg: LearnerConfig, env_steps: int, *, eval_every: int = 2000, eval_episodes: int = 10,
               intervene: str = "none", rules_cfg=None, progress: bool = True) -> list[dict]:
    """``intervene``: the scripted intervener (none | expert | human_like); ``rules_cfg``: its
    :class:`~rldg_ros.hil.rules.InterventionRulesConfig` (default: the rules' defaults; the graph reads
    ``robot_bridge.scripted`` from config/nodes/robot_bridge.yaml)."""
    import jax

    from rldg_ros.sim import make_env

    learner = Learner(cfg, progress=progress)
    env = make_env(cfg.task, wrist_camera=learner.obs_cfg.mode == "pixels", image_size=learner.obs_cfg.image_size)
    eval_env = make_env(cfg.task, wrist_camera=learner.obs_cfg.mode == "pixels",
                        image_size=learner.obs_cfg.image_size)
    rules = scripted = None
    if intervene != "none":
        from dataclasses import replace

        from rldg_ros.hil.rules import InterventionRules, InterventionRulesConfig
        from rldg_ros.sim.policies import make_policy

        rules = InterventionRules(replace(rules_cfg or InterventionRulesConfig(), policy=intervene))
    rng = jax.random.PRNGKey(cfg.seed + 1)
    nrng = np.random.default_rng(cfg.seed + 2)
    history: list[dict] = []
    t0 = time.monotonic()
    ep = 0
    seq = 0
    o, _ = env.reset(seed=ep)
    obs = observation(o["state"], o.get("wrist"), env.task.privileged(env), learner.obs_cfg)
    if rules:
        rules.reset()
        scripted = make_policy(intervene, env, ep)
    aparams = learner.agent.actor_params(learner.state["params"])
    for t in range(1, env_steps + 1):
        rng, k = jax.random.split(rng)
        a, g = learner.agent.act(aparams, obs, k)
        if learner.task.grasp and nrng.random() < cfg.agent.grasp_epsilon:
            g = int(nrng.integers(0, 2))
        full = to_env_action(a, learner.task.layout, 1.0 if g else -1.0)
        intervened = False
        if rules is not None and rules.update(env.tcp_pose()[0], False, env.task.goal_distance(env)):
            full, intervened = np.asarray(scripted.act(o), np.float32), True
        prev_g = int(env.gripper_cmd > 0)
        o, r, term, trunc, _ = env.step(full)
        executed = full.copy()
        executed[GRIPPER_DIM] = env.gripper_cmd
        nobs = observation(o["state"], o.get("wrist"), env.task.privileged(env), learner.obs_cfg)
        seq += 1
        learner.receive("direct", seq, transition(obs, executed, r, term, nobs, learner.task.layout, prev_g,
                                                  intervened))
        learner.flush()
        obs = nobs
        if term or trunc:
            ep += 1
            o, _ = env.reset(seed=ep)
            obs = observation(o["state"], o.get("wrist"), env.task.privileged(env), learner.obs_cfg)
            if rules:
                rules.reset()
                scripted.reset(ep)
        while learner.step < learner.allowed_steps():
            learner.train_step()
        if learner.step % cfg.publish_every < max(1, cfg.steps_per_transition):
            aparams = learner.agent.actor_params(learner.state["params"])
        if t % eval_every == 0:
            sr = evaluate(learner, eval_env, eval_episodes, TUNING_FIRST_SEED)
            row = {"env_steps": t, "episodes": ep, "learner_steps": learner.step, "eval_success": sr,
                   "wall_s": time.monotonic() - t0, "interventions": learner.online.intervention_count()}
            history.append(row)
            learner.metrics.write("eval", learner.step, row)
            if progress:
                print(row, flush=True)
    learner.checkpoint("final")  # an rl_actor / eval_rl / RLPolicy can load the result
    env.close()
    eval_env.close()
    learner.close()
    return history
