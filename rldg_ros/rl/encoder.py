"""A visual encoder for pixel RL specialists, pretrained on the broad sim corpus (``rldg rl encoder``).

HIL-SERL's specialists see the wrist camera through a frozen ImageNet-pretrained ResNet with a small learned head.
No such weights exist here, so the analogue is pretrained on the sim corpus that the generalists' bases use (no
evaluation task, no connector: ``rldg_ros.vla.pretrain_data``): the RL agent's own conv + spatial-embedding encoder
with a small head, trained to predict the demonstrator's action from the wrist image and the robot state. What the
action needs and the state lacks (where the hole, the peg, the object are relative to the gripper) is what the
image features must carry. The learner loads it (``encoder_checkpoint``), keeps it frozen and caches its
embeddings (``agent.embed_cache``).

Checkpoint folder: ``encoder.json`` (format, architecture, corpus, steps, validation metrics) and
``encoder.msgpack`` (the encoder's parameters, the tree the agent's ``params["encoder"]["encoder"]`` has).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rldg_ros.config import param
from rldg_ros.spec import ACTION_MOTION, GRIPPER_DIM

FORMAT = "rldg-visual-encoder"
#: the shipped encoder (``rldg rl encoder --export``): pretrained on the sim corpus, no evaluation task or connector
SHIPPED = Path(__file__).resolve().parents[2] / "models" / "encoders" / "rl-conv-simcorpus"


@dataclass
class EncoderConfig:
    image_size: int = param(128, min=32, max=256, help="the policy image size (ObsConfig.image_size)")
    channels: list[int] = param([16, 32, 64], help="conv channels (AgentConfig.channels)")
    embed_features: int = param(8, min=1, max=64, help="spatial embedding features (AgentConfig.embed_features)")
    hidden: int = param(256, min=16, help="head width")
    steps: int = param(3000, min=1, help="training steps")
    batch_size: int = param(64, min=2, help="minibatch")
    lr: float = param(1e-3, min=1e-6, max=1.0, help="Adam learning rate")
    crop_pad: int = param(4, min=0, max=16, help="random-shift augmentation (AgentConfig.crop_pad)")
    val_fraction: float = param(0.1, min=0.0, max=0.5, help="episodes held out for validation")
    eval_every: int = param(250, min=1, help="validate every N steps")
    seed: int = param(0, min=0, help="init, split and sampling seed")


def _modules(cfg: EncoderConfig):
    import flax.linen as nn
    import jax.numpy as jnp

    from rldg_ros.reward.model import encoder_module

    Encoder = encoder_module()

    class Model(nn.Module):
        @nn.compact
        def __call__(self, images, state):
            z = Encoder(tuple(cfg.channels), cfg.embed_features, name="encoder")(
                images.astype(jnp.float32) / 255.0 - 0.5)
            z = jnp.tanh(nn.LayerNorm(name="norm")(nn.Dense(64, name="project")(z)))
            x = jnp.concatenate([z, state], -1)
            for i in range(2):
                x = nn.relu(nn.Dense(cfg.hidden, name=f"dense{i}")(x))
            return nn.Dense(7, name="out")(x)  # 6 motion dims + the gripper logit

    return Model()


def _arrays(episodes, state_mean, state_std):
    imgs = np.concatenate([e.images for e in episodes])
    states = ((np.concatenate([e.states for e in episodes]) - state_mean) / state_std).astype(np.float32)
    acts = np.concatenate([e.actions for e in episodes]).astype(np.float32)
    return imgs, states, acts


def train_encoder(data: list[str | Path], out: str | Path, cfg: EncoderConfig, progress: bool = True) -> dict:
    """Train on RLDS directories ``data`` and write the checkpoint to ``out``; -> the metadata written."""
    import jax
    import jax.numpy as jnp
    import optax
    from flax import serialization
    from tqdm import tqdm

    from rldg_ros.vla.data import split_episodes

    t0 = time.monotonic()
    train, val = split_episodes(data, cfg.image_size, cfg.val_fraction, cfg.seed, progress)
    all_states = np.concatenate([e.states for e in train])
    mean, std = all_states.mean(0), all_states.std(0) + 1e-3
    imgs, states, acts = _arrays(train, mean, std)
    vimgs, vstates, vacts = _arrays(val, mean, std) if val else (None, None, None)
    model = _modules(cfg)
    rng = jax.random.PRNGKey(cfg.seed)
    params = model.init(rng, jnp.zeros((1, cfg.image_size, cfg.image_size, 3), jnp.uint8),
                        jnp.zeros((1, states.shape[1]), jnp.float32))["params"]
    opt = optax.adam(cfg.lr)
    opt_state = opt.init(params)

    from rldg_ros.rl.agent import _random_crop

    def loss_fn(p, im, st, a):
        out = model.apply({"params": p}, im, st)
        motion = jnp.mean((jnp.tanh(out[:, :6]) - a[:, ACTION_MOTION]) ** 2)
        grip = jnp.mean(optax.sigmoid_binary_cross_entropy(out[:, 6], (a[:, GRIPPER_DIM] > 0).astype(jnp.float32)))
        return motion + 0.1 * grip, motion

    @jax.jit
    def step(p, o, im, st, a, key):
        (loss, motion), g = jax.value_and_grad(loss_fn, has_aux=True)(p, _random_crop(key, im, cfg.crop_pad), st, a)
        upd, o = opt.update(g, o, p)
        return optax.apply_updates(p, upd), o, loss, motion

    @jax.jit
    def predict(p, im, st):
        return jnp.tanh(model.apply({"params": p}, im, st)[:, :6])

    def r2(p) -> float | None:
        if vimgs is None:
            return None
        pred = np.concatenate([np.asarray(predict(p, vimgs[i:i + 256], vstates[i:i + 256]))
                               for i in range(0, len(vimgs), 256)])
        target = vacts[:, ACTION_MOTION]
        return float(1.0 - np.sum((pred - target) ** 2) / max(np.sum((target - target.mean(0)) ** 2), 1e-9))

    nprng = np.random.default_rng(cfg.seed)
    history = [{"step": 0, "val_motion_r2": r2(params)}]
    for i in tqdm(range(1, cfg.steps + 1), desc="rl encoder", disable=not progress):
        idx = nprng.integers(0, len(imgs), cfg.batch_size)
        rng, key = jax.random.split(rng)
        params, opt_state, loss, motion = step(params, opt_state, imgs[idx], states[idx], acts[idx], key)
        if i % cfg.eval_every == 0 or i == cfg.steps:
            history.append({"step": i, "train_loss": float(loss), "train_motion_mse": float(motion),
                            "val_motion_r2": r2(params)})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "encoder.msgpack").write_bytes(serialization.to_bytes(params["encoder"]))
    meta = {"format": FORMAT, "arch": {"image_size": cfg.image_size, "channels": list(cfg.channels),
                                       "embed_features": cfg.embed_features},
            "objective": "predict the demonstrator's action (6 motion dims, gripper) from wrist image + state",
            "datasets": [str(d) for d in data], "train_transitions": int(len(imgs)),
            "val_transitions": int(0 if vimgs is None else len(vimgs)), "config": asdict(cfg),
            "history": history, "final_val_motion_r2": history[-1]["val_motion_r2"],
            "seconds": time.monotonic() - t0}
    (out / "encoder.json").write_text(json.dumps(meta, indent=1))
    return meta


def export_encoder(checkpoint: str | Path, dest: str | Path, wall_time_s: dict) -> Path:
    """Copy a trained encoder to ``dest`` with ``MANIFEST.json`` (what it is, corpus, steps, validation R^2, wall
    time, the sha256 of each file), as the generalists' bases are shipped."""
    from rldg_ros.vla.bases import export

    meta = json.loads((Path(checkpoint) / "encoder.json").read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{checkpoint}: not a visual encoder checkpoint ('rldg rl encoder')")
    return export(checkpoint, dest, {
        "name": Path(dest).name, "purpose": "frozen visual encoder of the pixel RL specialists (train_rl encoder:=)",
        "not": "not HIL-SERL's ImageNet ResNet-10: a small conv encoder of the same role, pretrained here",
        "arch": meta["arch"], "objective": meta["objective"], "steps": meta["config"]["steps"],
        "train_transitions": meta["train_transitions"], "datasets": meta["datasets"],
        "validation": {"val_motion_r2": meta["final_val_motion_r2"]}, "wall_time_s": wall_time_s})


def load_encoder(path: str | Path) -> tuple[dict, dict]:
    """A frozen encoder for the learner's ``encoder_checkpoint``: this module's checkpoint, or a reward classifier
    (``rldg reward train``), whose encoder has the same architecture -> (architecture, encoder params). A folder
    with a manifest (a shipped encoder) is checked against it first (ValueError naming an altered file)."""
    from flax import serialization

    from rldg_ros.vla.bases import verify

    p = Path(path)
    verify(p)
    if (p / "encoder.json").is_file():
        meta = json.loads((p / "encoder.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{p / 'encoder.json'}: format {meta.get('format')!r}, expected {FORMAT!r}")
        arch = meta["arch"]
        template = _modules(EncoderConfig(image_size=arch["image_size"], channels=list(arch["channels"]),
                                          embed_features=arch["embed_features"]))
        import jax
        import jax.numpy as jnp

        full = template.init(jax.random.PRNGKey(0), jnp.zeros((1, arch["image_size"], arch["image_size"], 3),
                                                              jnp.uint8), jnp.zeros((1, 1), jnp.float32))["params"]
        enc = serialization.from_bytes(full["encoder"], (p / "encoder.msgpack").read_bytes())
        return arch, enc
    if (p / "classifier.json").is_file():
        from rldg_ros.reward.model import load_checkpoint

        info, params = load_checkpoint(p)
        return {"image_size": info.arch.image_size, "channels": list(info.arch.channels),
                "embed_features": info.arch.embed_features}, params["encoder"]
    raise FileNotFoundError(f"{p}: neither a visual encoder ('rldg rl encoder': encoder.json) nor a reward "
                            "classifier ('rldg reward train': classifier.json)")
