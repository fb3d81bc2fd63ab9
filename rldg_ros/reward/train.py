"""Train the success classifier on a frames dataset (``rldg reward train``).

* Validation split by episode (frames of one episode never sit on both sides), stratified so both sides have
  positives.
* Class balancing: every batch is half positives, half negatives (success frames are the rare class).
* Augmentation (HIL-SERL): random shift (edge-pad 4 px, random crop back) and brightness/contrast jitter.
* AdamW with a cosine learning-rate decay; the parameters with the lowest validation loss are kept.
* Threshold calibration: the highest validation recall at ``target_precision``; of the thresholds that give it,
  the middle of the gap between the classes (margin on both sides). If no threshold gets there, the most precise
  one is taken and a warning says so.
* Logs: ``metrics.jsonl`` and TensorBoard events (``tb/``) in the output directory, a progress bar, and PNG plots
  (``training.png``: losses and accuracy; ``calibration.png``: precision/recall against the threshold).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.config import param
from rldg_ros.reward.data import Frames, read_frames
from rldg_ros.reward.model import ArchConfig, CheckpointInfo, init_params, load_checkpoint, save_checkpoint


@dataclass
class TrainConfig:
    steps: int = param(1500, min=1, max=1_000_000, help="gradient steps")
    batch_size: int = param(32, min=2, max=1024, help="frames per step (half positive, half negative)")
    lr: float = param(3e-4, min=1e-6, max=1e-1, help="AdamW learning rate")
    weight_decay: float = param(1e-4, min=0.0, max=1.0, help="AdamW weight decay")
    val_fraction: float = param(0.2, min=0.05, max=0.5, help="share of episodes held out for validation")
    eval_every: int = param(100, min=1, max=100_000, help="validate every this many steps")
    pad: int = param(4, min=0, max=32, help="random-shift augmentation: pixels of edge padding")
    jitter: float = param(0.1, min=0.0, max=0.5, help="brightness/contrast jitter amplitude")
    target_precision: float = param(0.99, min=0.5, max=1.0, help="calibrate the threshold to this precision")
    seed: int = param(0, min=0, max=2**31 - 1, help="initialisation, split and sampling seed")


def split_by_episode(frames: Frames, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, val): whole episodes, stratified by whether the episode has any positive."""
    rng = np.random.default_rng(seed)
    val_eps = []
    episodes = np.unique(frames.episode)
    has_pos = np.array([frames.labels[frames.episode == e].any() for e in episodes])
    for group in (episodes[has_pos], episodes[~has_pos]):
        if len(group) < 2:
            continue
        n_val = max(1, int(round(val_fraction * len(group))))
        val_eps.extend(rng.permutation(group)[:n_val].tolist())
    val = np.isin(frames.episode, val_eps)
    return ~val, val


def pr_at(probs: np.ndarray, labels: np.ndarray, threshold: float) -> tuple[float, float]:
    pred = probs >= threshold
    tp = int(np.sum(pred & (labels == 1)))
    fp = int(np.sum(pred & (labels == 0)))
    fn = int(np.sum(~pred & (labels == 1)))
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    return precision, recall


def calibrate(probs: np.ndarray, labels: np.ndarray, target_precision: float) -> tuple[float, bool]:
    """-> (threshold, reached). Candidates are the positives' probabilities (each one a recall step)."""
    cands = np.unique(np.concatenate([probs[labels == 1], [0.5]]))
    best, best_key = 0.5, (-1.0, -1.0)
    for t in cands:  # ascending: the first threshold reaching the precision has the highest recall
        p, r = pr_at(probs, labels, float(t))
        if p >= target_precision and r > 0:
            # every threshold in (highest negative below t, t] predicts the same: take the middle of that gap
            below = probs[(labels == 0) & (probs < t)]
            lo = float(below.max()) if len(below) else 0.0
            return 0.5 * (lo + float(t)), True
        if (p, r) > best_key:
            best, best_key = float(t), (p, r)
    return best, False


