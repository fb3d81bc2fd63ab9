"""Action tokenization and normalization shared by the generalists (numpy only)."""

import json

import numpy as np
import pytest

from rldg_ros.vla.normalize import Normalizer
from rldg_ros.vla.tokenizer import ActionTokenizer


def test_tokenizer_round_trip_bin_edges_and_last_vocabulary_ids():
    tok = ActionTokenizer(vocab_size=32000, n_bins=256)
    a = np.random.default_rng(0).uniform(-1, 1, size=(1000, 7))
    ids = tok.encode(a)
    assert ids.min() >= tok.first_id == 32000 - 255 and ids.max() <= 31999
    assert np.abs(tok.decode(ids) - a).max() <= 1 / 255 + 1e-9  # half a bin width (bins are 2/255 wide)
    # the edges: -1 and +1 land in the outermost bins, out-of-range values are clipped into them
    assert tok.encode(np.array([-1.0, 1.0, -5.0, 5.0])).tolist() == [31999, 31745, 31999, 31745]
    # monotone: a larger action never gets a larger id (ids count down from the end of the vocabulary)
    x = np.linspace(-1, 1, 2001)
    assert np.all(np.diff(tok.encode(x)) <= 0)
    with pytest.raises(ValueError, match="NaN"):
        tok.encode(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="not action tokens"):
        tok.decode(np.array([5, 31999]))


def test_q01_q99_normalization_round_trip_with_constant_and_gripper_dims(tmp_path):
    rng = np.random.default_rng(1)
    acts = np.concatenate([rng.normal(0, 0.3, (5000, 3)), np.full((5000, 3), 0.25),
                           rng.choice([-1.0, 1.0], (5000, 1))], axis=1)
    stats = {"action": {"q01": np.quantile(acts, 0.01, 0).tolist(), "q99": np.quantile(acts, 0.99, 0).tolist(),
                        "mean": acts.mean(0).tolist(), "std": acts.std(0).tolist()}}
    n = Normalizer.from_stats(stats, skip=(6,))
    y = n.normalize(acts)
    assert np.all(np.isfinite(y)) and y.min() >= -1 and y.max() <= 1
    assert np.all(y[:, 3:6] == 0.0)  # constant dimensions: 0, not NaN
    np.testing.assert_array_equal(y[:, 6], acts[:, 6])  # the gripper passes through
    back = n.unnormalize(y)
    inside = np.all((acts[:, :3] >= stats["action"]["q01"][:3]) & (acts[:, :3] <= stats["action"]["q99"][:3]), 1)
    np.testing.assert_allclose(back[inside], acts[inside], atol=1e-5)  # exact inside [q01, q99]
    np.testing.assert_allclose(back[:, 3:6], 0.25, atol=1e-7)  # constants come back
    assert np.all(np.abs(y[~inside, :3]).max(1) == 1.0)  # outliers are clipped to the bounds
    # tokenizer + normalizer: the un-normalized round trip error is half a bin of the q01..q99 range
    tok = ActionTokenizer(1000)
    rt = n.unnormalize(tok.decode(tok.encode(n.normalize(acts))))
    span = np.array(stats["action"]["q99"]) - np.array(stats["action"]["q01"])
    assert np.all(np.abs(rt - acts)[inside, :3] <= span[:3] / 255 + 1e-6)
    # a statistics file with several datasets needs a name
    f = tmp_path / "dataset_statistics.json"
    f.write_text(json.dumps({"a": stats, "b": stats}))
    with pytest.raises(KeyError, match="name one"):
        Normalizer.from_file(f)
    assert Normalizer.from_file(f, dataset="b").normalize(acts[:1]).shape == (1, 7)
    with pytest.raises(ValueError, match="expected 7 dimensions"):
        n.normalize(np.zeros(6))


