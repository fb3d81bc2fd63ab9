"""``rldg diagnose``: ablations of the generalists, each row measured open loop and closed loop.

A *variant* is a training recipe (model family, trainer and architecture settings) plus how its policy is executed
(chunk execution, diffusion sampling steps, token decoding). For every variant and dataset this trains a model
(resumable), then measures

* **open loop**: the action error on the held-out episodes of the same dataset (the trainer's validation split,
  never trained on): mean squared error of the first predicted action against the recorded one, in the action
  space's units ([-1, 1]), over the dimensions the data moves, and R^2 (1 - MSE / the actions' variance);
* **closed loop**: success on seeded episodes of the given tasks in the sim cell (in process).

Closed-loop seeds start at :data:`rldg_ros.spec.TUNING_FIRST_SEED`: the ablations choose settings on them, so the
experiment's evaluation seeds (:data:`~rldg_ros.spec.EVAL_FIRST_SEED`) stay untouched by any choice made here.
A plain state -> action MLP (the experiment's data probe) trained on the same training split is the yardstick.

Variants come from a params file (``config/diagnose/generalists.yaml``: ``name: {model, train: {...}, model_cfg:
{...}, run: {...}}``); results go to ``OUT/<dataset>/<variant>/result.json`` and ``OUT/diagnosis.md``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Variant:
    name: str
    model: str  # octo | openvla
    train: dict = field(default_factory=dict)  # TrainConfig fields
    model_cfg: dict = field(default_factory=dict)  # OctoConfig / VLAConfig fields (from scratch)
    run: dict = field(default_factory=dict)  # execution: chunk_mode, execute_steps, decay, sample_steps, decode
    base: str = ""  # fine-tune from this checkpoint
    reuse: str = ""  # use the model trained by this variant (execution-only ablations)
    note: str = ""


def load_variants(path: str | Path) -> list[Variant]:
    import yaml

    raw = yaml.safe_load(Path(path).read_text()) or {}
    out = []
    for name, d in raw.items():
        if not isinstance(d, dict):
            raise ValueError(f"{path}: variant {name!r}: expected a mapping of settings, got {d!r}")
        unknown = set(d) - set(Variant.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{path}: variant {name!r}: unknown keys {sorted(unknown)}")
        if d.get("model") not in ("octo", "openvla"):
            raise ValueError(f"{path}: variant {name!r}: model must be octo or openvla")
        out.append(Variant(name=name, **d))
    return out


#: the last steps of every held-out episode, where a precise task is decided (the insertion itself): their action
#: error is reported apart from the whole episode's, which free-space motion dominates
FINAL = 5


# -- training --------------------------------------------------------------------------------------------------
def train_variant(v: Variant, data: list[Path], out: Path, progress: bool = True) -> dict:
    if v.model == "octo":
        from rldg_ros.vla import octo_style as octo
        from rldg_ros.vla.train_octo import TrainConfig, train

        cfg = TrainConfig(**v.train)
        mcfg = octo.OctoConfig.from_dict(v.model_cfg)
        return train(data, out, cfg, base=v.base or None, model_cfg=mcfg, progress=progress)
    from rldg_ros.vla import openvla_style as ov
    from rldg_ros.vla.train_openvla import TrainConfig, train

    cfg = TrainConfig(**v.train)
    return train(data, out, cfg, base=v.base or None, vla_cfg=ov.VLAConfig(**v.model_cfg), progress=progress)


# -- open loop --------------------------------------------------------------------------------------------------
def _val_episodes(ckpt: Path, data: list[Path], image_size: int):
    from rldg_ros.vla.data import split_episodes

    s = json.loads((ckpt / "training_summary.json").read_text())
    tc = s["train_config"]
    return split_episodes(data, image_size, tc["val_fraction"], tc["seed"])


def open_loop(model: str, ckpt: Path, data: list[Path], run: dict | None = None) -> dict:
    """Action error of the first predicted action on the held-out episodes (see the module docstring)."""
    run = run or {}
    if model == "octo":
        from rldg_ros.vla import octo_style as octo
        from rldg_ros.vla.data import GRIPPER, WindowSampler
        from rldg_ros.vla.normalize import Normalizer
        from rldg_ros.vla.train_octo import OctoPolicy

        pol = OctoPolicy(ckpt, sample_steps=run.get("sample_steps"))
        c = pol.cfg
        train_eps, val_eps = _val_episodes(ckpt, data, c.image_size)
        from rldg_ros.spec import ACTION_DIM

        n = ACTION_DIM  # an identity normalizer: the sampler hands back the recorded actions as they are
        ident = Normalizer(np.full(n, -1.0), np.ones(n), np.zeros(n), np.ones(n), "normal", GRIPPER)
        sampler = WindowSampler(val_eps, ident, c.window, c.horizon,
                                lambda s: octo.text_ids(c, s), 0, pol.state_norm)
        pred, true = [], []
        import jax

        for b in sampler.all_batches(64):
            chunk = pol.model.sample(octo.add_text_embedding(c, b), jax.random.PRNGKey(0), deterministic=True,
                                     steps=pol.sample_steps)
            pred.append(np.clip(pol.norm.unnormalize(chunk[:, 0]), -1, 1))
            true.append(b["action"][:, 0])
        pred, true = np.concatenate(pred), np.concatenate(true)
        final = np.concatenate([np.arange(len(e.actions)) >= len(e.actions) - FINAL for e in val_eps])
    else:
        from rldg_ros.vla import openvla_style as ov

        vla = ov.load(ckpt)
        if run.get("decode"):
            vla.cfg.decode = run["decode"]
        train_eps, val_eps = _val_episodes(ckpt, data, 128)
        pred, true, off_vocab = [], [], 0
        final = np.concatenate([np.arange(len(e.actions)) >= len(e.actions) - FINAL for e in val_eps])
        for e in val_eps:
            for t in range(len(e.actions)):
                obs = {"image": e.images[t], "state": e.states[t]}
                pred.append(vla.act(obs, e.instruction))
                true.append(e.actions[t])
                ids, _ = vla.predict_tokens(e.images[t], e.instruction, e.states[t], constrained=False)
                off_vocab += int(np.sum(~vla.actions.is_action_token(ids)))
        pred, true = np.asarray(pred), np.asarray(true)
    moving = np.flatnonzero(np.concatenate([e.actions for e in train_eps]).std(0) > 1e-6)
    out = {"val_episodes": len(val_eps), **_errors(pred, true, final, moving), "dims": moving.tolist()}
    if model == "openvla":
        out["unconstrained_off_vocab_tokens"] = off_vocab
    return out


def probe_open_loop(ckpt: Path, data: list[Path]) -> tuple[dict, object]:
    """The yardstick: the experiment's state -> action MLP on the same training split, its open-loop error."""
    from rldg_ros.experiment.probe import MlpProbe

    train_eps, val_eps = _val_episodes(ckpt, data, 16)
    probe = MlpProbe(np.concatenate([e.states for e in train_eps]), np.concatenate([e.actions for e in train_eps]))
    true = np.concatenate([e.actions for e in val_eps])
    pred = np.stack([probe.act(s) for e in val_eps for s in e.states])
    final = np.concatenate([np.arange(len(e.actions)) >= len(e.actions) - FINAL for e in val_eps])
    return _errors(pred, true, final, probe.moving), probe


