"""rldg: RL specialists distilled into generalist robot policies, on ROS 2.

The core (``sim``, ``rl``, ``reward``, ``data``, ``vla``, ``config``, ``graphs``) is ROS-free; ``nodes`` holds
thin rclpy adapters.
"""

import os
from pathlib import Path

# MuJoCo picks its GL backend when it is imported: headless EGL unless the user chose another
os.environ.setdefault("MUJOCO_GL", "egl")

__version__ = "0.1.0"


def share_dir() -> Path:
    """Where ``config/`` and ``launch/`` live: the installed package share dir, else the source tree."""
    src_root = Path(__file__).resolve().parent.parent
    if (src_root / "config").is_dir() and (src_root / "package.xml").is_file():
        return src_root
    try:  # installed by colcon in a ROS 2 workspace
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("rldg_ros"))
    except Exception as exc:  # noqa: BLE001 - any failure means the same thing to the caller
        raise FileNotFoundError("cannot find the rldg_ros share directory (config/, launch/)") from exc


def config_path(name: str) -> Path:
    """Absolute path of ``config/<name>`` (``name`` may omit ``.yaml``): ``nodes/`` node parameters,
    ``experiments/`` the experiment's profiles, ``convert/`` bag-to-RLDS maps, ``diagnose/`` ablation variants."""
    if not name.endswith(".yaml"):
        name += ".yaml"
    return share_dir() / "config" / name