def test_word_dropout_replaces_only_real_words_in_training_batches():
    from rldg_ros.vla.data import EpisodeData, WindowSampler

    ep = EpisodeData(np.zeros((6, 8, 8, 3), np.uint8), np.zeros((6, 3)), np.zeros((6, 7)), "insert it", "t")
    ident = Normalizer(np.full(7, -1.0), np.ones(7), np.zeros(7), np.ones(7), "normal", ())
    text = np.array([5, 6, 7, 0, 0, 0], np.int32)  # three words, then padding
    s = WindowSampler([ep], ident, 2, 2, lambda _: text, seed=0, word_dropout=0.5, pad_id=0, unk_id=1)
    t = s.batch(400)["text"]
    assert np.all(t[:, 3:] == 0)  # padding stays padding
    dropped = t[:, :3] == 1
    assert 0.4 < dropped.mean() < 0.6 and np.all((t[:, :3] == text[:3]) | dropped)
    v = next(s.all_batches(4))["text"]  # validation batches are never altered
    assert np.all(v == text)
    plain = WindowSampler([ep], ident, 2, 2, lambda _: text, seed=0)
    assert np.all(plain.batch(50)["text"] == text)


def test_contact_oversampling_draws_frames_in_contact_more_often():
    from rldg_ros.spec import STATE_DIM, STATE_FORCE
    from rldg_ros.vla.data import EpisodeData, WindowSampler, contact_weights

    states = np.zeros((10, STATE_DIM), np.float32)
    states[8:, STATE_FORCE] = [0.0, 0.0, 4.0]  # the last 2 of 10 frames press on the port
    actions = np.zeros((10, 7), np.float32)
    actions[:, 0] = np.arange(10)  # the frame's index, to see which frames were drawn
    ep = EpisodeData(np.zeros((10, 8, 8, 3), np.uint8), states, actions, "insert it", "t")
    ident = Normalizer(np.full(7, -1.0), np.ones(7), np.zeros(7), np.ones(7), "normal", ())
    assert contact_weights([ep], 1.0, 1.0) is None  # uniform: the sampler's plain path
    w = contact_weights([ep], 4.0, 1.0)
    assert w.tolist() == [1.0] * 8 + [4.0] * 2
    s = WindowSampler([ep], ident, 1, 1, lambda _: np.zeros(4, np.int32), seed=0, weights=w)
    drawn = s.batch(4000)["action"][:, 0, 0]
    assert 0.45 < np.mean(drawn >= 8) < 0.55  # 2 x 4 of 8 + 2 x 4: half, against 20 % uniformly
    for bad in (np.ones(3), np.full(10, np.nan), np.zeros(10)):
        with pytest.raises(ValueError, match="one per frame"):
            WindowSampler([ep], ident, 1, 1, lambda _: np.zeros(4, np.int32), weights=bad)
    with pytest.raises(ValueError, match="finite number > 0"):
        contact_weights([ep], float("nan"), 1.0)


def test_octo_image_augmentation_one_transform_per_window_training_batches_only():
    from rldg_ros.vla.data import EpisodeData, ImageAugment, WindowSampler, image_augment

    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    frame[:, :8] = [200, 40, 40]  # a coloured half, so hue and saturation jitter show
    windows = np.broadcast_to(frame, (64, 2, 16, 16, 3)).copy()
    out = ImageAugment()(windows, np.random.default_rng(1))
    assert out.shape == windows.shape and out.dtype == np.uint8
    assert np.all(out[:, 0] == out[:, 1])  # both frames of a window get the same crop and jitter
    changed = np.abs(out.astype(int) - windows).mean(axis=(1, 2, 3, 4))
    assert np.all(changed > 0) and len({round(c, 3) for c in changed}) > 32  # each window its own draw
    ident = ImageAugment(scale=(1, 1), ratio=(1, 1), brightness=0, contrast=(1, 1), saturation=(1, 1), hue=0)
    assert np.abs(ident(windows, np.random.default_rng(2)).astype(int) - windows).max() <= 1  # only rounding
    # colour jitter is mild (Octo's ranges): the mean brightness moves by less than 0.1 of the range plus contrast
    assert np.abs(out.mean(axis=(1, 2, 3, 4)) - windows.mean()).max() < 0.15 * 255

    colour = image_augment("colour")(windows, np.random.default_rng(3))  # presets by name; "colour" never crops
    assert np.all(colour.std(axis=-1).mean(axis=(1, 2, 3)) != windows.std(axis=-1).mean())  # colours move
    assert image_augment("") is None and image_augment("none") is None
    with pytest.raises(ValueError, match="unknown image augmentation 'crop'"):
        image_augment("crop")

    ep = EpisodeData(np.broadcast_to(frame, (6, 16, 16, 3)).copy(), np.zeros((6, 3)), np.zeros((6, 7)), "insert", "t")
    norm = Normalizer(np.full(7, -1.0), np.ones(7), np.zeros(7), np.ones(7), "normal", ())
    s = WindowSampler([ep], norm, 2, 2, lambda _: np.zeros(4, np.int32), seed=0, image_augment=ImageAugment())
    assert np.any(s.batch(8)["image"][:, -1] != frame)
    assert np.all(next(s.all_batches(4))["image"][:, -1] == frame)  # validation images are never altered


