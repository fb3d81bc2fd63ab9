"""Fig 9 diagnosis (docs/generalists.md part 8): the action labels a dataset holds around one position, e.g. where a
relabelled generalist stalls. For each dataset: how many frames lie within RADIUS of the point, and the mean and
standard deviation of their translation labels (policy units); labels that conflict there have a large standard
deviation and a mean near zero; the measured force along z at the frames labelled push-in (dz > 0) and back-off
(dz <= 0) tells whether the contact explains the split.

Usage: python scripts/fig9/labels.py X_CM Y_CM Z_CM RADIUS_MM NAME=RLDS_DIR [NAME=RLDS_DIR ...]"""
import sys

import numpy as np

from rldg_ros.spec import ACTION_POS, STATE_FORCE, STATE_POS
from rldg_ros.vla.data import load_episodes


def main(point_cm: np.ndarray, radius_mm: float, datasets: list[str]) -> None:
    print(f"frames within {radius_mm:g} mm of ({', '.join(f'{v:g}' for v in point_cm)}) cm; "
          "translation labels (dx, dy, dz): mean / std")
    for item in datasets:
        name, path = item.split("=", 1)
        eps = load_episodes([path], 8)
        pos = np.concatenate([e.states[:, STATE_POS] for e in eps])
        act = np.concatenate([e.actions[:, ACTION_POS] for e in eps])
        fz = np.concatenate([e.states[:, STATE_FORCE][:, 2] for e in eps])
        near = np.linalg.norm(pos - point_cm / 100.0, axis=1) * 1000.0 <= radius_mm
        if not near.any():
            print(f"{name}: no frame within {radius_mm:g} mm")
            continue
        a, f = act[near], fz[near]
        push = a[:, 2] > 0
        print(f"{name}: {int(near.sum())} frames of {len(pos)}; mean {np.round(a.mean(0), 2)}, "
              f"std {np.round(a.std(0), 2)}, dz > 0 in {np.mean(push):.0%}; force z at push-in "
              f"{f[push].mean() if push.any() else float('nan'):.2f} N, at back-off "
              f"{f[~push].mean() if (~push).any() else float('nan'):.2f} N")


if __name__ == "__main__":
    main(np.array([float(v) for v in sys.argv[1:4]]), float(sys.argv[4]), sys.argv[5:])
