"""octo-style-tiny: block-causal masking, diffusion sampling, training, checkpoints, resume, the policy interface."""

import json

import jax
import numpy as np
import pytest

from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
from rldg_ros.data.synthetic import write_episodes
from rldg_ros.vla import octo_style as octo
from rldg_ros.vla.train_octo import OctoPolicy, TrainConfig, train

TINY = dict(image_size=32, stem=(16, 32), patch=2, width=32, depth=2, heads=2, mlp=64, head_hidden=64,
            head_blocks=2, diffusion_steps=8)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    d = tmp_path_factory.mktemp("octo")
    write_episodes(d / "bag", episodes=6, steps=12)
    rep = Converter(TopicMap(), ConvertOptions(progress=False, val_fraction=0.2)).run([d / "bag"], d / "ds", "tiny")
    return rep.dataset


def test_padding_is_masked_and_samples_have_the_chunk_shape():
    cfg = octo.OctoConfig(vocab=octo.build_vocab(["insert the plug"]), **TINY)
    m = octo.OctoModel.init(cfg)
    b = octo.example_batch(cfg, 3)
    rng = np.random.default_rng(0)
    b["image"] = rng.integers(0, 255, b["image"].shape).astype(np.uint8)
    b["text"][:] = octo.tokenize("insert the plug", cfg.vocab, cfg.max_text)
    b["timestep_pad"][:, 0] = False  # the first history step is padding
    emb = m.module.apply({"params": m.params}, b, method="embed")
    b2 = dict(b, image=b["image"].copy())
    b2["image"][:, 0] = 255 - b2["image"][:, 0]  # change only the padded step
    np.testing.assert_allclose(m.module.apply({"params": m.params}, b2, method="embed"), emb, atol=1e-5)
    b3 = dict(b, image=b["image"].copy())
    b3["image"][:, 1] = 255 - b3["image"][:, 1]  # the real step matters
    assert np.abs(m.module.apply({"params": m.params}, b3, method="embed") - emb).max() > 1e-3
    s = m.sample(b, jax.random.PRNGKey(0))
    assert s.shape == (3, cfg.horizon, 7) and np.all(np.isfinite(s)) and np.abs(s).max() <= cfg.max_action
    d1, d2 = m.sample(b, jax.random.PRNGKey(0), deterministic=True), m.sample(b, jax.random.PRNGKey(1),
                                                                            deterministic=True)
    assert d1.shape == s.shape and np.array_equal(d1, d2) and np.abs(d1).max() <= cfg.max_action  # DDIM, no noise
    assert octo.tokenize("Insert THE plug, now!", cfg.vocab, 6).tolist() == [
        cfg.vocab.index("insert"), cfg.vocab.index("the"), cfg.vocab.index("plug"), octo.UNK, 0, 0]
    assert octo.tokenize("Insert THE plug, now!", cfg.vocab, 6, drop_unknown=True).tolist() == [
        cfg.vocab.index("insert"), cfg.vocab.index("the"), cfg.vocab.index("plug"), 0, 0, 0]