def test_octo_image_dropout_hides_the_image_from_dropped_examples_only():
    from rldg_ros.vla import octo_style as octo
    from rldg_ros.vla.data import EpisodeData, WindowSampler

    cfg = octo.OctoConfig(image_size=16, stem=(8,), patch=4, width=32, depth=1, heads=2, mlp=32, head_hidden=32,
                          head_blocks=1, proprio_dim=3)
    model = octo.OctoModel.init(cfg, 0)
    batch = octo.example_batch(cfg, 4)
    batch["proprio"] = np.random.default_rng(0).normal(size=batch["proprio"].shape).astype(np.float32)
    other = dict(batch, image=np.random.default_rng(1).integers(0, 256, batch["image"].shape, dtype=np.uint8))

    def embed(b):
        return np.asarray(model.module.apply({"params": model.params}, b, method="embed"))

    keep = np.array([True, False, True, False])
    a, b = embed(dict(batch, image_keep=keep)), embed(dict(other, image_keep=keep))
    assert np.allclose(a[~keep], b[~keep], atol=1e-5)  # without its image, the image makes no difference
    assert not np.allclose(a[keep], b[keep], atol=1e-3)  # with it, it does
    assert np.allclose(embed(dict(batch, image_keep=np.ones(4, bool))), embed(batch), atol=1e-5)  # all kept = none

    ep = EpisodeData(np.zeros((6, 16, 16, 3), np.uint8), np.zeros((6, 3)), np.zeros((6, 7)), "insert", "t")
    norm = Normalizer(np.full(7, -1.0), np.ones(7), np.zeros(7), np.ones(7), "normal", ())
    s = WindowSampler([ep], norm, 2, 2, lambda _: np.zeros(4, np.int32), seed=0, image_dropout=0.5)
    kept = s.batch(400)["image_keep"]
    assert 0.35 < kept.mean() < 0.65  # about half the training examples lose their image
    assert "image_keep" not in next(s.all_batches(4))  # validation examples always see theirs
    assert "image_keep" not in WindowSampler([ep], norm, 2, 2, lambda _: np.zeros(4, np.int32)).batch(4)


def test_octo_checkpoint_refuses_an_example_batch_its_config_does_not_build(tmp_path):
    """Octo-style checkpoints keep the example batch they were built for; a config.json edited afterwards (here a
    different state size) is refused on load by naming the input, before the params are read."""

    from rldg_ros.vla import octo_style as octo

    cfg = octo.OctoConfig(image_size=16, stem=(8,), patch=4, width=32, depth=1, heads=2, mlp=32, head_hidden=32,
                          head_blocks=1, proprio_dim=3, proprio_tokens=2, proprio_mlp=True)
    path = octo.save(tmp_path / "ck", octo.OctoModel.init(cfg), {"action": {}}, {"purpose": "test"})
    model, _ = octo.load(path)  # as saved: loads, with the options it was built with
    assert model.cfg.proprio_tokens == 2 and model.cfg.proprio_mlp
    meta = json.loads((path / "config.json").read_text())
    meta["model"]["proprio_dim"] = 5
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match=r"example batch does not match config.json \(proprio: \(1, 2, 3\)"):
        octo.load(path)
