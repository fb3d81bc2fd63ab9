"""SAC with RLPD in JAX/flax/optax: the learner's update and the actor's policy.

* Critic: an ensemble of ``num_critics`` MLPs with LayerNorm; the TD target takes the min over ``num_min_critics``
  members sampled per update (REDQ-style; 2 of 2 = clipped double Q); no entropy in the backup by default
  (HIL-SERL); ``utd`` critic updates per actor update, each on its own minibatch.
* Actor: tanh-Gaussian over the task's continuous action dims; temperature tuned to ``-|A|/2`` (HIL-SERL).
* Pixels: a small CNN (:func:`rldg_ros.reward.model.encoder_module`: strided convs, learned spatial embedding)
  trained by the critic loss; the actor reads its features through a stop-gradient (DrQ); random-crop
  augmentation (pad 4). The encoder can start from a local checkpoint (e.g. a reward classifier's) and stay frozen.
* Grasp: a discrete open/close critic (double-DQN target) with a penalty on gripper changes (HIL-SERL's grasp critic).

Parameters are plain pytrees: ``params = {encoder, actor, critic, grasp, log_alpha}``; the actor needs only
``actor_params(params)`` = ``{encoder, actor, grasp}``, which the learner serialises with flax msgpack.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rldg_ros.config import param


@dataclass
class AgentConfig:
    hidden: list[int] = param([256, 256], help="MLP widths of actor and critics")
    num_critics: int = param(2, min=2, max=20, help="critic ensemble size")
    num_min_critics: int = param(2, min=1, max=20, help="members sampled for the TD target's min")
    utd: int = param(2, min=1, max=20, help="critic updates per actor update (update-to-data ratio)")
    batch_size: int = param(256, min=2, max=4096, help="minibatch (half demo, half online once online data exists)")
    lr: float = param(3e-4, min=1e-6, max=1e-1, help="Adam learning rate (actor, critic, temperature)")
    tau: float = param(0.005, min=1e-4, max=1.0, help="target network Polyak rate")
    init_temperature: float = param(0.01, min=1e-5, max=10.0, help="initial entropy temperature")
    target_entropy_scale: float = param(0.5, min=0.0, max=2.0, help="target entropy = -scale x |A|")
    backup_entropy: bool = param(False, help="subtract the entropy term in the TD target")
    latent_dim: int = param(64, min=8, max=1024, help="pixels: image feature size after the spatial embedding")
    channels: list[int] = param([16, 32, 64], help="pixels: conv channels (stride 2 each)")
    embed_features: int = param(8, min=1, max=64, help="pixels: learned spatial embedding features per channel")
    bc_weight: float = param(-1.0, min=-1.0, max=100.0, help="actor loss + bc_weight x squared error of the actor's "
                             "mean action to the executed action on intervened/demo transitions (0: pure SAC; -1: "
                             "the task's default, see rldg_ros.rl.spaces.task_defaults)")
    crop_pad: int = param(4, min=0, max=16, help="pixels: random-crop padding (0: no augmentation)")
    embed_cache: int = param(0, min=0, max=16, help="pixels with a frozen pretrained encoder: the replay keeps K "
                             "embeddings per frame (K random crops, encoded once when the transition arrives) and "
                             "updates train the head and the networks on them, never running the conv encoder "
                             "(0: encode the images in every update)")
    grasp_penalty: float = param(-0.02, max=0.0, help="reward added to the grasp critic when the gripper changes")
    grasp_epsilon: float = param(0.1, min=0.0, max=1.0, help="exploration: random gripper decision probability")
    log_std_min: float = param(-10.0, help="actor log std lower bound")
    log_std_max: float = param(2.0, help="actor log std upper bound")


def _build(cfg: AgentConfig, action_dim: int, image_size: int | None, grasp: bool, embed_dim: int = 0):
    import flax.linen as nn
    import jax.numpy as jnp

    from rldg_ros.reward.model import encoder_module

    Encoder = encoder_module()

    class ImageFeatures(nn.Module):
        """encoder (conv + spatial embedding: frozen when pretrained) -> head (projection, LayerNorm, tanh)."""

        def setup(self):
            self.encoder = Encoder(tuple(cfg.channels), cfg.embed_features)
            self.project = nn.Dense(cfg.latent_dim)
            self.norm = nn.LayerNorm()

        def embed(self, images):
            return self.encoder(images.astype(jnp.float32) / 255.0 - 0.5)

        def head(self, z):
            return jnp.tanh(self.norm(self.project(z)))

        def __call__(self, images):
            return self.head(self.embed(images))

    class EmbeddingHead(nn.Module):
        """The learned head on a frozen backbone's embedding (a generalist's readout: rldg_ros.rl.backbone)."""

        @nn.compact
        def __call__(self, z):
            return jnp.tanh(nn.LayerNorm(name="norm")(nn.Dense(cfg.latent_dim, name="project")(z)))

    class MLP(nn.Module):
        out: int
        layer_norm: bool

        @nn.compact
        def __call__(self, x):
            for i, h in enumerate(cfg.hidden):
                x = nn.Dense(h, name=f"dense{i}")(x)
                if self.layer_norm:
                    x = nn.LayerNorm(name=f"norm{i}")(x)
                x = nn.relu(x)
            return nn.Dense(self.out, name="out", kernel_init=nn.initializers.variance_scaling(
                1e-2, "fan_in", "uniform"))(x)

    class Actor(nn.Module):
        @nn.compact
        def __call__(self, feat):
            out = MLP(2 * action_dim, layer_norm=False, name="mlp")(feat)
            mean, log_std = jnp.split(out, 2, axis=-1)
            log_std = cfg.log_std_min + 0.5 * (cfg.log_std_max - cfg.log_std_min) * (jnp.tanh(log_std) + 1)
            return mean, log_std

    class Critic(nn.Module):
        @nn.compact
        def __call__(self, feat, action):
            return MLP(1, layer_norm=True, name="mlp")(jnp.concatenate([feat, action], -1))[..., 0]

    Ensemble = nn.vmap(Critic, variable_axes={"params": 0}, split_rngs={"params": True}, in_axes=None,
                       out_axes=0, axis_size=cfg.num_critics)

    class GraspCritic(nn.Module):
        @nn.compact
        def __call__(self, feat):
            return MLP(2, layer_norm=True, name="mlp")(feat)

    return {
        "encoder": EmbeddingHead() if embed_dim else ImageFeatures() if image_size else None,
        "actor": Actor(),
        "critic": Ensemble(),
        "grasp": GraspCritic() if grasp else None,
    }


def _random_crop(rng, images, pad: int):
    import jax
    import jax.numpy as jnp

    if pad <= 0:
        return images
    n, h, w, _ = images.shape
    padded = jnp.pad(images, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="edge")
    offs = jax.random.randint(rng, (n, 2), 0, 2 * pad + 1)

    def crop(img, off):
        return jax.lax.dynamic_slice(img, (off[0], off[1], 0), (h, w, img.shape[-1]))

    return jax.vmap(crop)(padded, offs)


class SACAgent:
    """Networks, optimisers and jitted functions for one (state_dim, action_dim, image?, grasp?) problem."""

    def __init__(self, cfg: AgentConfig, state_dim: int, action_dim: int, *, image_size: int | None = None,
                 grasp: bool = False, discount: float = 0.97, embed_dim: int = 0) -> None:
        """``embed_dim`` > 0: the agent reads a frozen backbone's embedding (``obs["embedding"]``, computed outside:
        rldg_ros.rl.backbone) through a learned head, and no image."""
        import jax
        import optax

        if cfg.num_min_critics > cfg.num_critics:
            raise ValueError(f"num_min_critics ({cfg.num_min_critics}) > num_critics ({cfg.num_critics})")
        self.cfg, self.state_dim, self.action_dim = cfg, state_dim, action_dim
        self.image_size, self.grasp, self.discount = image_size, grasp, float(discount)
        self.target_entropy = -cfg.target_entropy_scale * action_dim
        if embed_dim and image_size:
            raise ValueError("an agent reads either images (image_size) or a backbone's embeddings (embed_dim)")
        self.nets = _build(cfg, action_dim, image_size, grasp, embed_dim)
        self.opt = optax.adam(cfg.lr)
        self.frozen_encoder = False
        #: the replay holds embeddings of the frozen encoder, not images (AgentConfig.embed_cache)
        self.cached = bool(image_size and cfg.embed_cache > 0) or bool(embed_dim)
        self.external = bool(embed_dim)  # the embedding comes from outside (a backbone), not the conv encoder
        self.embed_dim = embed_dim or (cfg.channels[-1] * cfg.embed_features if image_size else 0)
        self._update = jax.jit(self._update_impl)
        self._act = jax.jit(self._act_impl, static_argnames=("deterministic",))
        self._embed = jax.jit(self._embed_impl, static_argnames=("crops",))

    # -- parameters --------------------------------------------------------------------------------------------
    def features(self, params, obs, rng=None):
        import jax.numpy as jnp

        parts = [obs["state"]]
        if self.external:  # a backbone's embedding through the learned head
            parts.insert(0, self.nets["encoder"].apply({"params": params["encoder"]},
                                                       obs["embedding"].astype(jnp.float32)))
        elif self.image_size and "embedding" in obs:  # cached: augmented when it was encoded
            z = obs["embedding"].astype(jnp.float32)
            parts.insert(0, self.nets["encoder"].apply({"params": params["encoder"]}, z,
                                                       method=lambda m, z: m.head(z)))
        elif self.image_size:
            images = obs["image"]
            if rng is not None:
                images = _random_crop(rng, images, self.cfg.crop_pad)
            parts.insert(0, self.nets["encoder"].apply({"params": params["encoder"]}, images))
        return jnp.concatenate(parts, -1)

    def _embed_impl(self, encoder_params, images, rng, crops: int):
        import jax
        import jax.numpy as jnp

        def one(key):
            x = _random_crop(key, images, self.cfg.crop_pad) if key is not None else images
            return self.nets["encoder"].apply({"params": encoder_params}, x, method=lambda m, x: m.embed(x))

        if crops == 0:
            return one(None)
        return jnp.stack([one(k) for k in jax.random.split(rng, crops)], 1)

    def embed(self, params, images: np.ndarray, rng=None, crops: int = 0) -> np.ndarray:
        """The frozen encoder's embedding of a batch of images: ``crops`` = 0 -> (n, D) of the images as they are
        (what the actor acts on); K -> (n, K, D) of K random crops (the replay's augmentation, float16)."""
        import jax

        if not self.image_size:
            raise ValueError("embed: this agent has no image input")
        rng = jax.random.PRNGKey(0) if rng is None else rng
        z = np.asarray(self._embed(params["encoder"], np.asarray(images), rng, crops=int(crops)))
        return z.astype(np.float16) if crops else z

    def init(self, seed: int = 0) -> dict[str, Any]:
        """A fresh train state: params, target params, optimiser states, rng, step."""
        import jax
        import jax.numpy as jnp

        rng = jax.random.PRNGKey(seed)
        k = jax.random.split(rng, 6)
        obs = {"state": jnp.zeros((1, self.state_dim), jnp.float32)}
        params: dict[str, Any] = {"encoder": {}, "grasp": {}}
        if self.external:
            obs["embedding"] = jnp.zeros((1, self.embed_dim), jnp.float32)
            params["encoder"] = self.nets["encoder"].init(k[0], obs["embedding"])["params"]
        elif self.image_size:
            obs["image"] = jnp.zeros((1, self.image_size, self.image_size, 3), jnp.uint8)
            params["encoder"] = self.nets["encoder"].init(k[0], obs["image"])["params"]
        feat = self.features(params, obs)
        act = jnp.zeros((1, self.action_dim), jnp.float32)
        params["actor"] = self.nets["actor"].init(k[1], feat)["params"]
        params["critic"] = self.nets["critic"].init(k[2], feat, act)["params"]
        if self.grasp:
            params["grasp"] = self.nets["grasp"].init(k[3], feat)["params"]
        params["log_alpha"] = jnp.log(jnp.asarray(self.cfg.init_temperature, jnp.float32))
        target = {"encoder": params["encoder"], "critic": params["critic"], "grasp": params["grasp"]}
        opt = {name: self.opt.init(params[name]) for name in ("encoder", "actor", "critic", "grasp", "log_alpha")}
        return {"params": params, "target": target, "opt": opt, "rng": k[4], "step": jnp.zeros((), jnp.int32)}

    def set_encoder(self, state: dict, encoder_params, frozen: bool = True) -> dict:
        """Start the image encoder from pretrained weights (the conv + spatial-embedding part); ``frozen`` keeps
        it fixed (the projection and the rest still train)."""
        import jax

        if not self.image_size:
            raise ValueError("set_encoder: this agent has no image input (obs mode is not 'pixels')")
        enc = dict(state["params"]["encoder"])
        current = enc["encoder"]
        if jax.tree_util.tree_structure(current) != jax.tree_util.tree_structure(encoder_params) or any(
                a.shape != b.shape for a, b in zip(jax.tree_util.tree_leaves(current),
                                                   jax.tree_util.tree_leaves(encoder_params), strict=True)):
            raise ValueError("pretrained encoder does not match this agent's encoder (channels/embed_features/"
                             "image size must be the same)")
        enc["encoder"] = encoder_params
        state = dict(state)
        state["params"] = {**state["params"], "encoder": enc}
        state["target"] = {**state["target"], "encoder": enc}
        self.frozen_encoder = frozen
        self._update = jax.jit(self._update_impl)  # retrace with the frozen flag
        return state

    @staticmethod
    def actor_params(params) -> dict:
        return {"encoder": params["encoder"], "actor": params["actor"], "grasp": params["grasp"]}

    # -- acting ------------------------------------------------------------------------------------------------
    def _act_impl(self, aparams, obs, rng, deterministic: bool):
        import jax
        import jax.numpy as jnp

        feat = self.features(aparams, obs)
        mean, log_std = self.nets["actor"].apply({"params": aparams["actor"]}, feat)
        if deterministic:
            a = jnp.tanh(mean)
        else:
            a = jnp.tanh(mean + jnp.exp(log_std) * jax.random.normal(rng, mean.shape))
        if self.grasp:
            q = self.nets["grasp"].apply({"params": aparams["grasp"]}, feat)
            g = jnp.argmax(q, -1)
        else:
            g = jnp.ones(mean.shape[:-1], jnp.int32)
        return a, g

    def check_observation(self, obs: dict[str, np.ndarray]) -> None:
        """Refuse an observation this policy was not trained on (ValueError naming the mismatch), e.g. privileged
        goal features of another width than the checkpoint's (they gained fine-scale entries on 2026-11-22)."""
        n = np.shape(obs["state"])[-1]
        if n != self.state_dim:
            raise ValueError(f"observation has {n} state features, this policy reads {self.state_dim} (20 proprio"
                             f"{' + goal features' if self.state_dim > 20 else ''}): a checkpoint from another "
                             "observation mode or code version; retrain or use a matching checkpoint")
        if self.image_size and "image" not in obs and "embedding" not in obs:
            raise ValueError("this policy reads the wrist image (pixels mode); the observation has none")
        if self.external and np.shape(obs.get("embedding", ()))[-1:] != (self.embed_dim,):
            raise ValueError(f"this policy reads a {self.embed_dim}-D backbone embedding; the observation has "
                             f"{np.shape(obs.get('embedding', ()))}")

    def act(self, aparams, obs: dict[str, np.ndarray], rng, deterministic: bool = False):
        """One observation (unbatched numpy) -> (continuous action, gripper class). Exploration of the gripper
        (epsilon) is the caller's (the actor core's) business."""
        import jax.numpy as jnp

        self.check_observation(obs)
        batch = {k: jnp.asarray(v)[None] for k, v in obs.items()}
        a, g = self._act(aparams, batch, rng, deterministic=deterministic)
        return np.asarray(a[0]), int(g[0])

    # -- learning ----------------------------------------------------------------------------------------------
    def _sample_actions(self, params, feat, rng):
        """-> (tanh-squashed sample, its log-probability, the pre-tanh mean)"""
        import jax
        import jax.numpy as jnp

        mean, log_std = self.nets["actor"].apply({"params": params["actor"]}, feat)
        std = jnp.exp(log_std)
        u = mean + std * jax.random.normal(rng, mean.shape)
        a = jnp.tanh(u)
        logp = (-0.5 * ((u - mean) / std) ** 2 - log_std - 0.5 * jnp.log(2 * jnp.pi)).sum(-1)
        logp -= (2 * (jnp.log(2.0) - u - jax.nn.softplus(-2 * u))).sum(-1)  # tanh correction
        return a, logp, mean

    def _critic_step(self, state, batch):
        import jax
        import jax.numpy as jnp
        import optax

        params, target = state["params"], state["target"]
        rng, k_aug, k_aug2, k_pi, k_sub = jax.random.split(state["rng"], 5)
        obs = {"state": batch["state"]}
        nobs = {"state": batch["next_state"]}
        if self.cached:
            obs["embedding"], nobs["embedding"] = batch["embedding"], batch["next_embedding"]
        elif self.image_size:
            obs["image"], nobs["image"] = batch["image"], batch["next_image"]
        alpha = jnp.exp(params["log_alpha"])
        mask = 1.0 - batch["terminal"]

        # TD target: actions from the current actor at the next state, target critics, min over a sampled subset
        nfeat = self.features(params, nobs, k_aug2)
        na, nlogp, _ = self._sample_actions(params, jax.lax.stop_gradient(nfeat), k_pi)
        tfeat = self.features({"encoder": target["encoder"]}, nobs, k_aug2)
        tq = self.nets["critic"].apply({"params": target["critic"]}, tfeat, na)
        idx = jax.random.permutation(k_sub, self.cfg.num_critics)[: self.cfg.num_min_critics]
        nq = jnp.min(tq[idx], axis=0)
        if self.cfg.backup_entropy:
            nq = nq - alpha * nlogp
        y = jax.lax.stop_gradient(batch["reward"] + self.discount * mask * nq)

        def loss_fn(p):
            feat = self.features({"encoder": p["encoder"]}, obs, k_aug)
            if self.frozen_encoder and not self.cached:  # cached: the head learns, the conv encoder is not run
                feat = jax.lax.stop_gradient(feat)
            q = self.nets["critic"].apply({"params": p["critic"]}, feat, batch["action"])
            loss = jnp.mean((q - y[None]) ** 2)
            return loss, (q.mean(), feat)

        sub = {"encoder": params["encoder"], "critic": params["critic"]}
        (loss, (qmean, feat)), grads = jax.value_and_grad(loss_fn, has_aux=True)(sub)
        new = dict(params)
        info = {"critic_loss": loss, "q": qmean, "target_q": y.mean()}
        opt = dict(state["opt"])
        for name in ("critic",) if self.frozen_encoder and not self.cached else ("encoder", "critic"):
            upd, opt[name] = self.opt.update(grads[name], opt[name], params[name])
            new[name] = optax.apply_updates(params[name], upd)

        if self.grasp:  # double-DQN on the discrete gripper decision, penalised for changing the gripper
            feat_sg = jax.lax.stop_gradient(feat)
            nfeat_sg = jax.lax.stop_gradient(nfeat)
            na_g = jnp.argmax(self.nets["grasp"].apply({"params": params["grasp"]}, nfeat_sg), -1)
            tq_g = self.nets["grasp"].apply({"params": target["grasp"]}, jax.lax.stop_gradient(tfeat))
            nq_g = jnp.take_along_axis(tq_g, na_g[:, None], -1)[:, 0]
            r_g = batch["reward"] + self.cfg.grasp_penalty * batch["gripper_changed"]
            y_g = jax.lax.stop_gradient(r_g + self.discount * mask * nq_g)

            def grasp_loss(p):
                q = self.nets["grasp"].apply({"params": p}, feat_sg)
                qa = jnp.take_along_axis(q, batch["gripper"][:, None].astype(jnp.int32), -1)[:, 0]
                return jnp.mean((qa - y_g) ** 2)

            gl, gg = jax.value_and_grad(grasp_loss)(params["grasp"])
            upd, opt["grasp"] = self.opt.update(gg, opt["grasp"], params["grasp"])
            new["grasp"] = optax.apply_updates(params["grasp"], upd)
            info["grasp_loss"] = gl

        tau = self.cfg.tau
        new_target = {
            "critic": optax.incremental_update(new["critic"], target["critic"], tau),
            "encoder": optax.incremental_update(new["encoder"], target["encoder"], tau),
            "grasp": optax.incremental_update(new["grasp"], target["grasp"], tau),
        }
        return {**state, "params": new, "target": new_target, "opt": opt, "rng": rng}, info

    def _actor_step(self, state, batch):
        import jax
        import jax.numpy as jnp
        import optax

        params = state["params"]
        rng, k_aug, k_pi = jax.random.split(state["rng"], 3)
        obs = {"state": batch["state"]}
        if self.cached:
            obs["embedding"] = batch["embedding"]
        elif self.image_size:
            obs["image"] = batch["image"]
        feat = jax.lax.stop_gradient(self.features(params, obs, k_aug))
        alpha = jnp.exp(params["log_alpha"])

        def actor_loss(p):
            a, logp, mean = self._sample_actions({"actor": p}, feat, k_pi)
            q = self.nets["critic"].apply({"params": params["critic"]}, feat, a).mean(0)
            loss = jnp.mean(alpha * logp - q)
            if self.cfg.bc_weight > 0:  # pull the mean towards the operator where the operator drove (-1 = 0 here)
                w = batch["intervention"]
                err = jnp.sum((jnp.tanh(mean) - batch["action"]) ** 2, -1)
                loss = loss + self.cfg.bc_weight * jnp.sum(w * err) / jnp.maximum(w.sum(), 1.0)
            return loss, logp

        (aloss, logp), grads = jax.value_and_grad(actor_loss, has_aux=True)(params["actor"])
        opt = dict(state["opt"])
        upd, opt["actor"] = self.opt.update(grads, opt["actor"], params["actor"])
        new = dict(params)
        new["actor"] = optax.apply_updates(params["actor"], upd)
        entropy = -jax.lax.stop_gradient(logp).mean()

        def temp_loss(log_alpha):
            return jnp.exp(log_alpha) * (entropy - self.target_entropy)

        tl, tg = jax.value_and_grad(temp_loss)(params["log_alpha"])
        upd, opt["log_alpha"] = self.opt.update(tg, opt["log_alpha"], params["log_alpha"])
        new["log_alpha"] = optax.apply_updates(params["log_alpha"], upd)
        info = {"actor_loss": aloss, "entropy": entropy, "temperature": alpha, "temperature_loss": tl}
        return {**state, "params": new, "opt": opt, "rng": rng}, info

    def _update_impl(self, state, batches):
        """``batches``: pytree with a leading ``utd`` axis; critic steps over each, then one actor step."""
        import jax

        # unrolled: XLA:CPU runs convolutions inside a while loop (a rolled scan) ~10x slower than the same
        # convolutions straight-line (pixels, batch 32: 2.1 s -> 0.21 s per step; batch 256: 68 s -> 2.9 s)
        state, cinfo = jax.lax.scan(self._critic_step, state, batches, unroll=True)
        last = jax.tree_util.tree_map(lambda x: x[-1], batches)
        state, ainfo = self._actor_step(state, last)
        state = {**state, "step": state["step"] + 1}
        return state, {**{k: v.mean() for k, v in cinfo.items()}, **ainfo}

    def update(self, state, batches):
        return self._update(state, batches)


def to_bytes(tree) -> bytes:
    from flax import serialization

    return serialization.to_bytes(tree)


def from_bytes(template, data: bytes):
    from flax import serialization

    return serialization.from_bytes(template, data)
