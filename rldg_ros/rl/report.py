"""``rldg rl report RUN_DIR``: learning curves (PNG) and a markdown summary from a run's metrics.

Reads ``RUN_DIR/metrics.jsonl`` (learner: losses, updates/s, buffer sizes, checkpoints) and
``RUN_DIR/actor/metrics.jsonl`` (episodes: success, steps, interventions, evaluation or training) and, if present,
``RUN_DIR/eval/metrics.jsonl`` or an ``eval_rl`` JSON report (``--eval``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def _rows(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def training_clock(learner: list[dict], episodes: list[dict]):
    """-> f(time) = seconds of training up to ``time``: a run restarted on its run_dir (the learner's ``resume``
    rows) does not count the pause between the last row before the restart and the restart."""
    rows = sorted(learner + episodes, key=lambda r: r["time"])
    starts = [rows[0]["time"]] + [r["time"] for r in rows if r["kind"] == "resume"]
    done = [0.0]  # training seconds before each session
    for a, b in zip(starts, starts[1:], strict=False):
        last = max(r["time"] for r in rows if a <= r["time"] < b)
        done.append(done[-1] + last - a)

    def clock(t: float) -> float:
        k = int(np.searchsorted(starts, t, side="right")) - 1
        return done[max(k, 0)] + t - starts[max(k, 0)]

    return clock


def summarize(run_dir: str | Path, eval_report: str | Path | None = None) -> dict:
    run = Path(run_dir)
    learner = _rows(run / "metrics.jsonl")
    episodes = [r for r in _rows(run / "actor" / "metrics.jsonl") if r["kind"].startswith("episode_")]
    if not learner and not episodes:
        raise FileNotFoundError(f"{run}: no metrics.jsonl (learner) or actor/metrics.jsonl: not an RL run directory")
    clock = training_clock(learner, episodes)
    train = [e for e in episodes if e["kind"] == "episode_train"]
    evals = [e for e in episodes if e["kind"] == "episode_eval"]
    steps = np.cumsum([e["steps"] for e in episodes]) if episodes else np.zeros(0)
    env_steps = {id(e): int(s) for e, s in zip(episodes, steps, strict=True)}
    first_solved = None  # when 5 evaluation episodes in a row first succeeded
    for i in range(0, len(evals)):
        block = evals[i:i + 5]
        if len(block) == 5 and all(e["success"] for e in block):
            first_solved = {"wall_s": clock(block[-1]["time"]), "env_steps": env_steps[id(block[-1])]}
            break
    demos = next((r for r in learner if r["kind"] == "demos"), {})
    meta = next((r for r in reversed(learner) if r["kind"] == "checkpoint"), {})
    trains = [r for r in learner if r["kind"] == "train"]
    out = {
        "run_dir": str(run), "wall_s": clock(max(r["time"] for r in learner + episodes)),
        "restarts": sum(r["kind"] == "resume" for r in learner),
        "env_steps": int(steps[-1]) if len(steps) else 0, "train_episodes": len(train),
        "train_successes": sum(e["success"] for e in train), "eval_episodes": len(evals),
        "eval_successes": sum(e["success"] for e in evals),
        "last_20_train_success": float(np.mean([e["success"] for e in train[-20:]])) if train else None,
        "interventions": int(sum(e["interventions"] for e in train)),
        "intervention_rate": (sum(e["interventions"] for e in train) / max(1, sum(e["steps"] for e in train))),
        "learner_steps": trains[-1]["step"] if trains else 0,
        "updates_per_s_median": float(np.median([r["updates_per_s"] for r in trains])) if trains else None,
        "first_5_eval_successes_in_a_row": first_solved, "demos": demos, "final_checkpoint": meta.get("path"),
    }
    if eval_report:
        rep = json.loads(Path(eval_report).read_text())
        out["final_eval"] = {"episodes": rep["eval_episodes"], "successes": rep["eval_successes"],
                             "mean_steps_success": float(np.mean([e["steps"] for e in rep["episodes"]
                                                                 if e["success"]] or [np.nan]))}
    return out


def plot(run_dir: str | Path, out_png: str | Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    run = Path(run_dir)
    learner = _rows(run / "metrics.jsonl")
    episodes = [r for r in _rows(run / "actor" / "metrics.jsonl") if r["kind"].startswith("episode_")]
    clock = training_clock(learner, episodes)
    fig, ax = plt.subplots(1, 3, figsize=(15, 4))
    train = [e for e in episodes if e["kind"] == "episode_train"]
    evals = [e for e in episodes if e["kind"] == "episode_eval"]
    if train:
        t = np.array([clock(e["time"]) for e in train]) / 60
        s = np.array([e["success"] for e in train], float)
        k = min(20, len(s))
        ax[0].plot(t, np.convolve(s, np.ones(k) / k, mode="full")[: len(s)], label=f"training (mean of {k})")
        iv = np.array([e["intervention_rate"] for e in train])
        ax[1].plot(t, np.convolve(iv, np.ones(k) / k, mode="full")[: len(iv)], label="intervention rate")
    if evals:
        te = np.array([clock(e["time"]) for e in evals]) / 60
        se = np.array([e["success"] for e in evals], float)
        k = min(5, len(se))
        ax[0].plot(te, np.convolve(se, np.ones(k) / k, mode="full")[: len(se)], "o-", ms=3,
                   label=f"evaluation (mean of {k}, no noise)")
    ax[0].set(xlabel="training wall time (min)", ylabel="success", ylim=(-0.05, 1.05), title="success")
    ax[0].legend()
    ax[1].set(xlabel="training wall time (min)", ylabel="fraction of steps", title="interventions")
    ax[1].legend()
    tr = [r for r in learner if r["kind"] == "train"]
    if tr:
        ax[2].plot([r["step"] for r in tr], [r["critic_loss"] for r in tr], label="critic loss")
        ax[2].plot([r["step"] for r in tr], [r["q"] for r in tr], label="mean Q")
        ax[2].set(xlabel="learner step", title="learner")
        ax[2].legend()
    fig.suptitle(str(run))
    fig.tight_layout()
    fig.savefig(out_png, dpi=90)
    plt.close(fig)


def write_report(run_dir: str | Path, eval_report: str | Path | None = None) -> tuple[Path, Path]:
    run = Path(run_dir)
    s = summarize(run, eval_report)
    png = run / "training.png"
    plot(run, png)
    lines = [f"# RL run `{run}`", "", "| quantity | value |", "|---|---|"]
    for k, v in s.items():
        if isinstance(v, float):
            v = f"{v:.3f}"
        lines.append(f"| {k} | {v} |")
    lines += ["", "![training curves](training.png)", ""]
    md = run / "report.md"
    md.write_text("\n".join(lines))
    (run / "summary.json").write_text(json.dumps(s, indent=1))
    return md, png
