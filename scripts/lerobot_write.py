"""Write a small LeRobotDataset v3.0 with LeRobot's own writer (run in .venv-lerobot), to test `rldg import lerobot`
on what LeRobot itself produces (PNG frames, pandas task index, its statistics; no reward or success feature, as in
most LeRobot datasets). Prints the frames it wrote as JSON.

Usage: .venv-lerobot/bin/python scripts/lerobot_write.py ROOT
"""

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lerobot_read  # noqa: E402,F401  (offline settings and the torchvision schemas, before LeRobot imports)
import numpy as np  # noqa: E402
from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402

EPISODES = [(6, "insert the usb plug"), (4, "insert the hdmi plug")]


def main(root: str) -> None:
    features = {
        "observation.state": {"dtype": "float32", "shape": (20,), "names": [f"s{i}" for i in range(20)]},
        "action": {"dtype": "float32", "shape": (7,), "names": [f"a{i}" for i in range(7)]},
        "observation.images.wrist": {"dtype": "image", "shape": (32, 32, 3),
                                     "names": ["height", "width", "channels"]},
    }
    ds = LeRobotDataset.create(repo_id="local/written", fps=10, root=root, features=features, use_videos=False)
    rng = np.random.default_rng(0)
    written = []
    for n, task in EPISODES:
        ep = {"task": task, "state": [], "action": [], "image_mean": []}
        for i in range(n):
            frame = {"observation.state": rng.normal(size=20).astype(np.float32),
                     "action": rng.uniform(-1, 1, 7).astype(np.float32),
                     "observation.images.wrist": np.full((32, 32, 3), 20 * i + 10, np.uint8),
                     "task": task}
            ds.add_frame(frame)
            ep["state"].append(frame["observation.state"].tolist())
            ep["action"].append(frame["action"].tolist())
            ep["image_mean"].append(float(frame["observation.images.wrist"].mean()))
        ds.save_episode()
        written.append(ep)
    ds.finalize()
    print(json.dumps(written))


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main(*sys.argv[1:])
