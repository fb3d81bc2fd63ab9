"""Rewrite the build-machine paths baked into the ROS 2 wheels' exported CMake files.

The Kilted wheels on PyPI were built under /opt/python/cp311-cp311; their ``share/**/*.cmake`` files name that
interpreter's include directory and its numpy include directory. Building our own interfaces (rldg_msgs) against
them needs this venv's paths instead. Idempotent: files already pointing here are left alone.
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path

BUILD_PREFIX = "/opt/python/cp311-cp311"


def main() -> int:
    import numpy

    venv = Path(sys.prefix)
    py_include = sysconfig.get_paths()["include"]
    np_include = numpy.get_include()
    replacements = [
        (f"{BUILD_PREFIX}/lib/python3.11/site-packages/numpy/_core/include", np_include),
        (f"{BUILD_PREFIX}/include/python3.11", py_include),
    ]
    changed = 0
    for path in (venv / "share").rglob("*.cmake"):
        text = path.read_text(errors="surrogateescape")
        if BUILD_PREFIX not in text:
            continue
        new = text
        for old, repl in replacements:
            new = new.replace(old, repl)
        if new != text:
            path.write_text(new, errors="surrogateescape")
            changed += 1
    print(f"fix_ros_cmake_paths: rewrote {changed} CMake files (python include {py_include})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