def _errors(pred: np.ndarray, true: np.ndarray, final: np.ndarray, moving: np.ndarray) -> dict:
    """MSE and R^2 over the moving dimensions, and the MSE of the ``final`` steps next to their actions' RMS."""
    p, t = pred[:, moving], true[:, moving]
    mse = float(np.mean((p - t) ** 2))
    return {"val_steps": int(len(t)), "action_mse": mse, "action_r2": 1.0 - mse / max(float(np.mean(t.var(0))), 1e-12),
            "final_action_mse": float(np.mean((p[final] - t[final]) ** 2)),
            "final_action_rms": float(np.sqrt(np.mean(t[final] ** 2)))}


# -- closed loop --------------------------------------------------------------------------------------------------
def closed_loop(model: str, ckpt: Path, task: str, episodes: int, first_seed: int, run: dict | None = None) -> dict:
    from rldg_ros.vla.evaluate import evaluate_inprocess

    return evaluate_inprocess(f"{model}:{ckpt}", task, episodes, first_seed, execution=run or {})


def _closed_job(model, ckpt, task, episodes, first_seed, run):
    return closed_loop(model, Path(ckpt), task, episodes, first_seed, run)


def _probe_job(ckpt, data, tasks, episodes, first_seed):
    from rldg_ros.experiment.probe import evaluate_probe

    ol, probe = probe_open_loop(Path(ckpt), [Path(d) for d in data])
    return {"open_loop": ol, "closed_loop": {t: evaluate_probe(probe, t, episodes, first_seed) for t in tasks}}


