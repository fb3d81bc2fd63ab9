"""Locate gym-hil's Panda + Robotiq assets without importing gym-hil's environment code."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def panda_xml() -> Path:
    spec = importlib.util.find_spec("gym_hil")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the Panda assets come from the PyPI package gym-hil: "
                                "pip install --no-deps gym-hil==0.1.14 (make setup does this)")
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "panda.xml"
    if not path.is_file():
        raise FileNotFoundError(f"gym-hil is installed but {path} is missing")
    return path
