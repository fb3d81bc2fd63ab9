"""Scaling out (issue #22): the RL fleet with 1 and 2 actor cells (learner updates/s, transitions/s received), and
openvla-style and octo-style data-parallel fine-tuning with 1 and 2 processes (samples/s at the same global batch).

On this 2-core machine the cells, the learner and the training ranks share the same cores, so these numbers show
that the paths work and what they cost here; on a workstation with a GPU learner and robots (or simulators) on
other hosts the actors add throughput instead of competing for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _fleet(actors: int, seconds: float, d: Path) -> dict:
    run = d / f"fleet{actors}"
    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("ROS_DOMAIN_ID", "93"),
               ROS_AUTOMATIC_DISCOVERY_RANGE="LOCALHOST")
    t0 = time.monotonic()
    out = subprocess.run([str(BIN / "rldg"), "up", "train_rl_fleet", "--processes", "--duration", str(int(seconds)),
                          f"actors:={actors}", "task:=connector_insertion/usb", "intervener:=expert",
                          "reward:=sim_ground_truth", "demos:=none", f"run_dir:={run}", "eval_every:=0"],
                         env=env, capture_output=True, text=True, timeout=seconds + 300)
    wall = time.monotonic() - t0
    if out.returncode != 0:
        return {"error": (out.stdout + out.stderr)[-1500:]}
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in rows if r["kind"] == "train"]
    ckpt = run / "checkpoints" / (run / "checkpoints" / "latest").read_text().strip()
    meta = json.loads((ckpt / "meta.json").read_text())
    first = min(r["time"] for r in rows if r["kind"] in ("train", "checkpoint"))
    span = max(r["time"] for r in rows) - first
    return {"actors": actors, "graph_seconds": seconds, "wall_s": wall,
            "transitions_received": meta["received"], "transitions_per_s": meta["received"] / max(span, 1e-9),
            "learner_steps": meta["step"], "learner_updates_per_s_median":
            sorted(r["updates_per_s"] for r in train)[len(train) // 2] if train else None,
            "per_actor_acked": meta["acked"]}


def _finetune(model: str, nproc: int, steps: int, ds: str, d: Path) -> dict:
    """One data-parallel fine-tuning run of ``model`` (octo | openvla) under torchrun with ``nproc`` processes (octo-
    style joins JAX's multi-process runtime from torchrun's environment, openvla-style uses torch.distributed)."""
    threads = max(1, (os.cpu_count() or 2) // nproc)
    env = dict(os.environ)
    if model == "openvla":
        extra = f", threads={threads}"
    else:  # JAX: its CPU thread pool is set by XLA flags, before it starts
        extra = ""
        if threads == 1:
            env["XLA_FLAGS"] = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
    script = d / f"ft_{model}.py"
    script.write_text(
        "import sys\n"
        f"from rldg_ros.vla.train_{model} import TrainConfig, train\n"
        f"train([sys.argv[1]], sys.argv[2], TrainConfig(max_steps={steps}, batch_size=32, log_every=10,"
        f" eval_every=100000, checkpoint_every=100000{extra}), progress=False)\n")
    cmd = ([sys.executable, str(script)] if nproc == 1 else
           [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(script)])
    out_dir = d / f"{model}{nproc}"
    t0 = time.perf_counter()
    out = subprocess.run([*cmd, ds, str(out_dir)], capture_output=True, text=True, timeout=3600, env=env)
    if out.returncode != 0:
        return {"error": (out.stdout + out.stderr)[-1500:]}
    wall = time.perf_counter() - t0
    summary = json.loads((out_dir / "training_summary.json").read_text())
    return {"processes": nproc, "threads_per_process": threads, "global_batch": 32, "steps": steps,
            "training_seconds": summary["seconds"], "samples_per_s": steps * 32 / summary["seconds"],
            "wall_s_with_startup": wall}


def measure(seconds: float = 60.0, steps: int = 60) -> dict:
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        for n in (1, 2):
            results[f"rl_fleet_{n}_actor{'s' if n > 1 else ''}"] = _fleet(n, seconds, d)
        from vla import _dataset

        ds = _dataset(d)
        for model in ("openvla", "octo"):
            for n in (1, 2):
                results[f"finetune_{model}_{n}_process{'es' if n > 1 else ''}"] = _finetune(model, n, steps, ds, d)
    return {"note": "2-core machine: actors, learner and training ranks share the cores (see the module "
            "docstring); fleet: connector_insertion/usb, state obs, the expert intervener, sim ground-truth reward; "
            "fine-tuning: openvla-style-tiny and octo-style-tiny from scratch, global batch 32, gloo "
            "(torch.distributed; JAX multi-process for octo-style), launched by torchrun",
            "results": results}


if __name__ == "__main__":
    print(json.dumps(measure(), indent=2))
