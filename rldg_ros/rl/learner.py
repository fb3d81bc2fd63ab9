"""The learner core (ROS-free): buffers, SAC/RLPD updates, durable ingestion, checkpoints, metrics.

Ingestion is exactly-once per actor: transitions arrive as ``(actor_id, seq, transition)`` with per-actor
``seq`` 1, 2, 3...; only the next expected ``seq`` is taken (duplicates and gaps are dropped: the actor resends
from the acknowledged ``seq``). :meth:`Learner.flush` appends the taken transitions to a write-ahead log (fsync)
*before* they enter the buffers and before they are acknowledged, so a ``kill -9`` loses no acknowledged
transition: a restart loads the latest checkpoint and replays the log written after it.

Checkpoint directory ``run_dir/checkpoints/<name>/``: ``meta.json`` (step, acknowledged seqs, WAL file, config,
observation mode), ``train_state.msgpack`` (params, targets, optimiser states), ``online.npz``, ``demo.npz``.
``run_dir/checkpoints/latest`` names the newest complete one (written last, atomically).
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from rldg_ros.config import param
from rldg_ros.metrics import MetricsLog
from rldg_ros.rl.agent import AgentConfig, SACAgent, from_bytes, to_bytes
from rldg_ros.rl.buffer import ReplayBuffer, WriteAheadLog, field_specs
from rldg_ros.rl.spaces import LAYOUTS, ObsConfig, TaskRL, resolve_obs, task_defaults

FORMAT = "rldg-rl-learner"


@dataclass
class LearnerConfig:
    task: str = param("connector_insertion/usb", help="task id")
    run_dir: str = param("runs/rl", help="checkpoints, metrics.jsonl and TensorBoard logs")
    seed: int = param(0, min=0, help="network init and sampling seed")
    capacity: int = param(200000, min=1000, help="online replay capacity (HIL-SERL: 200k)")
    demo_capacity: int = param(200000, min=100, help="demo/intervention buffer capacity")
    demos: str = param("scripted:human_like", help="initial demos: scripted:<expert|human_like> (sim), a .npz "
                       "buffer file ('rldg rl demos'), or none")
    num_demos: int = param(20, min=0, help="successful demo episodes to seed the demo buffer with")
    steps_per_transition: float = param(1.0, min=0.0, help="learner steps allowed per online transition received "
                                         "(0: unthrottled); each step = utd critic updates + 1 actor update")
    publish_every: int = param(50, min=1, help="publish actor parameters every N learner steps")
    checkpoint_every_s: float = param(300.0, min=1.0, help="checkpoint period (s)")
    checkpoint_every_steps: int = param(1000, min=0, help="... and every this many learner steps (0: by time only): "
                                        "a restarted learner loses at most this many steps (transitions: none)")
    keep_checkpoints: int = param(2, min=1, help="checkpoints kept on disk")
    log_every: int = param(100, min=1, help="learner steps between metric lines")
    encoder_checkpoint: str = param("", help="pixels: start the encoder from this checkpoint: a visual encoder "
                                    "pretrained on the sim corpus ('rldg rl encoder') or a reward classifier")
    freeze_encoder: bool = param(True, help="keep a pretrained encoder fixed")
    backbone: str = param("", help="pixels: a generalist as the frozen backbone (octo:PATH, an octo-style "
                          "checkpoint): the policy reads its embedding of each frame through a learned head "
                          "(rldg_ros.rl.backbone); empty: the conv encoder")
    layout: str = param("", help="action layout override (empty: the task's default): " + ", ".join(LAYOUTS))
    discount: float = param(0.0, min=0.0, max=0.999, help="discount override (0: the task's default)")
    obs: ObsConfig = field(default_factory=ObsConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)


def task_rl(cfg: LearnerConfig) -> TaskRL:
    t = task_defaults(cfg.task)
    if cfg.layout:
        if cfg.layout not in LAYOUTS:
            raise ValueError(f"layout {cfg.layout!r} is not one of {sorted(LAYOUTS)}")
        t.layout = cfg.layout
    if cfg.discount:
        t.discount = cfg.discount
    return t


def privileged_dim(task_id: str) -> int:
    from rldg_ros.sim import make_env

    env = make_env(task_id, wrist_camera=False)
    try:
        env.reset(seed=0)
        return len(env.task.privileged(env))
    finally:
        env.close()


def make_backbone(spec: str, task: str):
    """The frozen generalist backbone of ``spec`` conditioned on the task's instruction (None for ``""``)."""
    if not spec:
        return None
    from rldg_ros.episodes import task_defaults
    from rldg_ros.rl.backbone import load_backbone

    return load_backbone(spec, task_defaults(task).instruction or task.replace("_", " "))


