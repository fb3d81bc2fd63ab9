"""Measure a success classifier against the cell's ground truth (``rldg reward eval``).

Held-out seeded episodes (default seeds from 100000, never used by ``collect``'s defaults) run the collection
protocol of :mod:`rldg_ros.reward.data` (demonstrator rollout, exploration around success, withdrawal), so the
frames include the hard cases near the success boundary. Per task:

* frame precision and recall at the checkpoint's threshold (every frame of every episode counts), and the same
  for the frames of policy rollouts alone (``rollout``: what the node judges while RL runs, episodes ending at
  success), besides the exploration and withdrawal frames that probe the success boundary,
* false terminations: episodes in which the k-frame latch fires while the task is not actually solved
  (an RL episode would end early and be rewarded for a failure),
* missed terminations: successful episodes in which the latch never fires while the task is solved.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from rldg_ros.reward.data import PHASES, CollectProtocol, collect_sim
from rldg_ros.reward.model import SuccessClassifier, SuccessLatch
from rldg_ros.reward.train import pr_at
from rldg_ros.spec import EVAL_FIRST_SEED as EVAL_SEED


def episode_terminations(probs: np.ndarray, labels: np.ndarray, k: int, threshold: float) -> tuple[bool, bool]:
    """-> (false termination, missed): the latch's first firing lands on a non-success frame / the episode has
    success frames but the latch never fires."""
    latch = SuccessLatch(k, threshold)
    fired_false, fired_true = False, False
    for p, y in zip(probs, labels, strict=True):
        if latch.update(float(p)):
            if y:
                fired_true = True
            else:
                fired_false = True
            break  # the episode would end here
    return fired_false, bool(labels.any()) and not (fired_true or fired_false)


def evaluate(model: str | Path, tasks: list[str], episodes: int, *, k: int = 3, seed: int = EVAL_SEED,
             protocol: CollectProtocol | None = None, progress: bool = True) -> dict:
    clf = SuccessClassifier.load(model)
    from rldg_ros.sim.tasks import SEEN

    results = {"model": str(model), "threshold": clf.threshold, "k": k, "episodes_per_task": episodes,
               "seed": seed, "trained_on": clf.info.tasks, "tasks": {}}
    for task_id in tasks:
        frames = collect_sim([task_id], episodes, seed=seed, protocol=protocol,
                             image_size=clf.info.arch.image_size, progress=progress)
        probs = clf.probabilities(frames.images)
        precision, recall = pr_at(probs, frames.labels, clf.threshold)
        false_term = missed = 0
        n_success = 0
        for ep in np.unique(frames.episode):
            i = frames.episode == ep
            f, m = episode_terminations(probs[i], frames.labels[i], k, clf.threshold)
            false_term += f
            missed += m
            n_success += bool(frames.labels[i].any())
        pos = frames.labels == 1
        by_phase = {}
        for k, name in enumerate(PHASES):
            sel = frames.phase == k
            if sel.any():
                pp, rr = pr_at(probs[sel], frames.labels[sel], clf.threshold)
                by_phase[name] = {"frames": int(sel.sum()), "positives": int(frames.labels[sel].sum()),
                                  "precision": pp, "recall": rr}
        results["tasks"][task_id] = {
            "seen": SEEN.get(task_id, True), "in_training_data": task_id in clf.info.tasks,
            "frames": len(frames), "positives": int(pos.sum()), "precision": precision, "recall": recall,
            "episodes": episodes, "successful_episodes": n_success,
            "false_terminations": int(false_term), "missed_terminations": int(missed), "by_phase": by_phase,
            "mean_p_positive": float(probs[pos].mean()) if pos.any() else None,
            "mean_p_negative": float(probs[~pos].mean()) if (~pos).any() else None,
        }
    return results


def markdown(results: dict) -> str:
    lines = [f"# Reward classifier evaluation: `{results['model']}`", "",
             f"Threshold {results['threshold']:.3f}, success latched after k = {results['k']} frames, "
             f"{results['episodes_per_task']} held-out episodes per task (seeds from {results['seed']}); trained on "
             f"{', '.join(results['trained_on'])}.", "",
             "Precision and recall over all frames; in brackets over the policy-rollout frames alone (the exploration "
             "and withdrawal frames probe the success boundary on purpose).", "",
             "| task | in training data | frames (positive) | precision | recall | false terminations | "
             "missed terminations |", "|---|---|---|---|---|---|---|"]
    for t, r in results["tasks"].items():
        ro = r["by_phase"].get("rollout", {})
        rp = f" ({ro['precision']:.3f})" if ro else ""
        rr = f" ({ro['recall']:.3f})" if ro else ""
        lines.append(f"| {t} | {'yes' if r['in_training_data'] else 'no (unseen)'} | {r['frames']} "
                     f"({r['positives']}) | {r['precision']:.3f}{rp} | {r['recall']:.3f}{rr} | "
                     f"{r['false_terminations']}/{r['episodes']} | {r['missed_terminations']}/"
                     f"{r['successful_episodes']} |")
    return "\n".join(lines) + "\n"


def write_report(results: dict, out_dir: str | Path) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "reward_eval.json").write_text(json.dumps(results, indent=2))
    (out / "reward_eval.md").write_text(markdown(results))
    plot(results, out / "reward_eval.png")
    return out


def plot(results: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["tasks"])
    prec = [results["tasks"][t]["precision"] for t in names]
    rec = [results["tasks"][t]["recall"] for t in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(5, 1.1 * len(names) + 2), 3.4))
    ax.bar(x - 0.2, prec, 0.4, label="precision")
    ax.bar(x + 0.2, rec, 0.4, label="recall")
    ax.axhline(0.98, color="C0", ls=":", lw=1)
    ax.axhline(0.95, color="C1", ls=":", lw=1)
    labels = [t.replace("connector_insertion/", "conn/") + ("" if results["tasks"][t]["in_training_data"] else "*")
              for t in names]
    ax.set_xticks(x, labels, rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_title("reward classifier vs ground truth (* = not in training data)")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
