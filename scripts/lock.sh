#!/usr/bin/env bash
# Regenerate requirements/constraints.txt from the venv (after installing new requirements without -c).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
py="$root/.venv/bin/python"
out="$root/requirements/constraints.txt"
"$py" -m pip install -q -r "$root/requirements/core.txt" -r "$root/requirements/build.txt" -r "$root/requirements/dev.txt" \
  -r "$root/requirements/sim.txt" -r "$root/requirements/panel.txt" -r "$root/requirements/ml.txt" -r "$root/requirements/vla.txt"
"$py" -m pip install -q --no-deps gym-hil
{
  echo "# Lock file: exact versions for every dependency group (pip install -c requirements/constraints.txt ...)."
  echo "# Regenerate with 'make lock' after changing requirements/*.txt. torch is pinned to the CPU build stored on"
  echo "# the machine: any other torch would pull ~3 GB of CUDA packages."
  echo "torch==2.13.0"
  "$py" -m pip freeze --all --exclude-editable | grep -v -E '^(pip|rldg[-_]ros)==' | grep -v '^torch=='
} > "$out"
echo "lock: wrote $(grep -c '==' "$out") pins to $out"