def make_agent(cfg: LearnerConfig, backbone=None) -> tuple[SACAgent, TaskRL, ObsConfig, int]:
    t = task_rl(cfg)
    obs = resolve_obs(cfg.obs, cfg.task)
    if backbone is not None and obs.mode != "pixels":
        raise ValueError("backbone: needs obs mode pixels (the backbone reads the wrist image)")
    state_dim = 20 + (privileged_dim(cfg.task) if obs.mode == "privileged" else 0)
    agent_cfg = cfg.agent if cfg.agent.bc_weight >= 0 else replace(cfg.agent, bc_weight=t.bc_weight)
    agent = SACAgent(agent_cfg, state_dim, len(LAYOUTS[t.layout]),
                     image_size=obs.image_size if obs.mode == "pixels" and backbone is None else None,
                     grasp=t.grasp, discount=t.discount, embed_dim=backbone.dim if backbone is not None else 0)
    return agent, t, obs, state_dim


class Learner:
    """The SAC/RLPD learner, ROS-free. ``defer_demos``: scripted demos (generated in the sim, ~1 min of CPU for 20)
    are not made here but by :meth:`demo_transitions` + :meth:`add_demos` later, so a node can publish its first
    parameters and take the actor's transitions meanwhile; it does not train (:meth:`ready`) until they are in."""

    def __init__(self, cfg: LearnerConfig, *, tensorboard: bool = True, progress: bool = True,
                 defer_demos: bool = False) -> None:
        self.cfg = cfg
        self.run_dir = Path(cfg.run_dir)
        self.ckpt_root = self.run_dir / "checkpoints"
        self.ckpt_root.mkdir(parents=True, exist_ok=True)
        if cfg.backbone and cfg.encoder_checkpoint:
            raise ValueError("backbone and encoder_checkpoint are two kinds of frozen vision: set one")
        self.backbone = make_backbone(cfg.backbone, cfg.task)
        self.agent, self.task, self.obs_cfg, self.state_dim = make_agent(cfg, self.backbone)
        cached = self.agent.cached
        if cached and not cfg.freeze_encoder:
            raise ValueError("agent.embed_cache needs freeze_encoder: true (cached embeddings of a trained encoder "
                             "would go stale)")
        embed = (max(self.agent.cfg.embed_cache, 1), self.agent.embed_dim) if cached else None
        specs = field_specs(self.state_dim, self.agent.action_dim, self.agent.image_size, embed)
        self.online = ReplayBuffer(cfg.capacity, specs)
        self.demo = ReplayBuffer(cfg.demo_capacity, specs)
        self.rng = np.random.default_rng(cfg.seed)
        self.state = self.agent.init(cfg.seed)
        if cfg.encoder_checkpoint:
            from rldg_ros.rl.encoder import load_encoder

            _, enc = load_encoder(cfg.encoder_checkpoint)
            self.state = self.agent.set_encoder(self.state, enc, frozen=cfg.freeze_encoder)
        elif cached and not self.agent.external:
            self.agent.frozen_encoder = True  # a random conv encoder, fixed: only the head learns on its features
        self._embed_key = 0
        self.step = 0
        self.acked: dict[str, int] = {}
        self.pending: list[tuple[str, int, dict]] = []
        self.received = 0  # online transitions taken (this run + restored)
        self.last_ckpt_time = time.monotonic()
        self.last_ckpt_step = 0
        self.ckpt_index = 0
        self.resumed_from: str | None = None
        self.metrics = MetricsLog(self.run_dir, tensorboard)
        self.train_started = time.monotonic()
        self.steps_at_log, self.time_at_log = 0, time.monotonic()
        self.demos_seeded = True
        if not self._resume():
            self.wal_name = "wal-0000.log"
            self.wal = WriteAheadLog(self.ckpt_root / self.wal_name)
            if defer_demos and self.cfg.demos.startswith("scripted:") and self.cfg.num_demos > 0:
                self.demos_seeded = False
            else:
                self._seed_demos(progress)
                self.checkpoint()  # a crash before the first periodic checkpoint still finds the demos

    # -- demos -------------------------------------------------------------------------------------------------
    def demo_transitions(self, progress: bool = False) -> tuple[list[dict], dict]:
        """The scripted demos' transitions, encoded (touches no buffer: a node runs it beside ingestion)."""
        from rldg_ros.rl.demos import scripted_demos

        transitions, info = scripted_demos(self.cfg.task, self.obs_cfg, self.task, self.cfg.demos.split(":", 1)[1],
                                           self.cfg.num_demos, seed=10_000 + self.cfg.seed, progress=progress)
        return self._encoded(transitions), info

    def add_demos(self, transitions: list[dict], info: dict) -> None:
        for t in transitions:
            self.demo.add(t)
        self.demos_seeded = True
        self.metrics.write("demos", self.step, info)

    def _seed_demos(self, progress: bool) -> None:
        src = self.cfg.demos
        if src == "none" or self.cfg.num_demos == 0:
            return
        if src.startswith("scripted:"):
            self.add_demos(*self.demo_transitions(progress))
        else:
            path = Path(src)
            if not path.is_file():
                raise FileNotFoundError(f"demos: {src!r} is neither 'scripted:<style>', 'none' nor a buffer file")
            if self.agent.cached:  # a demo file holds images: encode them
                raw = ReplayBuffer(self.cfg.demo_capacity, field_specs(self.state_dim, self.agent.action_dim,
                                                                       self.agent.image_size))
                raw.load(path)
                rows = [{k: v[i] for k, v in raw.data.items()} for i in range(len(raw))]
                for t in self._encoded(rows):
                    self.demo.add(t)
            else:
                self.demo.load(path)
            self.metrics.write("demos", 0, {"file": str(path), "transitions": len(self.demo)})

    # -- ingestion ---------------------------------------------------------------------------------------------
    def receive(self, actor_id: str, seq: int, transition: dict) -> bool:
        """Take the next transition of ``actor_id`` (seq must be acked + 1 counting pending); False if dropped."""
        expected = self.acked.get(actor_id, 0) + 1 + sum(1 for a, _, _ in self.pending if a == actor_id)
        if seq != expected:
            return False
        self.pending.append((actor_id, seq, transition))
        return True

    def flush(self) -> dict[str, int]:
        """Make pending transitions durable (WAL), add them to the buffers; -> acknowledged seq per actor."""
        if self.pending:
            self.wal.append(self.pending)  # as received (images): a restart encodes them again
            for (actor_id, seq, _), t in zip(self.pending, self._encoded([t for _, _, t in self.pending]),
                                             strict=True):
                self._add(t)
                self.acked[actor_id] = seq
            self.pending = []
        return dict(self.acked)

    def _encoded(self, ts: list[dict]) -> list[dict]:
        """With an embedding cache: each transition's images replaced by K augmented encodings of each (one
        batched pass of the frozen encoder); otherwise the transitions as they are."""
        if not self.agent.cached or not ts:
            return ts
        import jax

        k = max(self.agent.cfg.embed_cache, 1)
        drop = ("image", "next_image", "raw_state", "next_raw_state")
        out = [{key: v for key, v in t.items() if key not in drop} for t in ts]
        for src, raw, dst in (("image", "raw_state", "embedding"), ("next_image", "next_raw_state", "next_embedding")):
            for i in range(0, len(ts), 256):
                chunk = np.stack([t[src] for t in ts[i:i + 256]])
                self._embed_key += 1
                if self.backbone is not None:  # the generalist reads the frame with the raw robot state
                    z = self.backbone.encode(chunk, np.stack([t[raw] for t in ts[i:i + 256]]),
                                             np.random.default_rng(self._embed_key), crops=k,
                                             pad=self.agent.cfg.crop_pad)
                else:
                    z = self.agent.embed(self.state["params"], chunk, jax.random.PRNGKey(self._embed_key), crops=k)
                for j, row in enumerate(z):
                    out[i + j][dst] = row
        return out

    def _add(self, t: dict) -> None:
        self.online.add(t)
        self.received += 1
        if t["intervention"] > 0:  # HIL-SERL: intervened steps go to both buffers
            self.demo.add(t)

    # -- training ----------------------------------------------------------------------------------------------
    def ready(self) -> bool:
        return self.demos_seeded and len(self.demo) + len(self.online) >= 2

    def allowed_steps(self) -> float:
        if self.cfg.steps_per_transition <= 0:
            return float("inf")
        return self.cfg.steps_per_transition * self.received

    def _batch(self, n: int) -> dict[str, np.ndarray]:
        if len(self.online) and len(self.demo):  # RLPD: symmetric sampling
            a, b = self.demo.sample(self.rng, n // 2), self.online.sample(self.rng, n - n // 2)
            out = {k: np.concatenate([a[k], b[k]]) for k in a}
        else:
            out = (self.demo if len(self.demo) else self.online).sample(self.rng, n)
        if self.agent.cached:  # one of the K augmented encodings of each frame
            for k in ("embedding", "next_embedding"):
                out[k] = out[k][np.arange(n), self.rng.integers(0, out[k].shape[1], n)]
        return out

    def sample(self) -> dict[str, np.ndarray]:
        """``utd`` minibatches stacked (the only part of a step that reads the buffers)."""
        bs = [self._batch(self.cfg.agent.batch_size) for _ in range(self.cfg.agent.utd)]
        return {k: np.stack([b[k] for b in bs]) for k in bs[0]}

    def train_step(self, batches: dict[str, np.ndarray] | None = None) -> dict:
        """One learner step on ``batches`` (default: :meth:`sample`). A node samples under its buffer lock and
        runs the update outside it, so ingestion and acknowledgements go on during a long (first: compiling) step."""
        if batches is None:
            batches = self.sample()
        self.state, info = self.agent.update(self.state, batches)
        self.step += 1
        if self.step % self.cfg.log_every == 0:
            now = time.monotonic()
            rate = (self.step - self.steps_at_log) / max(now - self.time_at_log, 1e-9)
            self.steps_at_log, self.time_at_log = self.step, now
            values = {k: float(v) for k, v in info.items()}
            values.update(updates_per_s=rate, critic_updates_per_s=rate * self.cfg.agent.utd,
                          online=len(self.online), demo=len(self.demo), received=self.received,
                          interventions=self.online.intervention_count())
            self.metrics.write("train", self.step, values)
            return values
        return {}

    def actor_blob(self) -> bytes:
        return to_bytes(self.agent.actor_params(self.state["params"]))

    # -- checkpoints -------------------------------------------------------------------------------------------
    def meta(self) -> dict:
        return {"format": FORMAT, "step": self.step, "received": self.received, "acked": self.acked,
                "wal": self.wal_name, "task": self.cfg.task, "obs_mode": self.obs_cfg.mode,
                "privileged_state": self.obs_cfg.mode == "privileged", "layout": self.task.layout,
                "grasp": self.task.grasp, "discount": self.task.discount, "state_dim": self.state_dim,
                "obs": asdict(self.obs_cfg), "agent": asdict(self.agent.cfg), "time": time.time(),
                "backbone": self.cfg.backbone, "embed_dim": self.agent.embed_dim if self.agent.external else 0,
                "online_size": len(self.online), "demo_size": len(self.demo), "index": self.ckpt_index,
                "demos_seeded": self.demos_seeded}

    def checkpoint(self, reason: str = "periodic") -> Path:
        """Write a complete checkpoint, switch to a fresh WAL, then point ``latest`` at it."""
        self.flush()
        self.ckpt_index += 1
        name = f"ckpt-{self.ckpt_index:06d}"
        tmp = self.ckpt_root / f".tmp-{name}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        new_wal = f"wal-{self.ckpt_index:04d}.log"
        (tmp / "train_state.msgpack").write_bytes(to_bytes(self.state))
        self.online.save(tmp / "online.npz")
        self.demo.save(tmp / "demo.npz")
        old_wal = getattr(self, "wal_name", None)
        self.wal_name = new_wal
        meta = self.meta()
        meta["reason"] = reason
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        final = self.ckpt_root / name
        os.replace(tmp, final)
        if hasattr(self, "wal"):
            self.wal.close()
        self.wal = WriteAheadLog(self.ckpt_root / new_wal)
        latest_tmp = self.ckpt_root / ".latest.tmp"
        latest_tmp.write_text(name + "\n")
        os.replace(latest_tmp, self.ckpt_root / "latest")
        if old_wal and old_wal != new_wal:
            (self.ckpt_root / old_wal).unlink(missing_ok=True)
        others = sorted(p for p in self.ckpt_root.glob("ckpt-*") if p.name != name)
        for old in others[: max(0, len(others) - (self.cfg.keep_checkpoints - 1))]:
            shutil.rmtree(old, ignore_errors=True)
        self.last_ckpt_time = time.monotonic()
        self.last_ckpt_step = self.step
        self.metrics.write("checkpoint", self.step, {"path": str(final), "online": len(self.online),
                                                     "demo": len(self.demo), "reason": reason})
        return final

    def maybe_checkpoint(self) -> Path | None:
        every = self.cfg.checkpoint_every_steps
        if time.monotonic() - self.last_ckpt_time >= self.cfg.checkpoint_every_s or (
                every > 0 and self.step - self.last_ckpt_step >= every):
            return self.checkpoint()
        return None

    def _resume(self) -> bool:
        latest = self.ckpt_root / "latest"
        if not latest.is_file():
            return False
        d = self.ckpt_root / latest.read_text().strip()
        meta = json.loads((d / "meta.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{d}: not an rldg learner checkpoint")
        mine = (self.cfg.task, self.obs_cfg.mode, self.task.layout, self.state_dim)
        theirs = (meta["task"], meta["obs_mode"], meta["layout"], meta["state_dim"])
        if mine != theirs:
            raise ValueError(f"{d}: checkpoint is for (task, obs mode, layout, state dim) = {theirs}, this learner "
                             f"is {mine}; use another run_dir")
        self.state = from_bytes(self.state, (d / "train_state.msgpack").read_bytes())
        self.online.load(d / "online.npz")
        self.demo.load(d / "demo.npz")
        self.step, self.received = int(meta["step"]), int(meta["received"])
        self.acked = {k: int(v) for k, v in meta["acked"].items()}
        self.ckpt_index = int(meta["index"])
        self.demos_seeded = bool(meta.get("demos_seeded", True))  # False: saved before its deferred demos were in
        self.wal_name = meta["wal"]
        records, torn = WriteAheadLog.read(self.ckpt_root / self.wal_name, repair=True)
        taken = []
        for actor_id, seq, t in records:
            if seq == self.acked.get(actor_id, 0) + 1:
                taken.append(t)
                self.acked[actor_id] = seq
        for t in self._encoded(taken):
            self._add(t)
        self.wal = WriteAheadLog(self.ckpt_root / self.wal_name)
        self.steps_at_log = self.step
        self.last_ckpt_step = self.step
        self.resumed_from = str(d)
        self.metrics.write("resume", self.step, {"checkpoint": str(d), "wal_records": len(records),
                                                 "wal_torn_bytes": torn, "online": len(self.online),
                                                 "demo": len(self.demo)})
        return True

    def close(self) -> None:
        self.wal.close()
        self.metrics.close()


def load_actor_checkpoint(path: str | Path) -> tuple[dict, bytes]:
    """A learner checkpoint (``run_dir``, ``run_dir/checkpoints`` or one ``ckpt-*`` directory) -> (meta, train
    state bytes) for an actor that runs the policy without a learner."""
    p = Path(path)
    for root in (p / "checkpoints", p):
        if (root / "latest").is_file():
            p = root / (root / "latest").read_text().strip()
            break
    meta_file = p / "meta.json"
    if not meta_file.is_file():
        raise FileNotFoundError(f"{path}: no learner checkpoint here (need meta.json, or a run_dir with "
                                "checkpoints/latest)")
    meta = json.loads(meta_file.read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{meta_file}: not an rldg learner checkpoint")
    return meta, (p / "train_state.msgpack").read_bytes()
