"""Generalists on CPU: training steps/s, inference latency (median, p99) and parameter counts of octo-style-tiny
and openvla-style-tiny (default sizes), and the LoRA r=32 trainable fraction on OpenVLA-7B shapes (built on the
meta device: no memory, no weights)."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np


def _lat(fn, n: int = 30) -> dict:
    fn()  # warm-up / compile
    ts = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        ts.append((time.perf_counter() - t) * 1e3)
    return {"median_ms": float(np.median(ts)), "p99_ms": float(np.percentile(ts, 99)), "n": n}


def _dataset(d: Path) -> str:
    from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
    from rldg_ros.data.synthetic import write_episodes

    write_episodes(d / "bag", episodes=10, steps=50, texture=True)
    return Converter(TopicMap(), ConvertOptions(progress=False, val_fraction=0.1)).run([d / "bag"], d / "ds",
                                                                                     "bench").dataset


def octo(ds: str, d: Path) -> dict:
    from rldg_ros.vla.train_octo import OctoPolicy, TrainConfig, train

    steps = 60
    s = train([ds], d / "octo", TrainConfig(max_steps=steps, batch_size=32, log_every=20, eval_every=10**6,
                                             checkpoint_every=10**6), progress=False)
    tr = [h for h in s["history"] if "steps_per_s" in h]
    pol = OctoPolicy(d / "octo")
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3)).astype(np.uint8)
    return {"parameters": s["parameters"], "train_batch": 32,
            "train_steps_per_s_incl_compile": tr[-1]["steps_per_s"],
            "train_steps_per_s": (steps - 20) / max(s["seconds"] - 20 / tr[0]["steps_per_s"], 1e-9),
            "inference": _lat(lambda: pol.act({"image": img}, "insert the plug 0")), "chunk": 4}


def openvla(ds: str, d: Path) -> dict:
    from rldg_ros.vla import openvla_style as ov
    from rldg_ros.vla.train_openvla import TrainConfig, train

    s = train([ds], d / "ov", TrainConfig(max_steps=40, batch_size=8, log_every=10, eval_every=10**6,
                                           checkpoint_every=10**6), progress=False, purpose="pretrain")
    tr = [h for h in s["history"] if "steps_per_s" in h]
    vla = ov.load(d / "ov")
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3)).astype(np.uint8)
    return {"parameters": s["parameters"], "train_batch": 8, "train_steps_per_s": tr[-1]["steps_per_s"],
            "inference": _lat(lambda: vla.act({"image": img}, "insert the plug 0")), "tokens_per_action": 7}


def lora_7b() -> dict:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlavaConfig, LlavaForConditionalGeneration, SiglipVisionConfig

    vc = SiglipVisionConfig(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                            image_size=224, patch_size=14)
    tc = LlamaConfig(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                     num_key_value_heads=32, vocab_size=32064)
    with torch.device("meta"):
        model = LlavaForConditionalGeneration(LlavaConfig(vision_config=vc, text_config=tc))
    total = sum(p.numel() for p in model.parameters())
    model = get_peft_model(model, LoraConfig(r=32, lora_alpha=16, lora_dropout=0.0, target_modules="all-linear"))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"shapes": "Llama-2-7B text + SigLIP-so400m vision (Llava wiring)", "parameters": total,
            "lora_r32_trainable": trainable, "trainable_fraction": trainable / total}


def measure() -> dict:
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        ds = _dataset(d)
        return {"results": {"octo_style_tiny": octo(ds, d), "openvla_style_tiny": openvla(ds, d),
                            "lora_7b_shapes": lora_7b()}}
