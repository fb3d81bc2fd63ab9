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
    s.add_argument("--label-sigma", type=float, default=None, help="openvla: action-token targets spread over "
                   "neighbouring bins, a Gaussian of this many bins (default 3; 0: OpenVLA's one-hot loss)")
    s.add_argument("--text-encoder", default="learned", choices=("learned", "wordllama"), help="octo, from scratch: "
                   "the instruction's tokens, learned word embeddings or WordLlama's pretrained ones (frozen)")
    s.add_argument("--contact-oversample", type=float, default=1.0, help="octo: frames in contact (|force| > 1 N) "
                   "drawn this many times as often (1: uniform; docs/generalists.md part 8)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-resume", action="store_true", help="start over even if OUT holds a checkpoint")
    s.add_argument("--quiet", action="store_true")


def _model_kwargs(ns) -> dict:
    """Architecture choices of a model trained from scratch (octo-style's text encoder)."""
    if ns.text_encoder == "learned":
        return {}
    if ns.model in OPENVLA:
        raise ValueError("--text-encoder: openvla-style reads its own tokenizer's embeddings (octo-style only)")
    from rldg_ros.vla.octo_style import OctoConfig

    return {"model_cfg": OctoConfig(text_encoder=ns.text_encoder)}


def add_parsers(sub) -> None:
    s = sub.add_parser("pretrain", help="pretrain a tiny generalist's base on the multi-task sim corpus")
    s.add_argument("--model", required=True, choices=[*OCTO, *OPENVLA])
    s.add_argument("--out", required=True, help="checkpoint directory (training state, logs)")
    s.add_argument("--data", nargs="*", default=None, help="existing RLDS directories (default: the sim corpus)")
    s.add_argument("--tasks", default="corpus", help="corpus: the pretraining-only tasks (no evaluation task or "
                   "connector) | seen | all | comma-separated task ids")
    s.add_argument("--episodes-per-task", type=int, default=None, help="default: the corpus's counts (pegs 10, FMB "
                   "shapes 8, reaching 10, pick-place 8); 30 for other task lists")
    s.add_argument("--corpus", default=None, help="where the generated corpus goes / is reused from "
                   "(default: OUT/data)")
    s.add_argument("--workers", type=int, default=2, help="processes recording the corpus")
    s.add_argument("--export", default=None, help="also write the servable base here with MANIFEST.json (sha256, "
                   "corpus, steps, validation metrics), e.g. models/bases/octo-style-tiny-simbase")
    _train_args(s, 3000, 32)
    s.set_defaults(func=_pretrain)

    s = sub.add_parser("finetune", help="fine-tune a generalist on RLDS data (RL rollouts or human demos)")
    s.add_argument("--model", required=True, choices=[*OCTO, *OPENVLA])
    s.add_argument("--data", nargs="+", required=True, help="RLDS directories (NAME/VERSION)")
    s.add_argument("--base", default=None, help="checkpoint to start from (e.g. the pretrained one)")
    s.add_argument("--out", required=True, help="checkpoint directory")
    s.add_argument("--nproc", type=int, default=1, help="data-parallel processes on this host (openvla-style: "
                   "torch.distributed, gloo on CPU, nccl with CUDA; octo-style: JAX multi-process, gloo on CPU; "
                   "--batch-size is the global batch); the same as 'torchrun --nproc_per_node N -m rldg_ros.cli "
                   "finetune ...', which also spans hosts")
    _train_args(s, 1000, 32)
    s.set_defaults(func=_finetune)


def _cfg(ns):
    if ns.model in OPENVLA:
        from rldg_ros.vla.train_openvla import TrainConfig

        cfg = TrainConfig(max_steps=ns.max_steps, batch_size=ns.batch_size, lr=ns.lr or 0.0, seed=ns.seed,
                          grad_accum=ns.grad_accum)
        if ns.contact_oversample != 1.0:
            raise ValueError("--contact-oversample is an octo-style option")
        if ns.label_sigma is not None:
            if not ns.label_sigma >= 0:
                raise ValueError(f"--label-sigma must be >= 0 (bins), got {ns.label_sigma}")
            cfg.label_sigma = ns.label_sigma
        return cfg
    from rldg_ros.vla.train_octo import TrainConfig

    return TrainConfig(max_steps=ns.max_steps, batch_size=ns.batch_size, lr=ns.lr or 3e-4, seed=ns.seed,
                       contact_oversample=ns.contact_oversample)


def _trainer(model: str):
    if model in OPENVLA:
        from rldg_ros.vla.train_openvla import train
    else:
        from rldg_ros.vla.train_octo import train
    return train


