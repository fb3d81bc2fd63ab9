"""Training metrics as files: ``metrics.jsonl`` and TensorBoard scalars, one log per run (RL learner and actors,
generalist training)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np


class MetricsLog:
    """``metrics.jsonl`` (one JSON object per line, with ``kind``) + TensorBoard scalars (tensorboardX)."""

    def __init__(self, run_dir: Path, tensorboard: bool = True) -> None:
        run_dir.mkdir(parents=True, exist_ok=True)
        self.f = open(run_dir / "metrics.jsonl", "a")  # noqa: SIM115
        self.tb = None
        if tensorboard:
            from tensorboardX import SummaryWriter

            self.tb = SummaryWriter(str(run_dir / "tb"))

    def write(self, kind: str, step: int, values: dict) -> None:
        row = {"kind": kind, "step": int(step), "time": time.time(), **values}
        self.f.write(json.dumps(row) + "\n")
        self.f.flush()
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float, bool, np.floating, np.integer)):
                    self.tb.add_scalar(f"{kind}/{k}", float(v), int(step))

    def close(self) -> None:
        self.f.close()
        if self.tb is not None:
            self.tb.close()


class NullLog:
    """The metrics log of a process that writes none (a DDP rank other than 0)."""

    def write(self, *args, **kwargs) -> None:
        pass

    def close(self) -> None:
        pass
