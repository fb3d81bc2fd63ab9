"""Training ``octo-style-tiny``: pretraining from scratch and full fine-tuning, from RLDS directories.

Octo's recipe scaled down: AdamW, linear warm-up then cosine decay, gradient clipping at 1, action chunks with a
diffusion loss; deterministic seeds; progress bar; JSONL + TensorBoard metrics (``train``, ``val``); a validation
loss on held-out episodes; checkpoints with the optimizer state every ``checkpoint_every`` steps and at the end, and
``resume`` continues from them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.vla import octo_style as octo
from rldg_ros.vla.bases import verify
from rldg_ros.vla.data import (
    GRIPPER,
    WindowSampler,
    contact_weights,
    image_augment,
    merged_statistics,
    split_episodes,
    write_summary,
)
from rldg_ros.vla.language import TEXT_ENCODERS
from rldg_ros.vla.loop import jax_distributed, loop_config, run_loop
from rldg_ros.vla.normalize import Normalizer


@dataclass
class TrainConfig:
    max_steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-4
    warmup: int = 100
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    seed: int = 0
    val_fraction: float = 0.1
    eval_every: int = 250
    checkpoint_every: int = 500
    log_every: int = 25
    proprio: bool = True  # from scratch: give the model the robot state as a proprio token (fine-tuning: the base's)
    augment: int = 0  # > 0: random shifts of up to this many pixels of the model's image (one shift per window)
    # image augmentation presets (data.IMAGE_AUGMENTS): "" none; "octo" Octo's fine-tuning one (random resized crop +
    # mild colour jitter: USB 14/20 -> 0/20, docs/generalists.md); "colour" strong colour jitter, no crop
    image_augment: str = ""
    # instruction words replaced by <unk> in training (the word vocabulary is learned from the data, unlike Octo's
    # pretrained T5: an unseen connector's name is <unk>). Off by default: 0.2 brought HDMI 0/20 -> 18/20 when the
    # data named three connectors but cost USB 20/20 -> 10/20 (docs/generalists.md)
    word_dropout: float = 0.0
    # each training example's image hidden from the model with this probability (its patch tokens masked out of
    # attention), so the proprio token alone must also carry the action; needs proprio
    image_dropout: float = 0.0
    # frames in contact (|force| above contact_force newtons) drawn this many times as often as the others (1: uniform).
    # A diagnosis knob (docs/generalists.md part 8): the contact frames where an insertion backs off and realigns
    # are 12-15 % of the RL data's frames and 3-7 % of the human-like data's
    contact_oversample: float = 1.0
    contact_force: float = 1.0


def _optimizer(cfg: TrainConfig):
    import optax

    sched = optax.warmup_cosine_decay_schedule(0.0, cfg.lr, max(cfg.warmup, 1), max(cfg.max_steps, cfg.warmup + 1),
                                               cfg.lr * 0.1)
    return optax.chain(optax.clip_by_global_norm(cfg.grad_clip), optax.adamw(sched, weight_decay=cfg.weight_decay))


def train(data: list[str | Path], out_dir: str | Path, cfg: TrainConfig | None = None, *,
          base: str | Path | None = None, model_cfg: octo.OctoConfig | None = None, resume: bool = True,
          progress: bool = True, purpose: str = "finetune") -> dict:
    """Train on ``data`` (RLDS dirs) into ``out_dir``; from ``base`` (a checkpoint: fine-tuning) or from scratch.

    Under ``torchrun`` (``rldg finetune --nproc N``) this is data parallel over JAX processes: every process draws
    the same global batch and feeds its own rows, the parameters are replicated and XLA averages the gradients, so
    the loss curve is the one process's at the same global batch; process 0 writes the checkpoints."""
    rank, world = jax_distributed()  # before JAX computes anything
    import jax
    import optax
    from flax import serialization

    from rldg_ros.metrics import MetricsLog, NullLog

    cfg = cfg or TrainConfig()
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} does not split over {world} processes")
    progress = progress and rank == 0
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if base:
        verify(base)  # a shipped base: its files match its manifest
        model, _ = octo.load(base)
        mcfg = model.cfg
    else:
        mcfg = model_cfg or octo.OctoConfig()
    train_eps, val_eps = split_episodes(list(data), mcfg.image_size, cfg.val_fraction, cfg.seed, progress)
    if not base:  # the vocabulary comes from the data (plus what the config already had)
        mcfg.vocab = octo.build_vocab([e.instruction for e in train_eps + val_eps], mcfg.vocab[2:])
        mcfg.proprio_dim = int(train_eps[0].states.shape[1]) if cfg.proprio else 0
        model = octo.OctoModel.init(mcfg, cfg.seed)
    if not 0.0 <= cfg.image_dropout < 1.0:
        raise ValueError(f"image_dropout {cfg.image_dropout}: a probability in [0, 1) (1 would never show an image)")
    if cfg.image_dropout and not mcfg.proprio_dim:
        raise ValueError("image_dropout needs the proprio input: without image and state the model sees nothing")
    stats = merged_statistics(data, train_eps)
    norm = Normalizer.from_stats(stats, "action", mode=mcfg.action_norm, skip=GRIPPER)
    state_norm = None
    if mcfg.proprio_dim:
        if train_eps[0].states.shape[1] != mcfg.proprio_dim:
            raise ValueError(f"the data's state has {train_eps[0].states.shape[1]} dimensions, the model's proprio "
                             f"input {mcfg.proprio_dim}")
        state_norm = Normalizer.from_stats(stats, "proprio", mode="normal")

    if mcfg.text_encoder not in TEXT_ENCODERS:
        raise ValueError(f"text_encoder {mcfg.text_encoder!r}: one of {TEXT_ENCODERS}")

    def text_fn(s):
        return octo.text_ids(mcfg, s)

    sampler = WindowSampler(train_eps, norm, mcfg.window, mcfg.horizon, text_fn, cfg.seed, state_norm,
                            augment=cfg.augment, word_dropout=cfg.word_dropout, pad_id=octo.PAD, unk_id=octo.UNK,
                            image_augment=image_augment(cfg.image_augment), image_dropout=cfg.image_dropout,
                            weights=contact_weights(train_eps, cfg.contact_oversample, cfg.contact_force))
    val_sampler = (WindowSampler(val_eps, norm, mcfg.window, mcfg.horizon, text_fn, cfg.seed, state_norm)
                   if val_eps else None)

    tx = _optimizer(cfg)
    params, opt_state, step = model.params, tx.init(model.params), 0
    state_file = out / "train_state.msgpack"
    if resume and state_file.exists():
        restored = serialization.from_bytes({"params": params, "opt_state": opt_state, "step": 0,
                                             "rng": np.zeros(2, np.uint32)}, state_file.read_bytes())
        params, opt_state, step = restored["params"], restored["opt_state"], int(restored["step"])
        sampler.rng = np.random.default_rng(cfg.seed + step)
    rng = jax.random.PRNGKey(cfg.seed + step)
    rows = lambda batch: batch  # noqa: E731 - one process: the batch as it is
    if world > 1:
        from jax.sharding import Mesh, NamedSharding, PartitionSpec

        mesh = Mesh(np.array(jax.devices()), ("data",))
        every, split = NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("data"))
        per = cfg.batch_size // world

        def rows(batch: dict) -> dict:  # this process's rows of the global batch, as one global array
            return {k: jax.make_array_from_process_local_data(split, np.asarray(v)[rank * per:(rank + 1) * per])
                    for k, v in batch.items()}

        def replicated(tree):
            def put(x):
                x = np.asarray(x)
                return jax.make_array_from_callback(x.shape, every, lambda i: x[i])

            return jax.tree_util.tree_map(put, tree)

        params, opt_state = replicated(params), replicated(opt_state)

    @jax.jit
    def update(params, opt_state, batch, rng):
        loss, grads = jax.value_and_grad(model.loss)(params, batch, rng)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss, optax.global_norm(grads)

    @jax.jit
    def eval_loss(params, batch, rng):
        return model.loss(params, batch, rng, train=False)

    def validate(params) -> float | None:
        if val_sampler is None:
            return None
        losses, r = [], jax.random.PRNGKey(1234)  # fixed noise: comparable across evaluations
        for b in val_sampler.all_batches(cfg.batch_size):
            r, k = jax.random.split(r)
            losses.append(float(eval_loss(params, octo.add_text_embedding(mcfg, b), k)))
        return float(np.mean(losses))

    info = {"purpose": purpose, "base": str(base) if base else None, "data": [str(d) for d in data],
            "train_episodes": len(train_eps), "val_episodes": len(val_eps), "train_windows": len(sampler),
            "train_config": asdict(cfg), "parameters": int(sum(x.size for x in jax.tree_util.tree_leaves(params))),
            "processes": world}
    log = MetricsLog(out) if rank == 0 else NullLog()
    log.write("start", step, {k: v for k, v in info.items() if isinstance(v, (int, float))})

    state = {"params": params, "opt_state": opt_state, "rng": rng}

    def one_step() -> dict:
        state["rng"], k = jax.random.split(state["rng"])
        batch = rows(octo.add_text_embedding(mcfg, sampler.batch(cfg.batch_size)))
        state["params"], state["opt_state"], loss, gnorm = update(state["params"], state["opt_state"], batch,
                                                                  np.asarray(k))
        return {"loss": float(loss), "grad_norm": float(gnorm)}

    def val() -> dict | None:
        v = validate(state["params"])
        return None if v is None else {"loss": v}

    def checkpoint(at: int, reason: str) -> None:
        if rank:
            return
        model.params = state["params"]
        blob = serialization.to_bytes({"params": state["params"], "opt_state": state["opt_state"], "step": at,
                                       "rng": np.zeros(2, np.uint32)})
        octo.save(out, model, stats, {**info, "step": at, "reason": reason}, train_state=blob)

    step, seconds, history = run_loop(loop_config(cfg), step, one_step, val, checkpoint, log,
                                      f"{purpose} {octo.NAME}", progress)
    log.close()
    if world > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("rldg finetune: checkpoint written")
        if rank:
            return {"step": step, "history": history}
    return write_summary(out, info, step, seconds, history)


