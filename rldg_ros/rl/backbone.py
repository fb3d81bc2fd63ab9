"""A generalist as the frozen backbone of an RL policy: the policy sees the generalist's embedding of each frame (wrist
image + instruction + robot state) through a small learned head, and only the head, the actor and the critics learn.

Two uses: a pixel specialist whose vision is a pretrained base's (issue #20: "the pretrained base's vision encoder"),
and iRe-VLA's stage 1 (issue #21: online RL with the large backbone frozen, a light head learning). The embedding of
a frame is computed once, when it arrives: the learner keeps it in the replay (``embed_cache``), the actor computes it
to act.

``octo:PATH``: an octo-style checkpoint (a shipped base or a fine-tuned generalist); the embedding is its last
readout token (plus the normalised state it skips past the transformer), of the current frame alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class OctoBackbone:
    def __init__(self, checkpoint: str | Path, instruction: str) -> None:
        import jax

        from rldg_ros.vla import octo_style as octo
        from rldg_ros.vla.train_octo import OctoPolicy

        self.spec = f"octo:{checkpoint}"
        policy = OctoPolicy(checkpoint)  # the checkpoint read as the policy reads it (state norm, unknown words)
        self.model, self.cfg, self.state_norm = policy.model, policy.cfg, policy.state_norm
        c = self.cfg
        self.instruction = instruction
        self.text = octo.text_ids(c, instruction, drop_unknown=policy.drop_unknown)
        self._octo = octo
        module = self.model.module
        self._embed = jax.jit(lambda params, batch: module.apply({"params": params}, batch, method="embed"))
        self.dim = int(self._embed(self.model.params, self._batch(np.zeros((1, c.image_size, c.image_size, 3),
                                                                           np.uint8), np.zeros((1, 20)))).shape[-1])

    def _batch(self, images: np.ndarray, states: np.ndarray) -> dict:
        from rldg_ros.vla.data import resize

        c, n = self.cfg, len(images)
        frames = np.zeros((n, c.window, c.image_size, c.image_size, 3), np.uint8)
        frames[:, -1] = resize(np.asarray(images, np.uint8), c.image_size)
        pad = np.zeros((n, c.window), bool)
        pad[:, -1] = True  # the current frame alone: an embedding per frame, cacheable
        batch = {"image": frames, "text": np.repeat(self.text[None], n, 0), "timestep_pad": pad}
        if self.state_norm is not None:
            prop = np.zeros((n, c.window, c.proprio_dim), np.float32)
            prop[:, -1] = np.clip(self.state_norm.normalize(np.asarray(states, np.float64)), -5, 5)
            batch["proprio"] = prop
        return self._octo.add_text_embedding(c, batch)

    def encode(self, images: np.ndarray, states: np.ndarray, rng: np.random.Generator | None = None,
               crops: int = 0, pad: int = 4) -> np.ndarray:
        """(N, S, S, 3) uint8 frames + (N, 20) raw robot states -> (N, dim) embeddings; ``crops`` = K > 0 -> (N, K,
        dim) of K random shifts of each frame (``pad`` pixels: the replay's augmentation), float16."""
        if crops == 0:
            return np.asarray(self._embed(self.model.params, self._batch(images, states)), np.float32)
        from rldg_ros.vla.data import random_shift

        rng = rng or np.random.default_rng(0)
        frames = np.asarray(images)[:, None]  # (N, 1, S, S, 3): one-frame windows for random_shift
        out = [np.asarray(self._embed(self.model.params, self._batch(random_shift(frames, pad, rng)[:, 0], states)),
                          np.float16) for _ in range(crops)]
        return np.stack(out, 1)


def backbone_path(spec: str) -> Path:
    """``octo:PATH`` -> PATH; ValueError for another form, FileNotFoundError for a missing checkpoint."""
    kind, _, path = spec.partition(":")
    if kind != "octo" or not path:
        raise ValueError(f"backbone {spec!r}: use octo:PATH (an octo-style checkpoint directory)")
    if not Path(path).exists():
        raise FileNotFoundError(f"backbone checkpoint {path} does not exist")
    return Path(path)


def load_backbone(spec: str, instruction: str) -> OctoBackbone:
    return OctoBackbone(backbone_path(spec), instruction)