def test_training_reduces_loss_checkpoints_resume_and_policy(dataset, tmp_path):
    out = tmp_path / "run"
    cfg = TrainConfig(max_steps=60, batch_size=16, lr=1e-3, warmup=5, eval_every=30, checkpoint_every=30,
                      log_every=10)
    s = train([dataset], out, cfg, model_cfg=octo.OctoConfig(**TINY), progress=False, purpose="pretrain")
    losses = [h["loss"] for h in s["history"] if "loss" in h]
    assert losses[-1] < 0.8 * losses[0], losses
    assert s["val_episodes"] >= 1 and s["final_val_loss"] is not None
    for f in ("config.json", "dataset_statistics.json", "example_batch.msgpack", "params.msgpack",
              "train_state.msgpack", "metrics.jsonl"):
        assert (out / f).exists(), f
    meta = json.loads((out / "config.json").read_text())
    assert meta["name"] == "octo-style-tiny" and meta["step"] == 60 and meta["purpose"] == "pretrain"

    # save -> load gives the same outputs
    model, _ = octo.load(out)
    b = octo.example_batch(model.cfg, 2)
    k = jax.random.PRNGKey(3)
    m2, _ = octo.load(out)
    np.testing.assert_allclose(model.sample(b, k), m2.sample(b, k), atol=1e-6)

    # resume: a longer run continues from step 60, not from 0
    s2 = train([dataset], out, TrainConfig(max_steps=70, batch_size=16, log_every=5, eval_every=100),
               progress=False, base=None, model_cfg=octo.OctoConfig(**TINY))
    starts = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in starts if r["kind"] == "start"] == [0, 60] and s2["step"] == 70

    # fine-tuning from the checkpoint: full fine-tune (every parameter changes)
    ft = tmp_path / "ft"
    train([dataset], ft, TrainConfig(max_steps=5, batch_size=8, log_every=5, eval_every=100), base=out,
          progress=False)
    before, after = octo.load(out)[0].params, octo.load(ft)[0].params
    changed = jax.tree_util.tree_map(lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))), before, after)
    assert all(jax.tree_util.tree_leaves(changed))

    # the policy interface: an un-normalized chunk in [-1, 1]; bad images are refused
    pol = OctoPolicy(ft)
    assert pol.cfg.proprio_dim == 20  # the robot state is a proprio token (TrainConfig.proprio)
    state = np.zeros(pol.cfg.proprio_dim)
    a = pol.act({"image": np.zeros((128, 128, 3), np.uint8), "state": state}, "insert the plug 0")
    assert a.shape == (4, 7) and np.all(np.abs(a) <= 1.0)
    b = pol.act({"image": np.zeros((128, 128, 3), np.uint8), "state": state + 5.0}, "insert the plug 0")
    assert not np.allclose(a, b)  # the state reaches the actions
    # a word it never trained on (an unseen connector's name) is left out, not read as an untrained <unk>; a model
    # fine-tuned from a base (whose vocabulary it keeps) met <unk> in training and keeps it
    assert not pol.drop_unknown
    scratch = OctoPolicy(out)
    assert scratch.drop_unknown
    img = {"image": np.zeros((128, 128, 3), np.uint8), "state": state}
    c = scratch.act(img, "insert the type-c plug 0")
    scratch.reset()
    assert np.allclose(c, scratch.act(img, "insert the plug 0"), atol=1e-5)
    with pytest.raises(ValueError, match="20-D robot state"):
        pol.act({"image": np.zeros((128, 128, 3), np.uint8)}, "x")
    with pytest.raises(ValueError, match="uint8"):
        pol.act({"image": np.zeros((128, 128, 3), np.float32), "state": state}, "x")
    with pytest.raises(ValueError, match="expected 'rldg-octo-style'"):
        (tmp_path / "bad").mkdir()
        (tmp_path / "bad" / "config.json").write_text(json.dumps({"format": "octo"}))
        octo.load(tmp_path / "bad")


def test_a_pretrained_instruction_encoder_shipped_in_its_wheel_conditions_octo_style(dataset, tmp_path):
    """text_encoder wordllama: WordLlama's pretrained token embeddings (from inside the wordllama wheel, offline)
    feed octo-style; an unseen connector's name is a pretrained vector, not <unk>; the model trains, saves, loads
    and acts; the instruction changes its output."""
    from rldg_ros.vla.language import wordllama_text

    wl = wordllama_text()
    ids = wl.ids("insert the xlr connector into the port", 16)
    assert ids[0] > 0 and (ids > 0).sum() >= 6 and ids[-1] == 0  # tokens, then padding
    e = wl.embed(ids)
    assert e.shape == (16, 256) and np.abs(e[0]).sum() > 0 and not e[-1].any()
    usb, xlr, bowl = (wl.embed(wl.ids(t, 16)).sum(0) for t in (
        "insert the usb connector into the port", "insert the xlr connector into the port", "put the cube in the bowl"))

    def cos(a, b):
        return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))

    assert cos(usb, xlr) > cos(usb, bowl) + 0.2  # pretrained: the two connector instructions are close

    out = tmp_path / "wl"
    cfg = TrainConfig(max_steps=30, batch_size=16, lr=1e-3, warmup=5, eval_every=30, checkpoint_every=30,
                      log_every=10)
    s = train([dataset], out, cfg, model_cfg=octo.OctoConfig(text_encoder="wordllama", **TINY), progress=False)
    losses = [h["loss"] for h in s["history"] if "loss" in h]
    assert losses[-1] < losses[0], losses
    pol = OctoPolicy(out)
    assert pol.cfg.text_encoder == "wordllama"
    img = np.random.default_rng(0).integers(0, 255, (32, 32, 3), dtype=np.uint8)
    obs = {"image": img, "state": np.zeros(pol.cfg.proprio_dim)}
    a = pol.act(obs, "insert the xlr connector into the port")
    assert a.shape == (pol.cfg.horizon, 7) and np.all(np.isfinite(a))
    b = octo.example_batch(pol.cfg, 2)
    b["text"][0], b["text"][1] = wl.ids("insert the usb connector", 16), wl.ids("put the cube in the bowl", 16)
    emb = np.asarray(pol.model.module.apply({"params": pol.model.params}, octo.add_text_embedding(pol.cfg, b),
                                            method="embed"))
    assert np.abs(emb[0] - emb[1]).max() > 1e-4  # the instruction reaches the readout


