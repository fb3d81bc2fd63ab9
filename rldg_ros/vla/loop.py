"""The generalists' one training loop: steps, logging, validation, periodic and final checkpoints, resumption from
a step, progress and the summary; each trainer (``train_octo``, ``train_openvla``) brings its own update, validation
and checkpoint as callables (as LeRobot's and Octo's trainers separate the loop from the policy; read, not copied).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm


@dataclass
class LoopConfig:
    max_steps: int
    log_every: int
    eval_every: int
    checkpoint_every: int


def run_loop(cfg: LoopConfig, step: int, update: Callable[[], dict], validate: Callable[[], dict | None],
             checkpoint: Callable[[int, str], None], log, desc: str, progress: bool = True) -> tuple[int, float, list]:
    """Train from ``step`` to ``cfg.max_steps``. ``update()`` does one optimiser step and returns its numbers (``loss``
    at least; they are averaged over ``log_every`` steps, the last of the others kept); ``validate()`` returns the
    validation numbers (``loss`` at least) or None; ``checkpoint(step, reason)`` saves. -> (last step, seconds,
    history rows)."""
    history: list[dict] = []
    window: list[dict] = []
    t0 = time.monotonic()
    bar = tqdm(total=cfg.max_steps, initial=step, desc=desc, disable=not progress)
    while step < cfg.max_steps:
        window.append(update())
        step += 1
        bar.update(1)
        if step % cfg.log_every == 0 or step == cfg.max_steps:
            row = {**window[-1], "loss": float(np.mean([w["loss"] for w in window])),
                   "steps_per_s": step / max(time.monotonic() - t0, 1e-9)}
            log.write("train", step, row)
            history.append({"step": step, **row})
            bar.set_postfix(loss=f"{row['loss']:.4f}")
            window = []
        if step % cfg.eval_every == 0 or step == cfg.max_steps:
            v = validate()
            if v is not None:
                log.write("val", step, v)
                history.append({"step": step, **{f"val_{k}": x for k, x in v.items()}})
        if step % cfg.checkpoint_every == 0 and step < cfg.max_steps:
            checkpoint(step, "periodic")
    bar.close()
    checkpoint(step, "final")
    return step, time.monotonic() - t0, history


def loop_config(train_cfg) -> LoopConfig:
    """The loop's settings from a trainer's TrainConfig."""
    return LoopConfig(train_cfg.max_steps, train_cfg.log_every, train_cfg.eval_every, train_cfg.checkpoint_every)


def distributed() -> tuple[int, int]:
    """-> (rank, world size). Under ``torchrun`` (``WORLD_SIZE`` > 1) this joins the process group: gloo on CPU,
    nccl when CUDA is present; (0, 1) in a plain process."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return dist.get_rank(), dist.get_world_size()


def jax_distributed() -> tuple[int, int]:
    """-> (process index, process count) for JAX. Under ``torchrun`` (``WORLD_SIZE`` > 1; the same launcher as
    openvla-style's, which also spans hosts) this joins JAX's multi-process runtime: the coordinator on
    ``MASTER_ADDR`` at ``MASTER_PORT`` + 1 (or ``JAX_COORDINATOR_ADDRESS``), CPU collectives over gloo (GPUs use
    NCCL by themselves); (0, 1) in a plain process. Call it before JAX computes anything."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1
    import jax

    if not jax.distributed.is_initialized():
        coord = os.environ.get("JAX_COORDINATOR_ADDRESS") or (
            f"{os.environ.get('MASTER_ADDR', '127.0.0.1')}:{int(os.environ.get('MASTER_PORT', '29500')) + 1}")
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coord, world, int(os.environ["RANK"]))
    return jax.process_index(), jax.process_count()
