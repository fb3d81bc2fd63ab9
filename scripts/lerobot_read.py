"""Read a LeRobotDataset v3.0 with LeRobot's own reader (run in .venv-lerobot): prints a JSON summary.

Usage: .venv-lerobot/bin/python scripts/lerobot_read.py ROOT [REPO_ID]. Offline (HF_HUB_OFFLINE=1): a dataset the
reader finds incomplete makes it fall back to the Hub, which fails here at once instead of downloading.
"""

import json
import os
import sys
import tempfile

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="hf_home_"))  # datasets' Arrow cache goes here

import torch  # noqa: E402

# The only torchvision 0.28.0 wheel the package index serves is the CUDA build: with the CPU torch its compiled ops
# cannot load, and torchvision's _meta_registrations then fails on the missing "torchvision::nms"/"qnms" schemas.
# Declaring those two schemas (no kernels) lets torchvision's pure-Python parts import; LeRobot's image dataset path
# uses only those (its transforms), never nms.
_TV = torch.library.Library("torchvision", "FRAGMENT")
for _op in ("nms", "qnms"):
    try:
        _TV.define(f"{_op}(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:  # a working torchvision defined it already
        pass

from lerobot.datasets.lerobot_dataset import LeRobotDataset  # noqa: E402


def _plain(v):
    if hasattr(v, "tolist"):
        return v.tolist()
    return v


def main(root: str, repo_id: str = "local/rldg") -> None:
    ds = LeRobotDataset(repo_id, root=root)
    eps = ds.meta.episodes
    lengths = [int(x) for x in eps["length"]]
    starts = [int(x) for x in eps["dataset_from_index"]]
    items = []
    for i in sorted({0, starts[-1], len(ds) - 1}):
        it = ds[i]
        img = it["observation.images.wrist"]
        items.append({"i": i, **{k: _plain(v) for k, v in it.items() if k != "observation.images.wrist"},
                      "image_shape": list(img.shape), "image_mean": float(img.float().mean())})
    print(json.dumps({"len": len(ds), "num_episodes": ds.num_episodes, "fps": ds.fps, "lengths": lengths,
                      "features": sorted(ds.features), "tasks": list(ds.meta.tasks.index),
                      "stats_keys": sorted(ds.meta.stats), "items": items}))


if __name__ == "__main__":
    main(*sys.argv[1:])
