"""Generalists on CPU: training steps/s, inference latency (median, p99) and parameter counts of octo-style-tiny
and openvla-style-tiny (default sizes); the LoRA r=32 trainable fraction on OpenVLA-7B shapes (built on the meta
device: no memory, no weights); and the vla_policy node in the run_vla graph (achieved rate, image->action p99)."""

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


def _obs(img: np.ndarray, proprio_dim: int) -> dict:
    """An observation as the node passes it: the wrist image, and the robot state when the model reads it."""
    return {"image": img, "state": np.zeros(proprio_dim)} if proprio_dim else {"image": img}


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
            "proprio_dim": pol.cfg.proprio_dim,
            "inference": _lat(lambda: pol.act(_obs(img, pol.cfg.proprio_dim), "insert the plug 0")), "chunk": 4}


def openvla(ds: str, d: Path) -> dict:
    from rldg_ros.vla import openvla_style as ov
    from rldg_ros.vla.train_openvla import TrainConfig, train

    s = train([ds], d / "ov", TrainConfig(max_steps=40, batch_size=8, log_every=10, eval_every=10**6,
                                           checkpoint_every=10**6), progress=False, purpose="pretrain")
    tr = [h for h in s["history"] if "steps_per_s" in h]
    vla = ov.load(d / "ov")
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3)).astype(np.uint8)
    return {"parameters": s["parameters"], "train_batch": 8, "train_steps_per_s": tr[-1]["steps_per_s"],
            "proprio_dim": vla.cfg.proprio_dim,
            "inference": _lat(lambda: vla.act(_obs(img, vla.cfg.proprio_dim), "insert the plug 0")),
            "tokens_per_action": 7}


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
                            "lora_7b_shapes": lora_7b(), "vla_node_run_vla": serving(d)}}


def _serve(model: str, ckpt: Path, seconds: float = 40.0) -> dict:
    """run_vla with the sim cell at 10 Hz: achieved action rate (probe) and the node's image->action latency."""
    import os
    import re
    import subprocess
    import sys

    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from rldg_msgs.msg import Action
    from rldg_ros import topics
    from rldg_ros.qos import RELIABLE_10

    env = dict(os.environ, ROS_DOMAIN_ID=os.environ.get("RLDG_BENCH_DOMAIN", "77"))
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(env["ROS_DOMAIN_ID"]))
    node = rclpy.create_node("vla_bench_probe", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    times: list[float] = []
    node.create_subscription(Action, topics.POLICY_ACTION.name, lambda _m: times.append(time.monotonic()), RELIABLE_10)
    proc = subprocess.Popen([str(Path(sys.executable).parent / "rldg"), "up", "run_vla", "--duration", str(seconds),
                             f"model:={model}", f"checkpoint:={ckpt}"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        while proc.poll() is None:
            ex.spin_once(timeout_sec=0.05)
        out = proc.communicate()[0]
    finally:
        node.destroy_node()
        rclpy.shutdown(context=ctx)
    t = np.array(times)
    t = t[t > t[0] + 5.0] if len(t) else t  # after warm-up (compilation)
    m = re.search(r"(\d+) actions sent, (\d+) stale observations, image->action median ([\d.]+) ms, p99 ([\d.]+) ms",
                  out)
    return {"achieved_hz": float((len(t) - 1) / (t[-1] - t[0])) if len(t) > 2 else 0.0,
            "actions_sent": int(m.group(1)) if m else None, "stale": int(m.group(2)) if m else None,
            "image_to_action_median_ms": float(m.group(3)) if m else None,
            "image_to_action_p99_ms": float(m.group(4)) if m else None, "goal_hz": 10.0}


def serving(d: Path) -> dict:
    """Both tiny models at their default sizes, reading the image and the robot state as the experiment trains them
    (untrained weights: latency does not depend on training)."""
    from rldg_ros.sim.env import STATE_NAMES
    from rldg_ros.vla import octo_style as octo
    from rldg_ros.vla import openvla_style as ov

    dim = len(STATE_NAMES)  # the robot state the node reads (RobotState -> state vector)

    def st(n):
        z = [0.0] * n
        return {"mean": z, "std": [0.3] * n, "q01": [-1.0] * n, "q99": [1.0] * n, "min": z, "max": z}

    stats = {"action": st(7), "proprio": st(dim)}
    cfg = octo.OctoConfig(vocab=octo.build_vocab(["insert the usb connector into the port"]), proprio_dim=dim)
    octo.save(d / "serve_octo", octo.OctoModel.init(cfg), stats, {"purpose": "bench (untrained)"})
    vcfg = ov.VLAConfig(proprio_dim=dim)
    tok = ov.build_tokenizer(["insert the usb connector into the port"], vcfg)
    model, processor = ov.build_model(vcfg, tok)
    ov.VLA(model, processor, None, vcfg).save(d / "serve_openvla", stats, {"purpose": "bench (untrained)"})
    return {"octo_style_tiny": _serve("octo", d / "serve_octo"), "openvla_style_tiny": _serve("openvla",
                                                                                            d / "serve_openvla")}
