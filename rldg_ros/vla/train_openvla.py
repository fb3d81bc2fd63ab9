"""Training ``openvla-style-tiny``: pretraining the whole tiny VLM, then LoRA fine-tuning (OpenVLA's recipe).

Deterministic seeds, progress bar, JSONL + TensorBoard metrics, validation loss (action-token cross-entropy and
token accuracy) on held-out episodes, gradient accumulation, checkpoints (model or adapter + optimizer state) with
resume, ``--max-steps`` / ``--batch-size``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.metrics import NullLog
from rldg_ros.vla import openvla_style as ov
from rldg_ros.vla.bases import verify
from rldg_ros.vla.data import merged_statistics, split_episodes, write_summary
from rldg_ros.vla.loop import distributed, loop_config, run_loop
from rldg_ros.vla.normalize import Normalizer


@dataclass
class TrainConfig:
    max_steps: int = 1000
    batch_size: int = 8
    grad_accum: int = 1
    lr: float = 0.0  # 0: 1e-3 for pretraining from scratch, 5e-4 (OpenVLA's LoRA rate) for fine-tuning
    lora_rank: int = 32
    seed: int = 0
    val_fraction: float = 0.1
    val_samples: int = 128
    eval_every: int = 250
    checkpoint_every: int = 500
    log_every: int = 25
    threads: int = 0  # torch compute threads; 0: torch's own choice (the cores, or OMP_NUM_THREADS)
    proprio: bool = True  # from scratch: the robot state as an input (fine-tuning: as the base has it)
    # from scratch: "projector" (an MLP to one input embedding, OpenVLA-OFT's) or "tokens" (binned like the actions:
    # R^2 < 0 on the quick profile's data, docs/generalists.md)
    proprio_mode: str = "projector"
    # > 0: each action token's target is spread over its neighbouring bins (a Gaussian of this many bins) instead of
    # OpenVLA's one-hot cross-entropy, so the loss knows that bin 120 is closer to 121 than to 3 (the tokens,
    # vocabulary and decoding are unchanged). 20 RL episodes, 1500 steps at batch 32: USB 1/20 one-hot, 20/20 with
    # sigma 3 (docs/generalists.md); 0: OpenVLA's one-hot loss
    label_sigma: float = 3.0


def train(data: list[str | Path], out_dir: str | Path, cfg: TrainConfig | None = None, *,
          base: str | Path | None = None, vla_cfg: ov.VLAConfig | None = None, resume: bool = True,
          progress: bool = True, purpose: str = "finetune") -> dict:
    import torch

    from rldg_ros.metrics import MetricsLog

    cfg = cfg or TrainConfig()
    rank, world = distributed()  # data parallel under torchrun: each rank a slice of every global batch
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} does not split over {world} processes")
    progress = progress and rank == 0
    torch.manual_seed(cfg.seed)
    if cfg.threads > 0:
        torch.set_num_threads(cfg.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    train_eps, val_eps = split_episodes(list(data), 128, cfg.val_fraction, cfg.seed, progress)
    stats = merged_statistics(data, train_eps)
    norm = Normalizer.from_stats(stats, "action", mode="bounds_q99", skip=ov.GRIPPER)
    state_file = out / "train_state.pt"
    resuming = resume and state_file.exists() and (out / "rldg_vla.json").exists()
    if resuming:
        vla = ov.load(out, trainable_lora=True)
        vla.norm = norm
    elif base:
        verify(base)  # a shipped base: its files match its manifest
        base = Path(base).resolve()  # the adapter names its base: absolute, so it loads from any directory
        vla = ov.load(base)
        vla.norm = norm
        ov.add_lora(vla, cfg.lora_rank)
    else:
        vcfg = vla_cfg or ov.VLAConfig()
        vcfg.proprio_dim = int(train_eps[0].states.shape[1]) if cfg.proprio else 0
        vcfg.proprio_mode = cfg.proprio_mode
        tok = ov.build_tokenizer(sorted({e.instruction for e in train_eps + val_eps}), vcfg)
        model, processor = ov.build_model(vcfg, tok, cfg.seed)
        vla = ov.VLA(model, processor, norm, vcfg)
    if vla.cfg.proprio_dim:
        if train_eps[0].states.shape[1] != vla.cfg.proprio_dim:
            raise ValueError(f"the data's state has {train_eps[0].states.shape[1]} dimensions, the model's proprio "
                             f"input {vla.cfg.proprio_dim}")
        vla.state_norm = Normalizer.from_stats(stats, "proprio", mode="bounds_q99")
    is_lora = hasattr(vla.model, "peft_config")
    base_path = str(base) if base else vla.meta.get("base")
    lr = cfg.lr or (5e-4 if is_lora else 1e-3)
    params = [p for p in vla.model.parameters() if p.requires_grad]
    if vla.projector is not None:  # the proprio projector always trains (as OpenVLA-OFT's, next to LoRA)
        params += list(vla.projector.parameters())
    if world > 1:
        import torch.distributed as dist

        for p in params:  # every rank starts from rank 0's weights
            dist.broadcast(p.data, 0)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0 if is_lora else 0.01)
    step = 0
    if resuming:
        st = torch.load(state_file, weights_only=False)
        opt.load_state_dict(st["optimizer"])
        step = int(st["step"])
    rng = np.random.default_rng(cfg.seed + step)
    index = np.array([(i, t) for i, e in enumerate(train_eps) for t in range(len(e.actions))])
    norm_actions = [norm.normalize(e.actions) for e in train_eps]
    vrng = np.random.default_rng(1234)
    vindex = np.array([(i, t) for i, e in enumerate(val_eps) for t in range(len(e.actions))]) if val_eps else None
    if vindex is not None and len(vindex) > cfg.val_samples:
        vindex = vindex[vrng.choice(len(vindex), cfg.val_samples, replace=False)]
    val_norm = [norm.normalize(e.actions) for e in val_eps]

    def batch(rows, eps, acts, r):
        return vla.training_batch([eps[i].images[t] for i, t in rows], [eps[i].instruction for i, t in rows],
                                  np.stack([acts[i][t] for i, t in rows]), r,
                                  [eps[i].states[t] for i, t in rows])

    def validate() -> dict | None:
        if vindex is None:
            return None
        vla.model.eval()
        losses, correct, total = [], 0, 0
        with torch.no_grad():
            for s in range(0, len(vindex), cfg.batch_size):
                b = batch(vindex[s:s + cfg.batch_size], val_eps, val_norm, None)  # centre crops
                res = vla.forward(b)
                losses.append(float(res.loss))
                pred = res.logits[:, :-1].argmax(-1)
                lab = b["labels"][:, 1:]
                m = lab != -100
                correct += int((pred[m] == lab[m]).sum())
                total += int(m.sum())
        vla.model.train()
        return {"loss": float(np.mean(losses)), "token_accuracy": correct / max(total, 1)}

    trainable = sum(p.numel() for p in params)
    total = sum(p.numel() for p in vla.model.parameters()) + sum(
        p.numel() for p in (vla.projector.parameters() if vla.projector is not None else ()))
    words = ov.instruction_words([e.instruction for e in train_eps])  # the words training embeds
    if base or resuming:  # what the base was trained on counts too; a base without the list keeps every word
        words = sorted(set(words) | vla.known_words) if vla.known_words is not None else None
    info = {"purpose": purpose, "base": base_path, "data": [str(d) for d in data], "train_episodes": len(train_eps),
            "instruction_words": words,
            "val_episodes": len(val_eps), "train_config": asdict(cfg), "lr": lr, "trainable_parameters": trainable,
            "parameters": total, "trainable_fraction": trainable / total}
    info["processes"] = world
    log = MetricsLog(out) if rank == 0 else NullLog()
    log.write("start", step, {k: v for k, v in info.items() if isinstance(v, (int, float))})

    def checkpoint(at: int, reason: str) -> None:
        if rank == 0:
            vla.save(out, stats, {**info, "step": at, "reason": reason})
            torch.save({"optimizer": opt.state_dict(), "step": at}, state_file)

    def one_step() -> dict:
        opt.zero_grad()
        losses = []
        for _ in range(cfg.grad_accum):
            # every rank draws the same global batch and takes its slice; each row is cropped by its own generator
            rows = index[rng.integers(0, len(index), cfg.batch_size)]
            seed = int(rng.integers(1 << 31))
            mine = slice(rank, None, world)
            rngs = [np.random.default_rng([seed, j]) for j in range(len(rows))][mine]
            b = batch(rows[mine], train_eps, norm_actions, rngs)
            res = vla.forward(b)
            loss = (action_token_loss(res.logits, b["labels"], vla.actions.first_id, cfg.label_sigma,
                                      vla.actions.vocab_size)
                    if cfg.label_sigma > 0 else res.loss) / cfg.grad_accum
            loss.backward()
            losses.append(loss.item() * cfg.grad_accum)
        mean_loss = float(np.mean(losses))
        if world > 1:  # average the gradients (each rank's loss is the mean over an equal share of the batch)
            import torch.distributed as dist

            for p in params:
                if p.grad is not None:
                    dist.all_reduce(p.grad)
                    p.grad /= world
            lt = torch.tensor([mean_loss])
            dist.all_reduce(lt)
            mean_loss = float(lt[0]) / world
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return {"loss": mean_loss}

    vla.model.train()
    step, seconds, history = run_loop(loop_config(cfg), step, one_step, validate if rank == 0 else lambda: None,
                                      checkpoint, log, f"{purpose} {ov.NAME}", progress)
    log.close()
    if world > 1:
        import torch.distributed as dist

        dist.barrier()  # rank 0 has written the final checkpoint
    summary = write_summary(out, info, step, seconds, history) if rank == 0 else {"step": step, "history": history}
    return summary


def action_token_loss(logits, labels, first_id: int, sigma: float, end_id: int | None = None):
    """Cross-entropy of the next-token logits against action-token targets spread over neighbouring action tokens
    (ids ``first_id`` .. ``end_id`` - 1, default: to the end of the logits; a Gaussian of ``sigma`` bins,
    renormalised within them); the labelled positions are those of ``labels`` (-100 elsewhere), as in the model's
    own loss."""
    import torch

    lab = labels[:, 1:]
    m = lab != -100
    logp = torch.log_softmax(logits[:, :-1][m].float(), dim=-1)
    target = lab[m]
    end = logp.shape[-1] if end_id is None else int(end_id)
    ids = torch.arange(first_id, end, device=logp.device)
    w = torch.exp(-0.5 * ((ids[None, :] - target[:, None]).float() / sigma) ** 2)
    w = w / w.sum(-1, keepdim=True)
    return -(w * logp[:, first_id:end]).sum(-1).mean()
