"""Console-script entry points: ``<executable> = rldg_ros.nodes.entry:<executable>`` for every node.

Attributes are created on access (PEP 562) from :mod:`rldg_ros.executables`, so that list stays the only one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from rldg_ros.executables import NODES


def __getattr__(name: str) -> Callable[[], int]:
    if name in NODES:
        from rldg_ros.nodes.base import run_node

        return functools.partial(run_node, name)
    raise AttributeError(name)