def _augment_fn(pad: int, jitter: float):
    import jax
    import jax.numpy as jnp

    def one(img, key):
        k1, k2, k3 = jax.random.split(key, 3)
        x = img.astype(jnp.float32)
        if pad:
            h, w = img.shape[:2]
            x = jnp.pad(x, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
            dy, dx = jax.random.randint(k1, (2,), 0, 2 * pad + 1)
            x = jax.lax.dynamic_slice(x, (dy, dx, 0), (h, w, 3))
        if jitter:
            b = jax.random.uniform(k2, (), minval=-jitter, maxval=jitter) * 255.0
            c = 1.0 + jax.random.uniform(k3, (), minval=-jitter, maxval=jitter)
            x = (x - x.mean()) * c + x.mean() + b
        return jnp.clip(x, 0.0, 255.0)

    return lambda imgs, key: jax.vmap(one)(imgs, jax.random.split(key, imgs.shape[0]))


def train(data_dir: str | Path, out_dir: str | Path, cfg: TrainConfig | None = None, *,
          arch: ArchConfig | None = None, encoder: str | Path | None = None, progress: bool = True,
          log=print) -> dict:
    """Train, calibrate, checkpoint to ``out_dir``; returns the summary written into ``classifier.json``."""
    import jax
    import jax.numpy as jnp
    import optax
    from tensorboardX import SummaryWriter
    from tqdm import tqdm

    cfg = cfg or TrainConfig()
    frames, meta = read_frames(data_dir)
    arch = arch or ArchConfig(image_size=int(meta["image_shape"][0]))
    if tuple(meta["image_shape"]) != (arch.image_size, arch.image_size, 3):
        raise ValueError(f"{data_dir}: images are {meta['image_shape']}, the model takes "
                         f"[{arch.image_size}, {arch.image_size}, 3]")
    train_mask, val_mask = split_by_episode(frames, cfg.val_fraction, cfg.seed)
    tr, va = frames.take(train_mask), frames.take(val_mask)
    tr_pos, tr_neg = np.flatnonzero(tr.labels == 1), np.flatnonzero(tr.labels == 0)
    if len(tr_pos) == 0 or len(tr_neg) == 0:
        raise ValueError(f"{data_dir}: training needs positives and negatives, the training split has "
                         f"{len(tr_pos)} positives and {len(tr_neg)} negatives")
    if va.counts["positive"] == 0:
        raise ValueError(f"{data_dir}: no positives left for validation: collect more successful episodes")
    log(f"reward train: {len(tr)} train frames ({len(tr_pos)} positive), {len(va)} validation frames "
        f"({va.counts['positive']} positive), {len(np.unique(frames.episode))} episodes")

    module, params = init_params(arch, cfg.seed, freeze_encoder=encoder is not None)
    frozen = ""
    lr = optax.cosine_decay_schedule(cfg.lr, cfg.steps, alpha=0.05)
    if encoder is not None:
        enc_info, enc_params = load_checkpoint(encoder)
        if enc_info.arch != arch:
            raise ValueError(f"{encoder}: its architecture {enc_info.arch} differs from this model's {arch}")
        params = {**params, "encoder": enc_params["encoder"]}
        frozen = str(encoder)
        labels = {k: ("frozen" if k == "encoder" else "train") for k in params}
        tx = optax.multi_transform({"train": optax.adamw(lr, weight_decay=cfg.weight_decay),
                                    "frozen": optax.set_to_zero()}, labels)
    else:
        tx = optax.adamw(lr, weight_decay=cfg.weight_decay)
    opt_state = tx.init(params)
    augment = _augment_fn(cfg.pad, cfg.jitter)

    @jax.jit
    def train_step(params, opt_state, images, labels, key):
        k_aug, k_drop = jax.random.split(key)

        def loss_fn(p):
            logits = module.apply({"params": p}, augment(images, k_aug), train=True, rngs={"dropout": k_drop})
            return optax.sigmoid_binary_cross_entropy(logits, labels).mean(), logits

        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        acc = jnp.mean((logits > 0) == (labels > 0.5))
        return optax.apply_updates(params, updates), opt_state, loss, acc

    forward = jax.jit(lambda p, x: module.apply({"params": p}, x, train=False))

    def val_probs(p) -> np.ndarray:
        logits = [np.asarray(forward(p, va.images[i:i + 256])) for i in range(0, len(va), 256)]
        return 1.0 / (1.0 + np.exp(-np.concatenate(logits)))

    def val_loss(probs: np.ndarray) -> float:
        y = va.labels.astype(np.float64)
        q = np.clip(probs, 1e-7, 1 - 1e-7)
        # class-balanced (as training is): mean of the positive and the negative mean losses
        return float(0.5 * -np.mean(np.log(q[y == 1])) + 0.5 * -np.mean(np.log(1 - q[y == 0])))

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    writer = SummaryWriter(str(out / "tb"))
    jsonl = (out / "metrics.jsonl").open("w")
    rng = np.random.default_rng(cfg.seed)
    key = jax.random.PRNGKey(cfg.seed)
    half = cfg.batch_size // 2
    best = (np.inf, params, 0)
    history = []
    t0 = time.monotonic()
    bar = tqdm(range(1, cfg.steps + 1), desc="reward train", unit="step", disable=not progress)
    try:
        for step in bar:
            idx = np.concatenate([rng.choice(tr_pos, half), rng.choice(tr_neg, cfg.batch_size - half)])
            key, sub = jax.random.split(key)
            params, opt_state, loss, acc = train_step(params, opt_state, tr.images[idx],
                                                      tr.labels[idx].astype(np.float32), sub)
            if step % cfg.eval_every == 0 or step == cfg.steps:
                probs = val_probs(params)
                vl = val_loss(probs)
                p05, r05 = pr_at(probs, va.labels, 0.5)
                row = {"step": step, "train_loss": float(loss), "train_acc": float(acc), "val_loss": vl,
                       "val_precision@0.5": p05, "val_recall@0.5": r05, "wall_s": time.monotonic() - t0}
                history.append(row)
                jsonl.write(json.dumps(row) + "\n")
                jsonl.flush()
                for k, v in row.items():
                    if k != "step":
                        writer.add_scalar(k.replace("@", "_at_"), v, step)
                bar.set_postfix(loss=f"{float(loss):.3f}", val=f"{vl:.3f}")
                if vl < best[0]:
                    best = (vl, params, step)
    finally:
        bar.close()
        writer.close()
        jsonl.close()

    params = best[1]
    probs = val_probs(params)
    threshold, reached = calibrate(probs, va.labels, cfg.target_precision)
    precision, recall = pr_at(probs, va.labels, threshold)
    if not reached:
        log(f"reward train: WARNING: no threshold reaches precision {cfg.target_precision} on validation; "
            f"using {threshold:.3f} (precision {precision:.3f}, recall {recall:.3f}). Collect more data.")
    summary = {"best_step": best[2], "val_loss": best[0], "threshold": threshold, "calibrated": reached,
               "val_precision": precision, "val_recall": recall, "train_frames": tr.counts, "val_frames": va.counts,
               "data": str(data_dir), "train_config": asdict(cfg), "train_seconds": time.monotonic() - t0}
    info = CheckpointInfo(arch=arch, threshold=threshold, target_precision=cfg.target_precision,
                          tasks=list(meta["tasks"]), frozen_encoder=frozen, metrics=summary)
    save_checkpoint(out, info, params)
    plot_training(history, out / "training.png")
    plot_calibration(probs, va.labels, threshold, out / "calibration.png")
    log(f"reward train: threshold {threshold:.3f}: validation precision {precision:.3f}, recall {recall:.3f} "
        f"-> {out}")
    return summary


def plot_training(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not history:
        return
    steps = [h["step"] for h in history]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.2))
    a1.plot(steps, [h["train_loss"] for h in history], label="train (augmented batch)")
    a1.plot(steps, [h["val_loss"] for h in history], label="validation (class-balanced)")
    a1.set_xlabel("step")
    a1.set_ylabel("BCE loss")
    a1.legend()
    a2.plot(steps, [h["val_precision@0.5"] for h in history], label="val precision @0.5")
    a2.plot(steps, [h["val_recall@0.5"] for h in history], label="val recall @0.5")
    a2.set_xlabel("step")
    a2.set_ylim(0, 1.02)
    a2.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_calibration(probs: np.ndarray, labels: np.ndarray, threshold: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ts = np.linspace(0.0, 1.0, 201)
    pr = np.array([pr_at(probs, labels, t) for t in ts])
    fig, ax = plt.subplots(figsize=(4.8, 3.2))
    ax.plot(ts, pr[:, 0], label="precision")
    ax.plot(ts, pr[:, 1], label="recall")
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set_xlabel("threshold on P(success)")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left")
    ax.set_title("validation")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
