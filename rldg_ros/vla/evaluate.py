"""``rldg eval``: success rate (Wilson 95 % interval) and cycle time of a policy on sim tasks, per task.

Policies: ``expert``, ``human_like`` (scripted), ``rl:PATH`` (a specialist), ``octo:PATH``, ``openvla:PATH``.
Two modes that must agree:

* **graph** (default): through the ROS graph, as on the robot: ``teleop`` (scripted input) or ``run_vla
  evaluate:=true`` (generalists) or ``eval_rl`` (specialists), the sim cell in lock-step with the commands (every
  step waits for the action answering it, so a slow model is judged on its actions, not on the machine's speed);
  the episode runner writes each episode's seed, success and steps;
* **in-process** (``--in-process``): the same seeds in the cell directly, without DDS (faster).

Seeds start at ``first_seed`` (held-out: 100000 by default, RL training and data collection use lower seeds).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from rldg_ros.sim.rollout import EpisodeResult, summarize
from rldg_ros.spec import CONTROL_HZ, EVAL_FIRST_SEED

SCRIPTED = ("expert", "human_like")


def parse_policy(spec: str) -> tuple[str, str]:
    kind, _, path = spec.partition(":")
    if kind in SCRIPTED and not path:
        return kind, ""
    if kind in ("rl", "octo", "openvla") and path:
        if not Path(path).exists():
            raise FileNotFoundError(f"policy checkpoint {path} does not exist")
        return kind, path
    raise ValueError(f"policy {spec!r}: use expert, human_like, rl:PATH, octo:PATH or openvla:PATH")


class _Executed:
    """Any registered policy executed as the vla_policy node executes it: a generalist's chunks by the serving
    defaults (receding horizon 1; deterministic octo sampling) unless ``execution`` overrides them; a sim-only
    policy (scripted, privileged RL) bound to the cell at each episode start."""

    def __init__(self, kind: str, path: str, execution: dict | None = None) -> None:
        from rldg_ros.vla.serving import CHUNK_DEFAULTS, ChunkExecutor, load_policy

        ex = execution or {}
        self.policy = load_policy(kind, path)
        if ex.get("sample_steps") and hasattr(self.policy, "sample_steps"):
            self.policy.sample_steps = int(ex["sample_steps"])
        if ex.get("decode") and hasattr(self.policy, "cfg") and hasattr(self.policy.cfg, "decode"):
            self.policy.cfg.decode = ex["decode"]
        mode, n, decay = CHUNK_DEFAULTS
        self.chunks = ChunkExecutor(ex.get("chunk_mode", mode), int(ex.get("execute_steps", n)),
                                    float(ex.get("decay", decay)))

    def start(self, env, seed: int) -> None:
        if hasattr(self.policy, "bind"):
            self.policy.bind(env, seed)
        self.policy.reset()
        self.chunks.reset()

    def act(self, obs: dict, instruction: str) -> np.ndarray:
        observation = {"image": obs.get("wrist"), "state": obs["state"], "sim": obs}
        if not self.chunks.needs_prediction():
            return self.chunks.next()
        out = np.asarray(self.policy.act(observation, instruction))
        if out.ndim == 1:  # one action, not a chunk: executed as it is
            return out
        self.chunks.add(out)
        return self.chunks.next()


def evaluate_inprocess(spec: str, task: str, episodes: int, first_seed: int = EVAL_FIRST_SEED,
                       progress: bool = False, execution: dict | None = None, on_step=None) -> dict:
    """``execution``: overrides of how a generalist's chunks are executed (``chunk_mode``, ``execute_steps``,
    ``decay``), octo's ``sample_steps`` and openvla's ``decode``; the serving defaults otherwise. ``on_step(env,
    seed)``, if given, is called after every step (to trace an episode: scripts/failure_modes.py)."""
    from tqdm import tqdm

    from rldg_ros.sim.env import CellConfig, make_env

    kind, path = parse_policy(spec)
    env = make_env(task, CellConfig(wrist_camera=kind not in SCRIPTED))
    policy = _Executed(kind, path, execution)
    results = []
    try:
        for i in tqdm(range(episodes), desc=f"eval {spec} on {task}", disable=not progress):
            seed = first_seed + i
            obs, info = env.reset(seed=seed)
            policy.start(env, seed)
            for _ in range(env.task.time_limit):
                a = policy.act(obs, env.task.instruction)
                obs, _, term, trunc, info = env.step(np.clip(a, -1.0, 1.0))
                if on_step is not None:
                    on_step(env, seed)
                if term or trunc:
                    break
            results.append(EpisodeResult(seed, bool(info["success"]), env.steps, env.steps / env.cfg.control_hz,
                                         0.0))
    finally:
        env.close()
    out = summarize(task, spec, results)
    out["mode"] = "in-process"
    return out


def evaluate_graph(spec: str, task: str, episodes: int, first_seed: int = EVAL_FIRST_SEED,
                   timeout_s: float = 3600) -> dict:
    kind, path = parse_policy(spec)
    rldg = str(Path(sys.executable).parent / "rldg")
    with tempfile.TemporaryDirectory() as d:
        report = Path(d) / "episodes.json"
        if kind in SCRIPTED:
            cmd = [rldg, "up", "teleop", f"task:={task}", f"input:={kind}", f"episodes:={episodes}",
                   f"first_seed:={first_seed}", f"report:={report}", "realtime:=false"]
        elif kind == "rl":
            cmd = [rldg, "up", "eval_rl", f"task:={task}", f"checkpoint:={path}", f"episodes:={episodes}",
                   "reward:=sim_ground_truth", "realtime:=true", f"report:={report}"]
        else:
            cmd = [rldg, "up", "run_vla", f"task:={task}", f"model:={kind}", f"checkpoint:={path}",
                   "evaluate:=true", f"episodes:={episodes}", f"first_seed:={first_seed}", f"report:={report}",
                   "realtime:=false"]
        out = subprocess.run([*cmd, "--duration", str(timeout_s)], capture_output=True, text=True,
                             env=dict(os.environ), timeout=timeout_s + 120)
        if out.returncode != 0 or not report.exists():
            raise RuntimeError(f"{' '.join(cmd)} failed ({out.returncode}):\n{(out.stdout + out.stderr)[-3000:]}")
        data = json.loads(report.read_text())
    eps = data["episodes"]
    if kind == "rl":  # eval_rl's report: its own episode rows
        results = [EpisodeResult(int(e.get("seed", -1)), bool(e["success"]), int(e["steps"]), e["steps"] / CONTROL_HZ,
                                 0.0)
                   for e in eps]
    else:
        results = [EpisodeResult(e["seed"], e["success"], e["steps"], e["cycle_time_s"], 0.0) for e in eps]
    res = summarize(task, spec, results)
    res["mode"] = "graph"
    return res


def evaluate(spec: str, tasks: list[str], episodes: int, first_seed: int = EVAL_FIRST_SEED, in_process: bool = False,
             progress: bool = True) -> dict:
    rows = []
    for task in tasks:
        if in_process:
            rows.append(evaluate_inprocess(spec, task, episodes, first_seed, progress))
        else:
            rows.append(evaluate_graph(spec, task, episodes, first_seed))
    return {"policy": spec, "episodes_per_task": episodes, "first_seed": first_seed,
            "mode": "in-process" if in_process else "graph", "tasks": rows}


def add_parser(sub) -> None:
    s = sub.add_parser("eval", help="success rate (95%% CI) and cycle time of a policy on sim tasks")
    s.add_argument("--policy", required=True, help="expert | human_like | rl:PATH | octo:PATH | openvla:PATH")
    s.add_argument("--task", required=True, help="task id(s), comma-separated (e.g. connector_insertion/usb,"
                   "connector_insertion/type_c)")
    s.add_argument("--episodes", type=int, default=20)
    s.add_argument("--first-seed", type=int, default=EVAL_FIRST_SEED, help="held-out seeds start here")
    s.add_argument("--in-process", action="store_true", help="run the cell directly instead of the ROS graph")
    s.add_argument("--json", default=None, help="write the results here")
    s.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    try:
        res = evaluate(ns.policy, ns.task.split(","), ns.episodes, ns.first_seed, ns.in_process)
    except (FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"rldg eval: {exc}", file=sys.stderr)
        return 2
    for r in res["tasks"]:
        lo, hi = r["success_rate_ci95"]
        ct = f"{r['mean_cycle_time_s']:.1f} s" if r["mean_cycle_time_s"] is not None else "-"
        print(f"{r['task']:32s} {r['successes']:3d}/{r['episodes']:<3d} success {r['success_rate']:.2f} "
              f"[{lo:.2f}, {hi:.2f}]  cycle time {ct}  ({res['mode']})")
    if ns.json:
        Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json).write_text(json.dumps(res, indent=1))
    return 0