# -- driver ---------------------------------------------------------------------------------------------------------
def run_diagnosis(variants: list[Variant], datasets: dict[str, list[Path]], out: Path, tasks: list[str],
                  episodes: int, first_seed: int | None = None, workers: int = 2, only: list[str] | None = None,
                  progress: bool = True) -> Path:
    from rldg_ros.experiment.pipeline import _finished, run_jobs
    from rldg_ros.spec import TUNING_FIRST_SEED

    first_seed = TUNING_FIRST_SEED if first_seed is None else first_seed
    out.mkdir(parents=True, exist_ok=True)
    by_name = {v.name: v for v in variants}
    for dname, data in datasets.items():
        for v in variants:
            if only and v.name not in only:
                continue
            vdir = out / dname / v.name
            res_file = vdir / "result.json"
            if res_file.exists():
                old = json.loads(res_file.read_text())
                if "final_action_mse" not in old["open_loop"]:  # measured before that metric existed
                    src = by_name[v.reuse] if v.reuse else v
                    old["open_loop"] = open_loop(v.model, out / dname / src.name / "model", data, v.run)
                    res_file.write_text(json.dumps(old, indent=1))
                continue
            src = by_name[v.reuse] if v.reuse else v
            mdir = out / dname / src.name / "model"
            t0 = time.monotonic()
            if not _finished(mdir):
                if v.reuse:
                    raise ValueError(f"variant {v.name}: reuses {v.reuse}, which is not trained yet (list it first)")
                train_variant(src, data, mdir, progress)
            train_s = time.monotonic() - t0
            summary = json.loads((mdir / "training_summary.json").read_text())
            ol = open_loop(v.model, mdir, data, v.run)
            results = {}
            jobs = [((v.model, str(mdir), t, episodes, first_seed, v.run), t) for t in tasks]
            run_jobs(_closed_job, jobs, workers, results.__setitem__, f"closed loop {v.name}")
            vdir.mkdir(parents=True, exist_ok=True)
            res_file.write_text(json.dumps({"variant": asdict(v), "dataset": dname, "open_loop": ol,
                                            "closed_loop": results, "train_seconds": train_s,
                                            "final_val_loss": summary.get("final_val_loss"),
                                            "val_history": [h for h in summary["history"] if "val_loss" in h],
                                            "first_seed": first_seed}, indent=1))
            print(f"diagnose {dname}/{v.name}: open-loop mse {ol['action_mse']:.4f} r2 {ol['action_r2']:.3f}; "
                  + ", ".join(f"{t}: {r['successes']}/{r['episodes']}" for t, r in results.items()), flush=True)
        pfile = out / dname / "probe.json"
        if not pfile.exists() and (only is None or "probe" in only):
            anchor = next((out / dname / v.name / "model" for v in variants
                           if (out / dname / v.name / "model" / "training_summary.json").exists()), None)
            if anchor is not None:
                res = _probe_job(str(anchor), [str(d) for d in data], tasks, episodes, first_seed)
                pfile.write_text(json.dumps(res, indent=1))
    return write_table(out, tasks)


