"""``rldg pretrain`` and ``rldg finetune``: the generalists' training commands."""

from __future__ import annotations

import json
import sys
from pathlib import Path

OCTO = ("octo", "octo-tiny", "octo-style-tiny")
OPENVLA = ("openvla", "openvla-tiny", "openvla-style-tiny")


def _train_args(s, steps: int, batch: int) -> None:
    s.add_argument("--max-steps", type=int, default=steps)
    s.add_argument("--batch-size", type=int, default=batch)
    s.add_argument("--lr", type=float, default=None, help="default: octo 3e-4 (warm-up + cosine); openvla 1e-3 "
                   "pretraining, 5e-4 LoRA fine-tuning (constant)")
    s.add_argument("--grad-accum", type=int, default=1, help="openvla: gradient accumulation steps")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-resume", action="store_true", help="start over even if OUT holds a checkpoint")
    s.add_argument("--quiet", action="store_true")


def add_parsers(sub) -> None:
    s = sub.add_parser("pretrain", help="pretrain a tiny generalist on multi-task scripted sim data")
    s.add_argument("--model", required=True, choices=[*OCTO, *OPENVLA])
    s.add_argument("--out", required=True, help="checkpoint directory")
    s.add_argument("--data", nargs="*", default=None, help="existing RLDS directories (default: generate them)")
    s.add_argument("--tasks", default="seen", help="seen | all | comma-separated task ids (generated data)")
    s.add_argument("--episodes-per-task", type=int, default=30)
    _train_args(s, 3000, 32)
    s.set_defaults(func=_pretrain)

    s = sub.add_parser("finetune", help="fine-tune a generalist on RLDS data (RL rollouts or human demos)")
    s.add_argument("--model", required=True, choices=[*OCTO, *OPENVLA])
    s.add_argument("--data", nargs="+", required=True, help="RLDS directories (NAME/VERSION)")
    s.add_argument("--base", default=None, help="checkpoint to start from (e.g. the pretrained one)")
    s.add_argument("--out", required=True, help="checkpoint directory")
    _train_args(s, 1000, 32)
    s.set_defaults(func=_finetune)


def _cfg(ns):
    if ns.model in OPENVLA:
        from rldg_ros.vla.train_openvla import TrainConfig

        return TrainConfig(max_steps=ns.max_steps, batch_size=ns.batch_size, lr=ns.lr or 0.0, seed=ns.seed,
                           grad_accum=ns.grad_accum)
    from rldg_ros.vla.train_octo import TrainConfig

    return TrainConfig(max_steps=ns.max_steps, batch_size=ns.batch_size, lr=ns.lr or 3e-4, seed=ns.seed)


def _trainer(model: str):
    if model in OPENVLA:
        from rldg_ros.vla.train_openvla import train
    else:
        from rldg_ros.vla.train_octo import train
    return train


def _pretrain(ns) -> int:
    from rldg_ros.vla.pretrain_data import write_pretraining_dataset

    train = _trainer(ns.model)

    data = ns.data
    if not data:
        from rldg_ros.sim.tasks import task_ids

        if ns.tasks in ("seen", "all"):
            tasks = [t for t in task_ids(True if ns.tasks == "seen" else None) if t != "fmb_assembly/insertion"]
        else:
            tasks = ns.tasks.split(",")
        data_root = Path(ns.out) / "data"
        ds = data_root / "rldg_sim_pretrain" / "1.0.0"
        if not (ds / "dataset_info.json").exists():
            write_pretraining_dataset(data_root, "rldg_sim_pretrain", tasks, ns.episodes_per_task, ns.seed,
                                      progress=not ns.quiet)
        data = [str(ds)]
    try:
        summary = train(data, ns.out, _cfg(ns), resume=not ns.no_resume, progress=not ns.quiet, purpose="pretrain")
    except (FileNotFoundError, ValueError) as exc:
        print(f"rldg pretrain: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))
    return 0


def _finetune(ns) -> int:
    train = _trainer(ns.model)

    try:
        summary = train(ns.data, ns.out, _cfg(ns), base=ns.base, resume=not ns.no_resume, progress=not ns.quiet)
    except (FileNotFoundError, ValueError) as exc:
        print(f"rldg finetune: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))
    return 0
