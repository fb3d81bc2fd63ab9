"""Resumable stages of an experiment run (``rldg experiment rldg`` and ``rldg experiment ire``): each stage's status,
wall time and results in ``RUN/experiment.json`` (written atomically), a finished stage skipped on a re-run."""

from __future__ import annotations

import json
import time
from pathlib import Path

from rldg_ros.experiment.layout import RunLayout


class StagedRun:
    def __init__(self, run_dir: str | Path, header: dict, log=print, name: str = "experiment") -> None:
        self.run = Path(run_dir)
        self.run.mkdir(parents=True, exist_ok=True)
        self.layout = RunLayout(self.run)
        self.log, self.name = log, name
        self.meta = json.loads(self.layout.meta.read_text()) if self.layout.meta.exists() else {}
        self.meta.update(header)
        self.meta.setdefault("stages", {})
        self._save()

    def _save(self) -> None:
        tmp = self.layout.meta.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.meta, indent=1))
        tmp.replace(self.layout.meta)

    def _stage(self, name: str, fn) -> dict:
        """Run ``fn`` (-> its results, kept with the stage) unless the stage is done already; -> the stage's row.
        A stage that stops part-way keeps the time it ran (``seconds_before``): its resumption adds it."""
        st = self.meta["stages"].get(name, {})
        if st.get("done"):
            self.log(f"{self.name}: stage {name}: done already ({st.get('seconds', 0):.0f} s), skipped")
            return st
        self.log(f"{self.name}: stage {name} ...")
        t0 = time.monotonic()
        before = float(st.get("seconds_before", 0.0))  # wall time of earlier, stopped attempts at this stage
        try:
            info = fn() or {}
        except BaseException:  # stopped (Ctrl-C, a failure): the time it ran still counts when it is resumed
            self.meta["stages"][name] = {**st, "seconds_before": before + time.monotonic() - t0}
            self._save()
            raise
        # a reopened stage keeps what its earlier run recorded (e.g. the fine-tuning runs made then) beside the new
        kept = _recorded(st)
        merged = {k: ({**kept[k], **v} if isinstance(v, dict) and isinstance(kept.get(k), dict) else v)
                  for k, v in info.items()}
        st = {**kept, "done": True, "seconds": time.monotonic() - t0 + before, **merged}
        self.meta["stages"][name] = st
        self._save()
        self.log(f"{self.name}: stage {name}: {st['seconds'] / 60:.1f} min")
        return st

    def reopen(self, name: str, order: tuple[str, ...]) -> list[str]:
        """Mark stage ``name`` and every later one in ``order`` as not done, keeping their files and their wall time
        (as ``seconds_before``): a re-run then does what the current settings ask that is not there yet (e.g. the
        Fig 7 subsets of a run made with ``scaling=false``), as each stage skips the jobs whose outputs exist.
        -> the stages reopened."""
        if name not in order:
            raise ValueError(f"reopen: unknown stage {name!r}; stages: {', '.join(order)}")
        stages = self.meta.setdefault("stages", {})
        out = []
        for later in order[order.index(name):]:
            st = stages.get(later)
            if st and st.get("done"):
                stages[later] = {**_recorded(st), "seconds_before": float(st.get("seconds", 0.0))}
                out.append(later)
        self._save()
        return out

    def spent(self, name: str) -> float:
        """Wall time (s) earlier, stopped attempts at stage ``name`` ran: a resumed budget is what is left of it."""
        return float(self.meta["stages"].get(name, {}).get("seconds_before", 0.0))


def _recorded(st: dict) -> dict:
    """What a stage's row recorded of its results, without its status and times."""
    return {k: v for k, v in st.items() if k not in ("done", "seconds", "seconds_before")}
