#!/usr/bin/env bash
# Build rldg_msgs with colcon against the ROS 2 wheels in the venv, and make it importable from the venv.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
ws="$root/ws"
py="$venv/bin/python"

"$py" "$root/scripts/fix_ros_cmake_paths.py"
export AMENT_PREFIX_PATH="$venv" CMAKE_PREFIX_PATH="$venv" PATH="$venv/bin:$PATH"
cd "$ws"
"$venv/bin/colcon" --log-base "$ws/log" build --packages-select rldg_msgs \
  --build-base "$ws/build" --install-base "$ws/install" \
  --event-handlers console_direct- console_cohesion- status- \
  --cmake-args -DBUILD_TESTING=OFF "-DPython3_EXECUTABLE=$py" "-DCMAKE_INSTALL_RPATH=$ws/install/rldg_msgs/lib"
"$py" "$root/scripts/install_msgs_pth.py" "$ws/install/rldg_msgs"
