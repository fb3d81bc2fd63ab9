"""Read an RLDS directory with TensorFlow Datasets (run in .venv-tf): prints a JSON summary of every episode.

This is how OpenVLA's and Octo's data loaders open RLDS. Usage: .venv-tf/bin/python scripts/tfds_read.py DIR
"""

import json
import sys

import numpy as np
import tensorflow_datasets as tfds


def _value(v):
    v = v.numpy()
    return v.decode() if isinstance(v, bytes) else v.item()


def main(path: str) -> None:
    builder = tfds.builder_from_directory(path)
    out = {}
    for split in builder.info.splits:
        eps = []
        for ep in builder.as_dataset(split=split):
            steps = list(tfds.as_numpy(ep["steps"]))
            eps.append({
                "n": len(steps),
                "action": np.stack([s["action"] for s in steps]).tolist(),
                "state": np.stack([s["observation"]["state"] for s in steps]).tolist(),
                "reward": [float(s["reward"]) for s in steps],
                "image_shape": list(steps[0]["observation"]["image"].shape),
                "image_mean": [float(s["observation"]["image"].mean()) for s in steps],
                "is_first": [bool(s["is_first"]) for s in steps],
                "is_last": [bool(s["is_last"]) for s in steps],
                "instruction": steps[0]["language_instruction"].decode(),
                "meta": {k: _value(v) for k, v in ep["episode_metadata"].items()},
            })
        out[split] = eps
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