class OctoPolicy:
    """``octo-style-tiny`` behind the common policy interface: keeps the observation window, samples a chunk,
    returns it un-normalized (``act`` -> (H, 7))."""

    def __init__(self, checkpoint: str | Path, seed: int = 0, deterministic: bool = True,
                 sample_steps: int | None = None) -> None:
        import jax

        self.deterministic = deterministic  # DDIM from the noise's mean (default) or stochastic DDPM samples
        self.sample_steps = sample_steps  # DDIM: noise levels visited (default: every training level)
        self.model, stats = octo.load(checkpoint)
        self.cfg = self.model.cfg
        self.norm = Normalizer.from_stats(stats, "action", mode=self.cfg.action_norm, skip=GRIPPER)
        self.state_norm = Normalizer.from_stats(stats, "proprio", mode="normal") if self.cfg.proprio_dim else None
        self.name = octo.NAME + (" (+proprio)" if self.cfg.proprio_dim else "")
        self.uses_state = bool(self.cfg.proprio_dim)
        # a word the model never trained on is left out of the instruction rather than read as <unk>, an embedding
        # training never touched (an unseen connector's name: docs/generalists.md). Not when training met <unk>:
        # with word dropout, or fine-tuned from a base whose vocabulary (kept) lacks some of the data's words
        trained = self.model.info.get("train_config", {})
        self.drop_unknown = not (float(trained.get("word_dropout", 0.0) or 0.0) > 0 or self.model.info.get("base"))
        self.rng = jax.random.PRNGKey(seed)
        self.history: list[np.ndarray] = []
        self.states: list[np.ndarray] = []

    def reset(self) -> None:
        self.history = []
        self.states = []

    def act(self, observation: dict[str, np.ndarray], instruction: str) -> np.ndarray:
        import jax

        from rldg_ros.vla.data import resize
        from rldg_ros.vla.policy import check_image

        img = check_image(observation)
        self.history = [*self.history, resize(img[None], self.cfg.image_size)[0]][-self.cfg.window:]
        W = self.cfg.window
        pad = np.zeros(W, bool)
        pad[W - len(self.history):] = True
        frames = np.zeros((W, self.cfg.image_size, self.cfg.image_size, 3), np.uint8)
        frames[W - len(self.history):] = np.stack(self.history)
        text = octo.text_ids(self.cfg, instruction, drop_unknown=self.drop_unknown)
        batch = {"image": frames[None], "text": text[None],
                 "timestep_pad": pad[None]}
        if self.state_norm is not None:
            state = np.asarray(observation.get("state", ()), np.float64).ravel()
            if state.shape != (self.cfg.proprio_dim,) or not np.all(np.isfinite(state)):
                raise ValueError(f"{self.name}: needs a finite {self.cfg.proprio_dim}-D robot state, got shape "
                                 f"{state.shape}")
            norm = np.clip(self.state_norm.normalize(state[None])[0], -5.0, 5.0).astype(np.float32)
            self.states = [*self.states, norm][-W:]
            prop = np.zeros((W, self.cfg.proprio_dim), np.float32)
            prop[W - len(self.states):] = np.stack(self.states)
            batch["proprio"] = prop[None]
        self.rng, k = jax.random.split(self.rng)
        batch = octo.add_text_embedding(self.cfg, batch)
        chunk = self.model.sample(batch, k, deterministic=self.deterministic, steps=self.sample_steps)[0]
        if not np.all(np.isfinite(chunk)):
            raise ValueError(f"{self.name}: the model produced NaN/inf actions")
        return np.clip(self.norm.unnormalize(chunk), -1.0, 1.0)
