"""Where an experiment run puts things, defined once (the pipeline writes them, the report and users read them)::

    RUN/experiment.json            config, stage status and wall times (resumable)
    RUN/results.json               every evaluation row
    RUN/logs/<name>.log            each graph and training run's log
    RUN/specialists/<task>/        RL learner run dirs (checkpoints, metrics, TensorBoard)
    RUN/bags/<source>/<task>/      rosbag2 recordings (source: rl, human)
    RUN/data/<dataset>/<task>/1.0.0/   RLDS datasets (dataset: rl_15, human_15, human_relabeled_15, rl_3, ...)
    RUN/models/<run>/              fine-tuned generalists; models/base_<model>/ the pretrained bases
    RUN/eval/<run>__<task>.json    one evaluation per policy and task
    RUN/report/                    report.md and the figures
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rldg_ros.spec import DATASET_VERSION

__all__ = ["DATASET_VERSION", "RunLayout", "slug"]


def slug(task: str) -> str:
    """A task id as a folder name: ``connector_insertion/usb`` -> ``connector_insertion__usb``."""
    return task.replace("/", "__")


@dataclass(frozen=True)
class RunLayout:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def meta(self) -> Path:
        return self.root / "experiment.json"

    @property
    def results(self) -> Path:
        return self.root / "results.json"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def report(self) -> Path:
        return self.root / "report"

    def log(self, name: str) -> Path:
        return self.root / "logs" / f"{name}.log"

    def specialist(self, task: str) -> Path:
        return self.root / "specialists" / slug(task)

    def bags(self, source: str, task: str) -> Path:
        return self.root / "bags" / source / slug(task)

    def data_root(self, dataset: str) -> Path:
        """The folder a converter writes ``dataset`` into (one TFDS builder per task below it)."""
        return self.root / "data" / dataset

    def dataset(self, dataset: str, task: str) -> Path:
        """One task's RLDS directory (what ``tfds.builder_from_directory`` reads)."""
        return self.data_root(dataset) / slug(task) / DATASET_VERSION

    def model(self, name: str) -> Path:
        return self.models / name

    def base(self, model: str) -> Path:
        return self.models / f"base_{model}"