def write_table(out: Path, tasks: list[str]) -> Path:
    from rldg_ros.sim.rollout import wilson_interval as wilson

    lines = ["| dataset | variant | model | executed | val loss | open-loop action MSE | R^2 | MSE, last 5 steps | "
             + " | ".join(f"{t.split('/')[-1]} success" for t in tasks) + " | note |",
             "|---|---|---|---|---|---|---|---|" + "---|" * len(tasks) + "---|"]

    def cell(r: dict | None) -> str:
        if not r:
            return "-"
        lo, hi = wilson(r["successes"], r["episodes"])
        return f"{r['successes']}/{r['episodes']} [{lo:.2f}, {hi:.2f}]"

    for ddir in sorted(p for p in out.iterdir() if p.is_dir()):
        results = [json.loads(f.read_text()) for f in ddir.glob("*/result.json")]
        for r in sorted(results, key=lambda r: (r["variant"]["model"], r["variant"]["name"])):
            v, ol = r["variant"], r["open_loop"]
            vl = r.get("final_val_loss")
            lines.append(f"| {ddir.name} | {v['name']} | {v['model']} | {_executed(v)} | "
                         f"{'-' if vl is None else f'{vl:.4f}'} | {ol['action_mse']:.4f} | {ol['action_r2']:.3f} | "
                         f"{_final(ol)} | "
                         + " | ".join(cell(r["closed_loop"].get(t)) for t in tasks) + f" | {v.get('note', '')} |")
        pf = ddir / "probe.json"
        if pf.exists():
            p = json.loads(pf.read_text())
            lines.append(f"| {ddir.name} | probe | 2x256 state MLP | every step | - | "
                         f"{p['open_loop']['action_mse']:.4f} | "
                         f"{p['open_loop']['action_r2']:.3f} | {_final(p['open_loop'])} | "
                         + " | ".join(cell(p["closed_loop"].get(t)) for t in tasks) + " | the yardstick |")
    md = out / "diagnosis.md"
    md.write_text("\n".join(lines) + "\n")
    return md


def _executed(v: dict) -> str:
    """How a row's policy was executed (the serving defaults where the variant says nothing)."""
    from rldg_ros.vla.serving import CHUNK_DEFAULTS

    run = v.get("run", {})
    if v["model"] == "openvla":
        return f"decode {run.get('decode', 'argmax')}"
    mode, n, _ = CHUNK_DEFAULTS
    mode = run.get("chunk_mode", mode)
    out = "ensemble" if mode == "ensemble" else f"receding {run.get('execute_steps', n)}"
    return out + (f", {run['sample_steps']} DDIM steps" if run.get("sample_steps") else "")


def _final(ol: dict) -> str:
    if "final_action_mse" not in ol:
        return "-"
    return f"{ol['final_action_mse']:.4f} (rms {ol['final_action_rms']:.2f})"


def add_parser(sub) -> None:
    s = sub.add_parser("diagnose", help="generalist ablations: train variants, measure open- and closed-loop")
    s.add_argument("--variants", default=str(Path(__file__).resolve().parents[2] / "config" / "diagnose"
                                             / "generalists.yaml"))
    s.add_argument("--data", action="append", required=True, help="NAME=RLDS_DIR[,RLDS_DIR...] (repeatable)")
    s.add_argument("--out", required=True)
    s.add_argument("--task", required=True, help="closed-loop task(s), comma-separated")
    s.add_argument("--episodes", type=int, default=20)
    s.add_argument("--first-seed", type=int, default=None, help="default: the tuning seeds (never the eval seeds)")
    s.add_argument("--only", default=None, help="comma-separated variant names (and 'probe')")
    s.add_argument("--workers", type=int, default=2)
    s.set_defaults(func=_cmd)


def _cmd(ns) -> int:
    import sys

    from rldg_ros.sim.tasks import expand_tasks

    try:
        variants = load_variants(ns.variants)
        datasets = {}
        for spec in ns.data:
            name, _, dirs = spec.partition("=")
            if not dirs:
                raise ValueError(f"--data {spec!r}: use NAME=RLDS_DIR[,RLDS_DIR...]")
            datasets[name] = [Path(d) for d in dirs.split(",")]
            for d in datasets[name]:
                if not (d / "dataset_info.json").exists():
                    raise ValueError(f"--data {name}: {d} is not an RLDS directory (no dataset_info.json)")
        tasks = expand_tasks(ns.task)
        only = ns.only.split(",") if ns.only else None
        unknown = sorted(set(only or ()) - {v.name for v in variants} - {"probe"})
        if unknown:
            raise ValueError(f"--only {unknown}: no such variant in {ns.variants}")
        if ns.episodes < 1:
            raise ValueError(f"--episodes {ns.episodes}: need at least 1")
    except (OSError, ValueError, KeyError) as exc:
        print(f"rldg diagnose: {exc}", file=sys.stderr)
        return 2
    md = run_diagnosis(variants, datasets, Path(ns.out), tasks, ns.episodes, ns.first_seed, ns.workers, only)
    print(md.read_text())
    return 0
