"""OpenVLA's action tokenization: each normalized action dimension in [-1, 1] falls into one of ``n_bins`` uniform
bins and becomes one of the **last** ``n_bins`` token ids of the language model's vocabulary (the least used ones),
so a VLM predicts actions as text tokens. Decoding maps a token back to its bin's centre.

Convention (as in the OpenVLA paper): ``n_bins`` bin edges span [-1, 1]; ``np.digitize`` gives an index
``d`` in 1..n_bins-1 for in-range values; the token id is ``vocab_size - d``; decoding takes centre ``d - 1`` of the
``n_bins - 1`` centres. The round trip error is at most half a bin width (1/255 for 256 bins).
"""

from __future__ import annotations

import numpy as np


class ActionTokenizer:
    def __init__(self, vocab_size: int, n_bins: int = 256, low: float = -1.0, high: float = 1.0) -> None:
        if n_bins < 2 or n_bins >= vocab_size:
            raise ValueError(f"need 2 <= n_bins < vocab_size, got n_bins={n_bins}, vocab_size={vocab_size}")
        self.vocab_size, self.n_bins = int(vocab_size), int(n_bins)
        self.low, self.high = float(low), float(high)
        self.edges = np.linspace(low, high, n_bins)
        self.centers = (self.edges[:-1] + self.edges[1:]) / 2.0

    @property
    def first_id(self) -> int:
        """The smallest token id an action can take."""
        return self.vocab_size - (self.n_bins - 1)

    def encode(self, action: np.ndarray) -> np.ndarray:
        """Normalized actions (..., D) in [-1, 1] -> token ids (..., D); NaN is refused."""
        a = np.asarray(action, np.float64)
        if not np.all(np.isfinite(a)):
            raise ValueError("action contains NaN/inf: refusing to tokenize it")
        d = np.digitize(np.clip(a, self.low, self.high), self.edges)
        d = np.clip(d, 1, self.n_bins - 1)  # the upper edge itself joins the last bin
        return (self.vocab_size - d).astype(np.int64)

    def decode(self, token_ids: np.ndarray) -> np.ndarray:
        """Token ids -> bin centres; ids outside the action range are an error naming them."""
        t = np.asarray(token_ids, np.int64)
        bad = (t < self.first_id) | (t >= self.vocab_size)
        if np.any(bad):
            raise ValueError(f"token ids {np.unique(t[bad])[:5].tolist()} are not action tokens "
                             f"({self.first_id}..{self.vocab_size - 1})")
        d = self.vocab_size - t
        return self.centers[np.clip(d - 1, 0, len(self.centers) - 1)].astype(np.float32)

    def is_action_token(self, token_ids: np.ndarray) -> np.ndarray:
        t = np.asarray(token_ids)
        return (t >= self.first_id) & (t < self.vocab_size)
