"""Roll out a policy in the cell for N seeded episodes: success rate (Wilson 95 % interval) and cycle times."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.sim.env import CellConfig, make_env
from rldg_ros.sim.policies import make_policy


@dataclass
class EpisodeResult:
    seed: int
    success: bool
    steps: int
    cycle_time_s: float  # time to success (or to the time limit)
    max_contact_force_n: float


def wilson_interval(successes: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # the interval always holds p (at p = 0 or 1 rounding could leave it a hair outside, a negative error bar)
    return (min(p, max(0.0, centre - half)), max(p, min(1.0, centre + half)))


def summarize(task_id: str, policy: str, episodes: list[EpisodeResult]) -> dict:
    n, k = len(episodes), sum(e.success for e in episodes)
    times = [e.cycle_time_s for e in episodes if e.success]
    lo, hi = wilson_interval(k, n)
    return {
        "task": task_id, "policy": policy, "episodes": n, "successes": k,
        "success_rate": k / n if n else 0.0, "success_rate_ci95": [lo, hi],
        "mean_cycle_time_s": float(np.mean(times)) if times else None,
        "episodes_detail": [asdict(e) for e in episodes],
    }


def rollout(task_id: str, policy: str, episodes: int, *, seed: int = 0, video: str | Path | None = None,
            progress: bool = True) -> dict:
    cfg = CellConfig(wrist_camera=video is not None, front_camera=video is not None)
    env = make_env(task_id, cfg)
    frames: list[np.ndarray] = []
    results = []
    try:
        iterator = range(episodes)
        if progress:
            from tqdm import tqdm

            iterator = tqdm(iterator, desc=f"{task_id} {policy}", unit="ep")
        for i in iterator:
            s = seed + i
            obs, info = env.reset(seed=s)
            pol = make_policy(policy, env, seed=s)
            max_f = 0.0
            for _ in range(env.task.time_limit):
                obs, _, terminated, truncated, info = env.step(pol.act(obs))
                max_f = max(max_f, float(np.linalg.norm(env.contact_wrench()[:3])))
                if video is not None:
                    frames.append(np.concatenate([obs["wrist"], obs["front"]], axis=1))
                if terminated or truncated:
                    break
            results.append(EpisodeResult(s, bool(info["success"]), env.steps, env.steps / env.cfg.control_hz, max_f))
    finally:
        env.close()
    if video is not None:
        write_video(video, frames, fps=int(env.cfg.control_hz))
    return summarize(task_id, policy, results)


def write_video(path: str | Path, frames: list[np.ndarray], fps: int) -> None:
    import imageio.v3 as iio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        iio.imwrite(path, np.stack(frames), duration=1000 / fps, loop=0)
    elif path.suffix.lower() == ".mp4":
        raise ValueError("mp4 needs an ffmpeg plugin that is not installed here: use a .gif path")
    else:
        raise ValueError(f"unsupported video format {path.suffix!r}: use .gif")
