"""An Octo-style generalist in JAX/flax, small enough to pretrain and fine-tune on a CPU: ``octo-style-tiny``.

It follows Octo's design (Octo Model Team, "Octo: An Open-Source Generalist Robot Policy", RSS 2024) at toy scale
and is **not** Octo and not Octo's weights:

* observation tokens: the wrist image through a conv stem, then non-overlapping patches (one token per patch), with
  a learned position embedding per patch and per history step; an observation window of ``window`` steps;
* task tokens: the language instruction through a word tokenizer learned from the training instructions
  (embeddings trained from scratch);
* one readout token per step; **block-causal** attention: task tokens see task tokens, the observation tokens of
  step t see the task and the observations of steps <= t, a readout sees the same plus itself, and nothing attends
  to a readout;
* a **diffusion action head** (DDPM, cosine schedule, ``diffusion_steps`` denoising steps) on the last readout,
  predicting a chunk of ``horizon`` normalized actions (an MLP-ResNet denoiser, as Octo's);
* full fine-tuning (every parameter trains).

Checkpoint directory: ``config.json`` (architecture + vocabulary + provenance), ``dataset_statistics.json`` (the
normalization the model was trained with), ``example_batch.msgpack`` and ``params.msgpack`` (flax serialization);
``train_state.msgpack`` with the optimizer state for resuming. A loader for real Octo checkpoints would read the same
directory layout (Octo's own uses orbax) and map its parameter tree; it is not part of this module.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

FORMAT = "rldg-octo-style"
NAME = "octo-style-tiny"
PAD, UNK = 0, 1


@dataclass
class OctoConfig:
    image_size: int = 64  # the wrist image is resized to this
    stem: tuple[int, ...] = (32, 64)  # conv stem channels (stride 2 each)
    patch: int = 4  # patch size on the stem's output grid
    width: int = 128
    depth: int = 4
    heads: int = 4
    mlp: int = 256
    dropout: float = 0.0
    window: int = 2  # observation history (steps)
    horizon: int = 4  # action chunk
    action_dim: int = 7
    max_text: int = 16
    vocab: list[str] = field(default_factory=lambda: ["<pad>", "<unk>"])
    diffusion_steps: int = 20
    diffusion_samples: int = 8  # noise draws per example in training, sharing one transformer pass (Octo's
    #                             n_diffusion_samples): more signal per step for the head at little cost
    head_hidden: int = 256
    head_blocks: int = 3
    max_action: float = 5.0  # normalized actions are clipped to +-this (Octo's convention)
    proprio_dim: int = 0  # > 0: a proprio token per step (normalized robot state; Octo's optional proprio input)
    # the state becomes this many tokens per step, through a 2-layer MLP (like openvla-style's projector): with one
    # linear token (Octo's proprio input) the model positioned by the image and failed on unseen plugs (Type-C 1/20,
    # HDMI 2/20); with 8 MLP tokens it inserts 18/20 and 20/20 (docs/generalists.md, part 5)
    proprio_tokens: int = 8
    proprio_mlp: bool = True
    # actions: "bounds_q99" (q01/q99 -> [-1, 1], clipped: OpenVLA's) or "normal" (mean/std, Octo's default); bounds
    # cloned the RL data to 20/20 where mean/std gave 7/20 (docs/generalists.md)
    action_norm: str = "bounds_q99"
    # the instruction's tokens: "learned" (word embeddings learned from the training instructions) or "wordllama"
    # (WordLlama's pretrained 256-d token embeddings, frozen, projected to the width: rldg_ros.vla.language)
    text_encoder: str = "learned"

    @classmethod
    def from_dict(cls, d: dict, saved: bool = False) -> OctoConfig:
        """From a dict; ``saved``: a checkpoint's config.json (those from before ``action_norm`` was saved used
        mean/std; those from before ``proprio_tokens`` had one linear proprio token)."""
        d = dict(d)
        d["stem"] = tuple(d.get("stem", cls.stem))
        if saved:
            d.setdefault("action_norm", "normal")
            d.setdefault("proprio_tokens", 1)
            d.setdefault("proprio_mlp", False)
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def n_patches(self) -> int:
        side = self.image_size // (2 ** len(self.stem)) // self.patch
        return side * side


# -- language ----------------------------------------------------------------------------------------------------
def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


def build_vocab(instructions: list[str], extra: list[str] = ()) -> list[str]:
    seen = sorted({w for t in [*instructions, *extra] for w in words(t)})
    return ["<pad>", "<unk>", *seen]


def tokenize(text: str, vocab: list[str], max_len: int, drop_unknown: bool = False) -> np.ndarray:
    """Word ids, padded to ``max_len``; a word outside ``vocab`` is ``<unk>``, or left out (``drop_unknown``)."""
    index = {w: i for i, w in enumerate(vocab)}
    ids = [index.get(w, UNK) for w in words(text) if not drop_unknown or w in index][:max_len]
    return np.array(ids + [PAD] * (max_len - len(ids)), np.int32)


def text_ids(cfg: OctoConfig, text: str, drop_unknown: bool = False) -> np.ndarray:
    """The instruction as the model's text ids: word ids (learned) or WordLlama token ids (0 pads either way)."""
    if cfg.text_encoder == "wordllama":
        from rldg_ros.vla.language import wordllama_text

        return wordllama_text().ids(text, cfg.max_text)
    return tokenize(text, cfg.vocab, cfg.max_text, drop_unknown)


