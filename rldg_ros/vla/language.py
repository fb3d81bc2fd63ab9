"""Instruction encoders for the generalists: the learned word embedding (default: trained on the fine-tuning
instructions only), or a real pretrained one shipped inside an installable package.

``wordllama``: WordLlama's ``l2_supercat`` token embeddings (256-d, distilled from Llama 2 70B's embedding table;
the weights and tokenizer are inside the ``wordllama`` wheel, MIT licence), loaded offline. Octo conditions on T5
token embeddings and OpenVLA on Llama 2's: this is the closest pretrained language input that installs here. An
unseen connector's name ("xlr", "type-c") then enters as a pretrained vector instead of ``<unk>``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TEXT_ENCODERS = ("learned", "wordllama")
WORDLLAMA_DIM = 256


@lru_cache(maxsize=1)
def _wordllama():
    from pathlib import Path

    try:
        import wordllama
        from wordllama import WordLlama
    except ImportError as exc:  # the vla requirement group installs it
        raise ImportError("text_encoder 'wordllama' needs the wordllama package (make setup installs it)") from exc
    # the wheel ships the weights and the tokenizer under wordllama/{weights,tokenizers}/: load them from there, never
    # from the network
    return WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)


class WordLlamaText:
    """Instruction -> WordLlama token ids (shifted by one: 0 pads) and their pretrained embeddings."""

    dim = WORDLLAMA_DIM

    def __init__(self) -> None:
        wl = _wordllama()
        self.tokenizer = wl.tokenizer
        table = np.asarray(wl.embedding, np.float32)
        self.table = np.concatenate([np.zeros((1, table.shape[1]), np.float32), table])  # row 0: padding

    def ids(self, text: str, max_len: int) -> np.ndarray:
        enc = self.tokenizer.encode(text.lower())
        ids = [i + 1 for i, tok in zip(enc.ids, enc.tokens, strict=True) if tok != "<s>"][:max_len]
        out = np.zeros(max_len, np.int32)
        out[:len(ids)] = ids
        return out

    def embed(self, ids: np.ndarray) -> np.ndarray:
        """Token ids (any shape) -> their embeddings (..., 256) float32 (zeros where padded)."""
        return self.table[np.asarray(ids)]


@lru_cache(maxsize=1)
def wordllama_text() -> WordLlamaText:
    return WordLlamaText()
