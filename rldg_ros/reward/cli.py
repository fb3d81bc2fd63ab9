"""``rldg reward collect | train | eval``: the success classifier's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("reward", help="collect data for, train and evaluate the reward classifier")
    rsub = p.add_subparsers(dest="reward_command", metavar="STEP", required=True)

    s = rsub.add_parser("collect", help="labelled wrist frames from the sim cell (labels = ground truth)")
    s.add_argument("--task", required=True, help="task ids and/or families, comma-separated; a family means its "
                   "seen variants (connector_insertion = usb, ethernet, vga)")
    s.add_argument("--out", required=True, help="new directory for the frames dataset")
    s.add_argument("--episodes", type=int, default=20, help="collection episodes per task")
    s.add_argument("--positives", type=int, default=300, help="keep at most this many success frames")
    s.add_argument("--negatives", type=int, default=1500, help="keep at most this many failure frames")
    s.add_argument("--seed", type=int, default=0, help="first episode seed (episode i of a task uses seed + i)")
    s.set_defaults(func=_collect)

    s = rsub.add_parser("train", help="train a classifier on a frames dataset, calibrate its threshold")
    s.add_argument("--data", required=True, help="frames dataset ('rldg reward collect')")
    s.add_argument("--out", required=True, help="checkpoint directory (with logs, TensorBoard and plots)")
    s.add_argument("--steps", type=int, default=None, help="gradient steps (default 1500)")
    s.add_argument("--batch-size", type=int, default=None)
    s.add_argument("--target-precision", type=float, default=None, help="calibrate to this precision (0.99)")
    s.add_argument("--encoder", default=None, help="frozen encoder: a classifier checkpoint directory whose "
                   "encoder is reused and not trained")
    s.add_argument("--seed", type=int, default=None)
    s.set_defaults(func=_train)

    s = rsub.add_parser("eval", help="precision, recall, false terminations against sim ground truth")
    s.add_argument("--model", required=True, help="checkpoint directory")
    s.add_argument("--task", default=None, help="task ids and/or families (a family includes its unseen "
                   "variants); default: the families the model was trained on")
    s.add_argument("--episodes", type=int, default=20, help="held-out episodes per task")
    s.add_argument("--k", type=int, default=3, help="consecutive frames for a success (as the node)")
    s.add_argument("--seed", type=int, default=None, help="first held-out seed (default 100000)")
    s.add_argument("--out", default=None, help="report directory (default: <model>/eval)")
    s.set_defaults(func=_eval)


def _err(msg: str) -> int:
    print(f"rldg reward: error: {msg}", file=sys.stderr)
    return 2


def _collect(ns: argparse.Namespace) -> int:
    from rldg_ros.reward.data import collect_dataset
    from rldg_ros.sim.tasks import expand_tasks

    try:
        tasks = expand_tasks(ns.task, include_unseen=False)
    except KeyError as exc:
        return _err(str(exc.args[0]))
    if ns.episodes < 1 or ns.positives < 1 or ns.negatives < 1:
        return _err("--episodes, --positives and --negatives must be >= 1")
    if (Path(ns.out) / "frames.json").exists():
        return _err(f"{ns.out} already holds a frames dataset")
    frames, kept = collect_dataset(ns.out, tasks, ns.episodes, max_positive=ns.positives,
                                   max_negative=ns.negatives, seed=ns.seed)
    c = kept.counts
    print(f"collected {frames.counts['positive']} positive / {frames.counts['negative']} negative frames on "
          f"{', '.join(tasks)}; kept {c['positive']} / {c['negative']} -> {ns.out}")
    if c["positive"] < 20:
        print("warning: few positives: the demonstrators rarely succeeded; collect more episodes", file=sys.stderr)
    return 0


def _train(ns: argparse.Namespace) -> int:
    from rldg_ros.config import ConfigError, config_from_dict
    from rldg_ros.reward.data import FrameDatasetError
    from rldg_ros.reward.train import TrainConfig, train

    overrides = {k: v for k, v in (("steps", ns.steps), ("batch_size", ns.batch_size),
                                   ("target_precision", ns.target_precision), ("seed", ns.seed)) if v is not None}
    try:
        cfg = config_from_dict(TrainConfig, overrides, source="rldg reward train")
        train(ns.data, ns.out, cfg, encoder=ns.encoder)
    except (ConfigError, FrameDatasetError, FileNotFoundError, ValueError) as exc:
        return _err(str(exc))
    return 0


def _eval(ns: argparse.Namespace) -> int:
    from rldg_ros.reward.evaluate import EVAL_SEED, evaluate, markdown, write_report
    from rldg_ros.reward.model import load_checkpoint
    from rldg_ros.sim.tasks import expand_tasks

    try:
        info, _ = load_checkpoint(ns.model)
        spec = ns.task or ",".join(sorted({t.split("/")[0] for t in info.tasks}))
        tasks = expand_tasks(spec, include_unseen=True)
    except (FileNotFoundError, ValueError) as exc:
        return _err(str(exc))
    except KeyError as exc:
        return _err(str(exc.args[0]))
    if ns.episodes < 1 or ns.k < 1:
        return _err("--episodes and --k must be >= 1")
    results = evaluate(ns.model, tasks, ns.episodes, k=ns.k, seed=EVAL_SEED if ns.seed is None else ns.seed)
    out = write_report(results, ns.out or Path(ns.model) / "eval")
    print(markdown(results))
    print(f"wrote {out}/reward_eval.md, .json, .png")
    return 0
