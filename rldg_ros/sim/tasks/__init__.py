"""Task registry: ``TASKS[task_id]`` is a factory; a new task or variant is one module plus an entry here."""

from __future__ import annotations

from collections.abc import Callable

from rldg_ros.sim.tasks.base import Task
from rldg_ros.sim.tasks.fmb_assembly import FmbAssembly
from rldg_ros.sim.tasks.peg import CONNECTORS, ConnectorInsertion, FmbInsertion
from rldg_ros.sim.tasks.pick_place import PickPlace

TASKS: dict[str, Callable[[], Task]] = {}
SEEN: dict[str, bool] = {}

for _name, _conn in CONNECTORS.items():
    TASKS[f"connector_insertion/{_name}"] = (lambda n=_name: ConnectorInsertion(n))
    SEEN[f"connector_insertion/{_name}"] = _conn.seen

TASKS["fmb_insertion"] = FmbInsertion
SEEN["fmb_insertion"] = True
TASKS["fmb_assembly"] = FmbAssembly
TASKS["fmb_assembly/insertion"] = lambda: FmbAssembly(insertion_only=True)
SEEN.update({"fmb_assembly": True, "fmb_assembly/insertion": True})
TASKS["pick_place/train"] = lambda: PickPlace("train")
TASKS["pick_place/unseen"] = lambda: PickPlace("unseen")
SEEN.update({"pick_place/train": True, "pick_place/unseen": False})

from rldg_ros.sim.tasks import pretrain as _pretrain  # noqa: E402 - needs the task modules above

#: pretraining-only tasks (rldg_ros.sim.tasks.pretrain): training data for the generalists' bases, never evaluated
PRETRAIN_TASKS: list[str] = _pretrain.register(TASKS)
SEEN.update(dict.fromkeys(PRETRAIN_TASKS, True))


def task_ids(seen: bool | None = None, pretrain: bool = False) -> list[str]:
    """Task ids (``seen``: only seen / unseen ones); the pretraining-only tasks only with ``pretrain``."""
    return [t for t in TASKS if (seen is None or SEEN[t] == seen) and (pretrain or t not in PRETRAIN_TASKS)]


def make_task(task_id: str) -> Task:
    try:
        return TASKS[task_id]()
    except KeyError:
        raise KeyError(f"unknown task {task_id!r}; tasks: {sorted(TASKS)}") from None


def expand_tasks(spec: str, include_unseen: bool = True) -> list[str]:
    """``"connector_insertion/usb,pick_place/train"`` -> those ids; a family name (``connector_insertion``) -> its
    variants (only the seen ones unless ``include_unseen``). Unknown names raise ``KeyError`` listing the tasks."""
    out: list[str] = []
    for part in (p.strip() for p in spec.split(",") if p.strip()):
        if part in TASKS:
            ids = [part]
        else:
            ids = [t for t in TASKS if t.split("/")[0] == part and "/" in t and (include_unseen or SEEN[t])]
            if not ids:
                raise KeyError(f"unknown task or task family {part!r}; tasks: {sorted(TASKS)}")
        out.extend(t for t in ids if t not in out)
    if not out:
        raise KeyError("no task given")
    return out