_DP_SCRIPT = """
import json, os, sys
from rldg_ros.vla import octo_style as octo
from rldg_ros.vla.train_octo import TrainConfig, train
tiny = octo.OctoConfig(**json.loads(sys.argv[4]))
s = train([sys.argv[1]], sys.argv[2], TrainConfig(max_steps=12, batch_size=8, lr=1e-3, warmup=2, log_every=1,
          eval_every=6, checkpoint_every=100), model_cfg=tiny, progress=False, purpose="pretrain")
if os.environ.get("RANK", "0") == "0":
    json.dump({"loss": [h["loss"] for h in s["history"] if "loss" in h],
               "val": [h["val_loss"] for h in s["history"] if h.get("val_loss") is not None]}, open(sys.argv[3], "w"))
"""


@pytest.mark.timeout(600)
def test_two_jax_processes_follow_the_one_process_loss_curve(dataset, tmp_path):
    """JAX multi-process data parallel (2 CPU processes under torchrun, gloo collectives), each feeding half of every
    global batch of 8: the loss curve is the one process's with the same global batch; process 0 writes the
    checkpoint, and it loads."""
    import subprocess
    import sys

    script = tmp_path / "dp.py"
    script.write_text(_DP_SCRIPT)
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    tiny = json.dumps(TINY)
    subprocess.run([sys.executable, str(script), str(dataset), str(tmp_path / "m1"), str(one), tiny], check=True,
                   timeout=300)
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(script), str(dataset), str(tmp_path / "m2"), str(two), tiny], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(a["loss"]) == len(b["loss"]) == 12 and a["loss"][-1] < a["loss"][0]  # it trains
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(b["val"], a["val"], rtol=2e-3, atol=2e-3)
    meta = json.loads((tmp_path / "m2" / "config.json").read_text())
    assert meta["processes"] == 2 and meta["step"] == 12
    m1, _ = octo.load(tmp_path / "m1")
    m2, _ = octo.load(tmp_path / "m2")
    for x, y in zip(jax.tree_util.tree_leaves(m1.params), jax.tree_util.tree_leaves(m2.params), strict=True):
        np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol=1e-2, atol=1e-3)


def test_the_strided_slice_stem_is_the_convolution_it_replaces():
    """The image tokenizer's convolutions run as strided slices + one matmul: same parameter tree and shapes as
    flax's nn.Conv (checkpoints load unchanged) and the same tokens, to float precision."""
    import flax.linen as nn
    import jax
    import jax.numpy as jnp

    from rldg_ros.vla.octo_style import OctoConfig, OctoModel

    class Conv(nn.Module):  # the tokenizer as it was, on flax's convolution
        stem: tuple
        patch: int
        width: int

        @nn.compact
        def __call__(self, img):
            b, w = img.shape[:2]
            x = img.reshape((b * w, *img.shape[2:])).astype(jnp.float32) / 127.5 - 1.0
            for c in self.stem:
                x = nn.relu(nn.GroupNorm(num_groups=8)(nn.Conv(c, (3, 3), strides=(2, 2))(x)))
            x = nn.Conv(self.width, (self.patch, self.patch), strides=(self.patch, self.patch), padding="VALID")(x)
            return x.reshape((b, w, -1, self.width))

    for cfg in (OctoConfig(), OctoConfig(image_size=48, stem=(16, 32, 32), patch=2, width=64)):
        ref = Conv(tuple(cfg.stem), cfg.patch, cfg.width)
        img = np.random.default_rng(0).integers(0, 256, (3, cfg.window, cfg.image_size, cfg.image_size, 3),
                                                dtype=np.uint8)
        m = OctoModel.init(cfg, 0)
        ref_params = ref.init(jax.random.PRNGKey(1), img)["params"]
        mine = m.params["image_tok"]
        assert jax.tree_util.tree_map(np.shape, mine) == jax.tree_util.tree_map(np.shape, ref_params)
        ours = m.module.apply({"params": m.params}, img, method=lambda mod, x: mod.image_tok(x))
        theirs = ref.apply({"params": mine}, img)
        assert ours.shape == (3, cfg.window, cfg.n_patches, cfg.width)
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-4)