def add_text_embedding(cfg: OctoConfig, batch: dict) -> dict:
    """With the pretrained text encoder: the batch's ``text_emb`` (B, L, 256) looked up from its ids (outside the
    jitted model: the frozen table is not a parameter)."""
    if cfg.text_encoder == "wordllama" and "text_emb" not in batch:
        from rldg_ros.vla.language import wordllama_text

        batch = {**batch, "text_emb": wordllama_text().embed(batch["text"])}
    return batch


# -- diffusion schedule -------------------------------------------------------------------------------------------
def cosine_schedule(steps: int, s: float = 0.008) -> dict[str, np.ndarray]:
    t = np.linspace(0, steps, steps + 1) / steps
    f = np.cos((t + s) / (1 + s) * np.pi / 2) ** 2
    alpha_bar = f / f[0]
    betas = np.clip(1 - alpha_bar[1:] / alpha_bar[:-1], 0, 0.999)
    alphas = 1.0 - betas
    return {"betas": betas.astype(np.float32), "alphas": alphas.astype(np.float32),
            "alpha_bar": np.cumprod(alphas).astype(np.float32)}


# -- the network -----------------------------------------------------------------------------------------------------
def build_module(cfg: OctoConfig):
    import flax.linen as nn
    import jax.numpy as jnp

    D = cfg.width

    class Block(nn.Module):
        @nn.compact
        def __call__(self, x, mask, train: bool):
            h = nn.LayerNorm()(x)
            h = nn.MultiHeadDotProductAttention(num_heads=cfg.heads, qkv_features=D, deterministic=not train,
                                                dropout_rate=cfg.dropout)(h, h, mask=mask)
            x = x + h
            h = nn.LayerNorm()(x)
            h = nn.Dense(cfg.mlp)(h)
            h = nn.gelu(h)
            h = nn.Dense(D)(h)
            return x + nn.Dropout(cfg.dropout, deterministic=not train)(h)

    class StridedConv(nn.Module):
        """nn.Conv's parameters (``kernel`` (k, k, C, F), ``bias``) and result for a k x k window at stride s
        (SAME padding; VALID when k == s), computed as k*k strided slices and one matmul (im2col), which XLA runs
        faster on CPU than its convolution at these sizes (training rate: ``make bench``, vla.json)."""
        features: int
        k: int
        s: int

        @nn.compact
        def __call__(self, x):
            n, h, w_, c = x.shape
            kernel = self.param("kernel", nn.initializers.lecun_normal(), (self.k, self.k, c, self.features))
            bias = self.param("bias", nn.initializers.zeros_init(), (self.features,))
            if self.k == self.s:  # non-overlapping patches: a reshape
                oh, ow = h // self.k, w_ // self.k
                x = x[:, :oh * self.k, :ow * self.k].reshape(n, oh, self.k, ow, self.k, c)
                cols = x.transpose(0, 1, 3, 2, 4, 5).reshape(n, oh, ow, self.k * self.k * c)
            else:
                oh, ow = -(-h // self.s), -(-w_ // self.s)
                ph, pw = max((oh - 1) * self.s + self.k - h, 0), max((ow - 1) * self.s + self.k - w_, 0)
                x = jnp.pad(x, ((0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)))
                cols = jnp.concatenate([x[:, i:i + (oh - 1) * self.s + 1:self.s, j:j + (ow - 1) * self.s + 1:self.s]
                                        for i in range(self.k) for j in range(self.k)], axis=-1)
            return cols @ kernel.reshape(-1, self.features) + bias

    class ImageTokenizer(nn.Module):
        @nn.compact
        def __call__(self, img):  # (B, W, H, W, 3) uint8 -> (B, W, P, D)
            b, w = img.shape[:2]
            x = img.reshape((b * w, *img.shape[2:])).astype(jnp.float32) / 127.5 - 1.0
            for i, c in enumerate(cfg.stem):  # named as nn.Conv's were: checkpoints load unchanged
                x = StridedConv(c, 3, 2, name=f"Conv_{i}")(x)
                x = nn.GroupNorm(num_groups=8)(x)
                x = nn.relu(x)
            x = StridedConv(D, cfg.patch, cfg.patch, name=f"Conv_{len(cfg.stem)}")(x)
            return x.reshape((b, w, -1, D))

    class Denoiser(nn.Module):
        @nn.compact
        def __call__(self, cond, noisy, k):  # cond (B, D), noisy (B, H*A), k (B,) int
            freqs = jnp.exp(-jnp.log(1000.0) * jnp.arange(16) / 16)
            temb = jnp.concatenate([jnp.sin(k[:, None] * freqs), jnp.cos(k[:, None] * freqs)], axis=-1)
            temb = nn.Dense(cfg.head_hidden)(nn.swish(nn.Dense(cfg.head_hidden)(temb)))
            x = nn.Dense(cfg.head_hidden)(jnp.concatenate([cond, noisy, temb], axis=-1))
            for _ in range(cfg.head_blocks):
                h = nn.LayerNorm()(x)
                h = nn.Dense(cfg.head_hidden * 2)(h)
                h = nn.swish(h)
                x = x + nn.Dense(cfg.head_hidden)(h)
            return nn.Dense(cfg.horizon * cfg.action_dim)(nn.swish(nn.LayerNorm()(x)))

    class OctoStyle(nn.Module):
        def setup(self):
            self.image_tok = ImageTokenizer()
            if cfg.text_encoder == "wordllama":
                self.text_proj = nn.Dense(D)
            else:
                self.text_emb = nn.Embed(len(cfg.vocab), D)
            self.text_pos = self.param("text_pos", nn.initializers.normal(0.02), (cfg.max_text, D))
            self.obs_pos = self.param("obs_pos", nn.initializers.normal(0.02), (cfg.window, cfg.n_patches, D))
            self.readout = self.param("readout", nn.initializers.normal(0.02), (cfg.window, 1, D))
            if cfg.proprio_dim:
                K = cfg.proprio_tokens
                self.proprio_tok = (nn.Sequential([nn.Dense(D * K), nn.gelu, nn.Dense(D * K)]) if cfg.proprio_mlp
                                    else nn.Dense(D * K))
                self.proprio_pos = self.param("proprio_pos", nn.initializers.normal(0.02), (cfg.window, K, D))
            self.blocks = [Block() for _ in range(cfg.depth)]
            self.norm = nn.LayerNorm()
            self.head = Denoiser()

        def embed(self, batch, train: bool = False):
            """-> the last step's readout embedding (B, D)."""
            img, text = batch["image"], batch["text"]  # (B, W, S, S, 3), (B, L)
            tpad = batch["timestep_pad"]  # (B, W) True = a real step
            b, w = img.shape[:2]
            obs = self.image_tok(img) + self.obs_pos[None]  # (B, W, P, D)
            if cfg.proprio_dim:  # the normalized state as one more token of each step
                prop = batch["proprio"]  # (B, W, S)
                ptok = self.proprio_tok(prop).reshape((b, w, cfg.proprio_tokens, D)) + self.proprio_pos[None]
                obs = jnp.concatenate([obs, ptok], axis=2)
            P = obs.shape[2]
            ro = jnp.broadcast_to(self.readout[None], (b, w, 1, D))
            steps = jnp.concatenate([obs, ro], axis=2).reshape((b, w * (P + 1), D))
            txt = (self.text_proj(batch["text_emb"]) if cfg.text_encoder == "wordllama" else self.text_emb(text))
            txt = txt + self.text_pos[None]
            x = jnp.concatenate([txt, steps], axis=1)  # (B, L + W (P + 1), D)
            L = txt.shape[1]
            # block-causal mask over token groups
            n = L + w * (P + 1)
            step_of = np.concatenate([np.full(L, -1), np.repeat(np.arange(w), P + 1)])
            is_ro = np.concatenate([np.zeros(L, bool), np.tile(np.r_[np.zeros(P, bool), True], w)])
            q_step, k_step = step_of[:, None], step_of[None, :]
            allowed = np.where(q_step < 0, k_step < 0, k_step <= q_step)  # task sees task; step t sees <= t
            allowed &= ~is_ro[None, :] | (np.arange(n)[:, None] == np.arange(n)[None, :])  # readouts: only self
            step_keys = jnp.repeat(tpad[:, :, None], P + 1, axis=2)  # (B, W, P + 1)
            if "image_keep" in batch:  # image dropout: an example without its image attends to no patch token
                is_patch = np.r_[np.ones(cfg.n_patches, bool), np.zeros(P + 1 - cfg.n_patches, bool)]
                step_keys = step_keys & (~jnp.asarray(is_patch)[None, None] | batch["image_keep"][:, None, None])
            key_ok = jnp.concatenate([text != PAD, step_keys.reshape((b, w * (P + 1)))], axis=1)  # (B, n)
            mask = jnp.asarray(allowed)[None] & key_ok[:, None, :]
            mask = mask | jnp.eye(n, dtype=bool)[None]  # a fully masked row would be NaN: let it see itself
            mask = mask[:, None]  # heads
            for blk in self.blocks:
                x = blk(x, mask, train)
            x = self.norm(x)
            last_ro = L + (w - 1) * (P + 1) + P
            if cfg.proprio_dim:  # the head also sees the current state directly (a skip past the transformer)
                return jnp.concatenate([x[:, last_ro], batch["proprio"][:, -1]], axis=-1)
            return x[:, last_ro]

        def __call__(self, batch, noisy, k, train: bool = False):
            return self.head(self.embed(batch, train), noisy, k)

        def denoise(self, cond, noisy, k):
            return self.head(cond, noisy, k)

    return OctoStyle()


@dataclass
class OctoModel:
    """Parameters + config + schedule; ``loss`` for training, ``sample`` for inference (normalized actions)."""

    cfg: OctoConfig
    params: dict
    module: object = None
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.module = self.module or build_module(self.cfg)
        self.sched = cosine_schedule(self.cfg.diffusion_steps)
        self._sample_fn = None

    @staticmethod
    def init(cfg: OctoConfig, seed: int = 0) -> OctoModel:
        import jax

        module = build_module(cfg)
        batch = example_batch(cfg, 1)
        noisy = np.zeros((1, cfg.horizon * cfg.action_dim), np.float32)
        params = module.init(jax.random.PRNGKey(seed), batch, noisy, np.zeros(1, np.int32))["params"]
        return OctoModel(cfg, params, module)

    def loss(self, params, batch, rng, train: bool = True):
        """DDPM noise-prediction MSE over the valid entries of the action chunk."""
        import jax
        import jax.numpy as jnp

        c = self.cfg
        n = max(int(c.diffusion_samples), 1)
        a = jnp.clip(batch["action"], -c.max_action, c.max_action).reshape((batch["action"].shape[0], -1))
        k_rng, n_rng, d_rng = jax.random.split(rng, 3)
        cond = self.module.apply({"params": params}, batch, train=train, rngs={"dropout": d_rng}, method="embed")
        cond, a = jnp.repeat(cond, n, axis=0), jnp.repeat(a, n, axis=0)  # n noise draws per example
        k = jax.random.randint(k_rng, (a.shape[0],), 0, c.diffusion_steps)
        eps = jax.random.normal(n_rng, a.shape)
        ab = jnp.asarray(self.sched["alpha_bar"])[k][:, None]
        noisy = jnp.sqrt(ab) * a + jnp.sqrt(1 - ab) * eps
        pred = self.module.apply({"params": params}, cond, noisy, k, method="denoise")
        m = jnp.repeat(jnp.repeat(batch["action_pad"], c.action_dim, axis=1), n, axis=0).astype(jnp.float32)
        return jnp.sum(m * (pred - eps) ** 2) / jnp.maximum(jnp.sum(m), 1.0)

    def sample(self, batch, rng, deterministic: bool = False, steps: int | None = None) -> np.ndarray:
        """Normalized action chunks (B, H, A): ancestral DDPM sampling, or (``deterministic``) DDIM with eta 0 from
        the noise's mean, the chunk the model finds most likely (as an RL policy is evaluated without noise), on
        ``steps`` evenly spaced noise levels of the training schedule (default: all of them)."""
        import jax
        import jax.numpy as jnp

        c = self.cfg
        if deterministic:
            return self._sample_ddim(batch, steps)
        if self._sample_fn is None:
            al, ab, be = (jnp.asarray(self.sched[k]) for k in ("alphas", "alpha_bar", "betas"))

            def run(params, batch, rng):
                cond = self.module.apply({"params": params}, batch, method="embed")
                b = cond.shape[0]
                rng, r0 = jax.random.split(rng)
                x = jax.random.normal(r0, (b, c.horizon * c.action_dim))

                def step(carry, k):
                    # DDPM posterior step from the predicted clean chunk x0, clipped to +-max_action (Ho et al.'s
                    # "clip denoised"): at the noisiest steps 1/sqrt(alpha_k) is ~30, and stepping with the noise
                    # prediction directly would multiply its error by that and saturate the actions
                    x, rng = carry
                    eps = self.module.apply({"params": params}, cond, x, jnp.full((b,), k), method="denoise")
                    ab_prev = jnp.where(k > 0, ab[jnp.maximum(k - 1, 0)], 1.0)
                    x0 = jnp.clip((x - jnp.sqrt(1 - ab[k]) * eps) / jnp.sqrt(ab[k]), -c.max_action, c.max_action)
                    mean = (jnp.sqrt(ab_prev) * be[k] * x0 + jnp.sqrt(al[k]) * (1 - ab_prev) * x) / (1 - ab[k])
                    var = be[k] * (1 - ab_prev) / (1 - ab[k])
                    rng, r = jax.random.split(rng)
                    noise = jnp.where(k > 0, jnp.sqrt(var), 0.0) * jax.random.normal(r, x.shape)
                    return (mean + noise, rng), None

                (x, _), _ = jax.lax.scan(step, (x, rng), jnp.arange(c.diffusion_steps - 1, -1, -1))
                return jnp.clip(x, -c.max_action, c.max_action).reshape((b, c.horizon, c.action_dim))

            self._sample_fn = jax.jit(run)
        return np.asarray(self._sample_fn(self.params, batch, rng))

    def _sample_ddim(self, batch, steps: int | None = None) -> np.ndarray:
        import jax
        import jax.numpy as jnp

        c = self.cfg
        n = int(np.clip(steps or c.diffusion_steps, 1, c.diffusion_steps))
        fns = self.__dict__.setdefault("_ddim_fns", {})
        if n not in fns:
            ab = jnp.asarray(self.sched["alpha_bar"])
            # noise levels visited, noisiest first, and the level each one steps to (-1: the clean chunk)
            ks = np.unique(np.round(np.linspace(0, c.diffusion_steps - 1, n)).astype(int))[::-1]
            prev = np.r_[ks[1:], -1]

            def run(params, batch):
                cond = self.module.apply({"params": params}, batch, method="embed")
                b = cond.shape[0]
                x = jnp.zeros((b, c.horizon * c.action_dim))

                def step(x, kk):
                    k, kp = kk[0], kk[1]
                    eps = self.module.apply({"params": params}, cond, x, jnp.full((b,), k), method="denoise")
                    x0 = jnp.clip((x - jnp.sqrt(1 - ab[k]) * eps) / jnp.sqrt(ab[k]), -c.max_action, c.max_action)
                    ab_prev = jnp.where(kp >= 0, ab[jnp.maximum(kp, 0)], 1.0)
                    eps = (x - jnp.sqrt(ab[k]) * x0) / jnp.sqrt(1 - ab[k])
                    return jnp.sqrt(ab_prev) * x0 + jnp.sqrt(1 - ab_prev) * eps, None

                x, _ = jax.lax.scan(step, x, jnp.asarray(np.stack([ks, prev], 1)))
                return jnp.clip(x, -c.max_action, c.max_action).reshape((b, c.horizon, c.action_dim))

            fns[n] = jax.jit(run)
        return np.asarray(fns[n](self.params, batch))


def example_batch(cfg: OctoConfig, b: int = 1) -> dict[str, np.ndarray]:
    s = cfg.image_size
    return {"image": np.zeros((b, cfg.window, s, s, 3), np.uint8),
            "text": np.zeros((b, cfg.max_text), np.int32),
            **({"text_emb": np.zeros((b, cfg.max_text, 256), np.float32)} if cfg.text_encoder == "wordllama" else {}),
            "timestep_pad": np.ones((b, cfg.window), bool),
            "action": np.zeros((b, cfg.horizon, cfg.action_dim), np.float32),
            "action_pad": np.ones((b, cfg.horizon), bool),
            **({"proprio": np.zeros((b, cfg.window, cfg.proprio_dim), np.float32)} if cfg.proprio_dim else {})}


# -- checkpoints -----------------------------------------------------------------------------------------------------
def check_example_batch(path: Path, cfg: OctoConfig) -> None:
    """The checkpoint's ``example_batch.msgpack`` (the inputs it was built for, as Octo keeps one) must match what
    its config builds: a config edited by hand or a file from another model is refused by name, before the params
    are read."""
    from flax import serialization

    f = path / "example_batch.msgpack"
    if not f.is_file():  # checkpoints written before it was kept
        return
    saved = serialization.msgpack_restore(f.read_bytes())
    want = example_batch(cfg, 1)
    problems = [f"{k}: missing" for k in want if k not in saved]
    problems += [f"{k}: unexpected" for k in saved if k not in want]
    problems += [f"{k}: {tuple(np.shape(saved[k]))} {np.asarray(saved[k]).dtype}, config builds "
                 f"{want[k].shape} {want[k].dtype}" for k in want
                 if k in saved and (tuple(np.shape(saved[k]))[1:] != want[k].shape[1:]
                                    or np.asarray(saved[k]).dtype != want[k].dtype)]
    if problems:
        raise ValueError(f"{f}: the example batch does not match config.json ({'; '.join(problems)})")


def save(out_dir: str | Path, model: OctoModel, stats: dict, info: dict | None = None,
         train_state: bytes | None = None) -> Path:
    from flax import serialization

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps({"format": FORMAT, "name": NAME, "model": asdict(model.cfg),
                                                 **(info or model.info)}, indent=1))
    (out / "dataset_statistics.json").write_text(json.dumps(stats, indent=1))
    (out / "example_batch.msgpack").write_bytes(serialization.msgpack_serialize(example_batch(model.cfg, 1)))
    tmp = out / "params.msgpack.tmp"
    tmp.write_bytes(serialization.to_bytes(model.params))
    tmp.replace(out / "params.msgpack")
    if train_state is not None:
        (out / "train_state.msgpack").write_bytes(train_state)
    return out


def load(path: str | Path) -> tuple[OctoModel, dict]:
    from flax import serialization

    p = Path(path)
    cfg_file = p / "config.json"
    if not cfg_file.exists():
        raise FileNotFoundError(f"{p}: not an octo-style checkpoint (no config.json)")
    meta = json.loads(cfg_file.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{cfg_file}: format {meta.get('format')!r}, expected {FORMAT!r} (a real Octo "
                         "checkpoint needs its own loader)")
    cfg = OctoConfig.from_dict(meta["model"], saved=True)
    check_example_batch(p, cfg)
    template = OctoModel.init(cfg)
    params = serialization.from_bytes(template.params, (p / "params.msgpack").read_bytes())
    stats = json.loads((p / "dataset_statistics.json").read_text())
    return OctoModel(cfg, params, template.module, info=meta), stats
