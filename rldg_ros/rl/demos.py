"""Transitions from observations, and initial demonstrations from the cell's scripted demonstrators.

One function turns (observation, executed action, reward, next observation) into a buffer transition, for the
actor node, the demos and the direct (ROS-free) loop alike, so the learner sees one format whatever the source.
"""

from __future__ import annotations

import numpy as np

from rldg_ros.rl.spaces import ObsConfig, TaskRL, from_env_action, proprio_features
from rldg_ros.spec import GRIPPER_DIM


def observation(state20: np.ndarray, image: np.ndarray | None, privileged: np.ndarray | None,
                obs_cfg: ObsConfig) -> dict[str, np.ndarray]:
    """Robot state (20-D), wrist image, privileged goal features -> the agent's observation dict."""
    if not np.all(np.isfinite(state20)) or (privileged is not None and not np.all(np.isfinite(privileged))):
        raise ValueError("robot state or goal features contain NaN/inf")
    feat = proprio_features(state20, obs_cfg)
    if obs_cfg.mode == "privileged":
        if privileged is None or len(privileged) == 0:
            raise ValueError("privileged observation mode needs the sim's privileged goal features "
                             "(rldg/sim/privileged); a real robot cannot provide them: use mode state or pixels")
        feat = np.concatenate([feat, np.asarray(privileged, np.float32)])
    out = {"state": feat.astype(np.float32)}
    if obs_cfg.mode == "pixels":
        if image is None:
            raise ValueError("pixels observation mode needs a wrist image")
        s = obs_cfg.image_size
        if image.shape != (s, s, 3):
            raise ValueError(f"wrist image has shape {image.shape}, the policy expects ({s}, {s}, 3)")
        out["image"] = np.asarray(image, np.uint8)
        out["raw_state"] = np.asarray(state20, np.float32)  # what a frozen generalist backbone reads with the image
    return out


def transition(obs: dict, executed: np.ndarray, reward: float, terminal: bool, next_obs: dict, layout: str,
               prev_gripper: int, intervention: bool) -> dict[str, np.ndarray]:
    a, g = from_env_action(executed, layout)
    t = {"state": obs["state"], "next_state": next_obs["state"], "action": a, "gripper": np.int32(g),
         "gripper_changed": np.float32(g != prev_gripper), "reward": np.float32(reward),
         "terminal": np.float32(terminal), "intervention": np.float32(intervention)}
    if "image" in obs:
        t["image"], t["next_image"] = obs["image"], next_obs["image"]
        t["raw_state"], t["next_raw_state"] = obs["raw_state"], next_obs["raw_state"]
    return t


def scripted_demos(task_id: str, obs_cfg: ObsConfig, task: TaskRL, style: str, n: int, *, seed: int = 10_000,
                   max_attempts: int | None = None, progress: bool = True) -> tuple[list[dict], dict]:
    """``n`` successful episodes of the scripted demonstrator ``style`` (failed ones are discarded, as teleop
    demos are); -> (transitions, summary)."""
    from rldg_ros.sim import make_env
    from rldg_ros.sim.policies import make_policy

    env = make_env(task_id, wrist_camera=obs_cfg.mode == "pixels", image_size=obs_cfg.image_size)
    out: list[dict] = []
    kept = attempts = 0
    max_attempts = max_attempts or 3 * n + 10
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, desc=f"demos {task_id} ({style})", unit="ep")
    try:
        while kept < n and attempts < max_attempts:
            s = seed + attempts
            attempts += 1
            o, _ = env.reset(seed=s)
            pol = make_policy(style, env, s)
            obs = observation(o["state"], o.get("wrist"), env.task.privileged(env), obs_cfg)
            episode = []
            for _ in range(task.time_limit):
                a = np.asarray(pol.act(o), np.float32)
                prev_g = int(env.gripper_cmd > 0)
                o, r, term, trunc, _ = env.step(a)
                nobs = observation(o["state"], o.get("wrist"), env.task.privileged(env), obs_cfg)
                executed = a.copy()
                executed[GRIPPER_DIM] = env.gripper_cmd  # what the cell did (non-grasping tasks keep it closed)
                episode.append(transition(obs, executed, r, term, nobs, task.layout, prev_g, True))
                obs = nobs
                if term or trunc:
                    break
            if episode and episode[-1]["terminal"] > 0:
                out.extend(episode)
                kept += 1
                if bar is not None:
                    bar.update(1)
    finally:
        env.close()
        if bar is not None:
            bar.close()
    if kept < n:
        raise RuntimeError(f"scripted {style} demonstrator succeeded in {kept}/{attempts} episodes of {task_id}; "
                           f"{n} were asked for")
    return out, {"episodes": kept, "attempts": attempts, "transitions": len(out), "style": style}
