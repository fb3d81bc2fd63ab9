#!/usr/bin/env bash
# Install the Debian packages the build needs, only when missing (idempotent, no apt call when all are there).
set -euo pipefail
need=(cmake g++ make)
# headless MuJoCo rendering (MUJOCO_GL=egl) needs an EGL/GL stack: Mesa's software one will do
libs=(libegl1 libgl1 libgl1-mesa-dri)
if ! command -v python3.11 >/dev/null 2>&1; then
  need+=(python3.11 python3.11-venv python3.11-dev)
fi
missing=()
for p in "${need[@]}"; do
  if [[ "$p" == python3.11* ]]; then missing+=("$p"); continue; fi
  command -v "$p" >/dev/null 2>&1 || dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
for p in "${libs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt_deps: all present (${need[*]} ${libs[*]})"
  exit 0
fi
echo "apt_deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
