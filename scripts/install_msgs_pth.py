"""Make the colcon-built rldg_msgs importable from every Python started in this venv.

Writes ``rldg_msgs_ws.pth`` into the venv's site-packages. Python runs .pth files in sorted order, so this one
runs before ``ros_wheels_bootstrapper.pth``, which re-executes the interpreter with its LD_LIBRARY_PATH: the
re-executed process then also finds our typesupport libraries (the typesupport dispatcher dlopens them by name).
"""

from __future__ import annotations

import sys
import sysconfig
from pathlib import Path


def main() -> int:
    install = Path(sys.argv[1]).resolve()
    lib = install / "lib"
    pkgs = lib / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    if not (pkgs / "rldg_msgs" / "__init__.py").is_file():
        print(f"install_msgs_pth: no built rldg_msgs under {install}", file=sys.stderr)
        return 1
    line = (
        "import os, sys; "
        f"_l = {str(lib)!r}; _p = {str(pkgs)!r}; "
        "_c = [x for x in os.environ.get('LD_LIBRARY_PATH', '').split(os.pathsep) if x]; "
        "_l in _c or os.environ.__setitem__('LD_LIBRARY_PATH', os.pathsep.join([_l] + _c)); "
        "_p in sys.path or sys.path.append(_p)\n"
    )
    target = Path(sysconfig.get_paths()["purelib"]) / "rldg_msgs_ws.pth"
    if not target.exists() or target.read_text() != line:
        target.write_text(line)
    print(f"install_msgs_pth: {target} -> {install}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