def _corpus(ns) -> tuple[list[str], dict[str, int]]:
    from rldg_ros.sim.tasks import task_ids
    from rldg_ros.vla.pretrain_data import corpus_counts

    if ns.tasks == "corpus":
        counts = corpus_counts()
        if ns.episodes_per_task:
            counts = dict.fromkeys(counts, ns.episodes_per_task)
        return list(counts), counts
    if ns.tasks in ("seen", "all"):
        tasks = [t for t in task_ids(True if ns.tasks == "seen" else None) if t != "fmb_assembly/insertion"]
    else:
        tasks = [t.strip() for t in ns.tasks.split(",") if t.strip()]
        known = set(task_ids(None, pretrain=True))
        bad = [t for t in tasks if t not in known]
        if bad:
            raise ValueError(f"unknown task(s) {bad}; tasks: {sorted(known)}")
    return tasks, dict.fromkeys(tasks, ns.episodes_per_task or 30)


def _pretrain(ns) -> int:
    import time

    from rldg_ros.vla.pretrain_data import write_pretraining_dataset

    train = _trainer(ns.model)
    t0 = time.monotonic()
    data = ns.data
    corpus = None
    try:
        if ns.episodes_per_task is not None and ns.episodes_per_task < 1:
            raise ValueError(f"--episodes-per-task {ns.episodes_per_task}: need at least 1")
        if ns.workers < 1:
            raise ValueError(f"--workers {ns.workers}: need at least 1")
        if not data:
            tasks, counts = _corpus(ns)
            data_root = Path(ns.corpus) if ns.corpus else Path(ns.out) / "data"
            from rldg_ros.spec import DATASET_VERSION

            ds = data_root / "rldg_sim_pretrain" / DATASET_VERSION
            if not (ds / "dataset_info.json").exists():
                if ds.exists():  # an interrupted recording: start it over
                    import shutil

                    shutil.rmtree(ds)
                write_pretraining_dataset(data_root, "rldg_sim_pretrain", tasks, counts, ns.seed,
                                          progress=not ns.quiet, workers=ns.workers)
            data = [str(ds)]
        summary = train(data, ns.out, _cfg(ns), resume=not ns.no_resume, progress=not ns.quiet, purpose="pretrain",
                        **_model_kwargs(ns))
    except (FileNotFoundError, ValueError, KeyError, RuntimeError) as exc:  # RuntimeError: nothing recorded
        print(f"rldg pretrain: {exc}", file=sys.stderr)
        return 2
    if ns.export:
        from rldg_ros.vla import bases

        corpus = {}
        for d in data:
            st = json.loads((Path(d) / "dataset_statistics.json").read_text())
            corpus[str(d)] = {"transitions": st.get("num_transitions"), "episodes": st.get("num_trajectories"),
                              **(st.get("rldg", {}).get("corpus") or {})}
        hist = summary.get("history", [])
        val = {k: v for k, v in (next((h for h in reversed(hist) if "val_loss" in h), {})).items() if k != "step"}
        name = "octo-style-tiny" if ns.model in OCTO else "openvla-style-tiny"
        manifest = {"name": f"{name}-simbase", "model": name, "purpose": "pretrained base (sim corpus)",
                    "not": "not OpenVLA or Octo: a tiny model of the same recipe, pretrained here",
                    "steps": summary["step"], "train_config": summary.get("train_config"),
                    "parameters": summary.get("parameters"), "validation": val,
                    "train_episodes": summary.get("train_episodes"), "val_episodes": summary.get("val_episodes"),
                    "wall_time_s": {"this_command": round(time.monotonic() - t0, 1),
                                    "training_this_run": round(summary.get("seconds", 0.0), 1)},
                    "arguments": {k: v for k, v in vars(ns).items() if k not in ("func", "command")},
                    "corpus": corpus}
        out = bases.export(ns.out, ns.export, manifest)
        print(f"rldg pretrain: base exported to {out} ({manifest['steps']} steps)", file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))
    return 0


def _finetune(ns) -> int:
    import os

    if ns.nproc > 1 and "WORLD_SIZE" not in os.environ:
        import subprocess

        argv = [a for a in sys.argv[1:] if not a.startswith("--nproc")]
        if "--nproc" in sys.argv:  # "--nproc N": drop its value too
            i = sys.argv.index("--nproc")
            argv = sys.argv[1:i] + sys.argv[i + 2:]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={ns.nproc}",
               "-m", "rldg_ros.cli", *argv]
        return subprocess.run(cmd).returncode
    train = _trainer(ns.model)

    try:
        summary = train(ns.data, ns.out, _cfg(ns), base=ns.base, resume=not ns.no_resume, progress=not ns.quiet,
                        **({} if ns.base else _model_kwargs(ns)))
    except (FileNotFoundError, ValueError) as exc:
        print(f"rldg finetune: {exc}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") == "0":  # under torchrun: the first rank reports
        print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=1))
    return 0
