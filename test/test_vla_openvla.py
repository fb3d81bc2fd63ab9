"""openvla-style-tiny: training reduces the action-token loss, LoRA trains only adapters, save/load/merge agree."""

import json

import numpy as np
import pytest

from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
from rldg_ros.data.synthetic import write_episodes

torch = pytest.importorskip("torch", reason="the vla requirement group (make setup installs it)")

from rldg_ros.vla import openvla_style as ov  # noqa: E402
from rldg_ros.vla.train_openvla import TrainConfig, train  # noqa: E402

TINY = ov.VLAConfig(image_size=32, patch=8, vision_hidden=32, vision_layers=1, text_hidden=64, text_layers=1,
                    text_heads=2, text_vocab=300)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("ovla")
    write_episodes(d / "bag", episodes=5, steps=10)
    ds = Converter(TopicMap(), ConvertOptions(progress=False, val_fraction=0.2)).run([d / "bag"], d / "ds", "t").dataset
    pre = train([ds], d / "pre", TrainConfig(max_steps=40, batch_size=8, log_every=10, eval_every=40),
                vla_cfg=TINY, progress=False, purpose="pretrain")
    ft = train([ds], d / "ft", TrainConfig(max_steps=6, batch_size=4, log_every=3, eval_every=6), base=d / "pre",
               progress=False)
    return d, ds, pre, ft


def test_pretraining_reduces_the_action_token_loss(runs):
    _, _, pre, _ = runs
    losses = [h["loss"] for h in pre["history"] if "loss" in h]
    # the loss of targets spread over neighbouring bins cannot go below their entropy: what is above it halves
    sigma = TrainConfig().label_sigma
    w = np.exp(-0.5 * (np.arange(-127, 128) / sigma) ** 2) if sigma > 0 else np.eye(1)[0]
    w = w / w.sum()
    floor = float(-(w[w > 0] * np.log(w[w > 0])).sum())
    assert losses[-1] - floor < 0.6 * (losses[0] - floor), (losses, floor)
    assert pre["trainable_fraction"] == 1.0 and pre["final_val_loss"] is not None


def test_lora_trains_only_adapters_and_save_load_merge_agree(runs):
    d, _, _, ft = runs
    assert 0 < ft["trainable_fraction"] < 1 and ft["lr"] == 5e-4
    meta = json.loads((d / "ft" / "rldg_vla.json").read_text())
    assert meta["lora"] and meta["base"] == str(d / "pre") and meta["name"] == "openvla-style-tiny"
    base = ov.load(d / "pre").model.state_dict()
    adapter = ov.load(d / "ft", trainable_lora=True)  # base + adapter (PeftModel)
    names = [n for n, p in adapter.model.named_parameters() if p.requires_grad]
    assert names and all("lora_" in n for n in names)
    # the base weights inside the adapter model are untouched; the adapters moved away from their zero init
    sd = adapter.model.get_base_model().state_dict()
    for k, v in base.items():
        kk = k if k in sd else k.replace(".weight", ".base_layer.weight").replace(".bias", ".base_layer.bias")
        if kk in sd:
            torch.testing.assert_close(sd[kk], v)
    assert any(p.abs().sum() > 0 for n, p in adapter.model.named_parameters() if "lora_B" in n)
    # the merged model (saved next to the adapter) gives the same logits as base + adapter
    merged = ov.load(d / "ft")
    img = np.random.default_rng(0).integers(0, 255, (128, 128, 3)).astype(np.uint8)
    enc = adapter.prompt_ids([img], ["insert the plug 0"])
    adapter.model.eval()
    with torch.no_grad():
        a = adapter.model(**enc).logits
        b = merged.model(**enc).logits
    torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    # actions: 7 tokens from the action range, un-normalized into [-1, 1]
    state = np.zeros(merged.cfg.proprio_dim)
    tokens, probs = merged.predict_tokens(img, "insert the plug 0", state)
    assert tokens.shape == (7,) and np.all(merged.actions.is_action_token(tokens))
    act = merged.act({"image": img, "state": state}, "insert the plug 0")
    assert act.shape == (7,) and np.all(np.abs(act) <= 1.0)
    # proprio: the state as one input embedding from the projector (saved and loaded with the checkpoint), at one
    # placeholder position after the prompt; a missing state is refused
    assert merged.cfg.proprio_dim == 20 and merged.cfg.proprio_mode == "projector"
    assert merged.state_tokens(state) == [merged.tokenizer.pad_token_id]
    assert (d / "ft" / "proprio_projector.pt").exists()
    torch.testing.assert_close(merged.projector.state_dict(), adapter.projector.state_dict())
    with pytest.raises(ValueError, match="20-D robot state"):
        merged.act({"image": img}, "x")
    with pytest.raises(FileNotFoundError, match="rldg_vla.json"):
        ov.load(d)
    (d / "octo_like").mkdir(exist_ok=True)
    (d / "octo_like" / "config.json").write_text(json.dumps({"format": "rldg-octo-style"}))
    with pytest.raises(ValueError, match="use the matching --model"):
        ov.load(d / "octo_like")


def test_a_hugging_face_model_folder_loads_through_the_auto_classes(runs, tmp_path):
    """A plain HF folder (config.json, weights, processor files, statistics) as a downloaded checkpoint would be."""
    import shutil

    import torch

    d, _, _, _ = runs
    folder = tmp_path / "hf"
    shutil.copytree(d / "pre" / "model", folder)
    for f in (d / "pre" / "processor").iterdir():
        shutil.copy(f, folder / f.name)
    stats = json.loads((d / "pre" / "dataset_statistics.json").read_text())
    (folder / "dataset_statistics.json").write_text(json.dumps({"my_robot": stats}))
    vla = ov.load(folder)
    assert vla.meta["format"] == "huggingface" and not vla.meta["trust_remote_code"]
    ours = ov.load(d / "pre")
    img = np.zeros((128, 128, 3), np.uint8)
    with torch.no_grad():  # the same weights and processor (a HF folder carries no proprio setting: compare logits)
        np.testing.assert_allclose(vla.model(**vla.prompt_ids([img], ["insert the plug 1"])).logits.numpy(),
                                   ours.model(**ours.prompt_ids([img], ["insert the plug 1"])).logits.numpy(),
                                   atol=1e-5)
    (folder / "dataset_statistics.json").unlink()
    with pytest.raises(FileNotFoundError, match="norm_stats"):
        ov.load(folder)


def test_spread_action_token_targets_know_which_bins_are_near():
    """label_sigma: a prediction one bin off costs less than one far off (one-hot cross-entropy cannot tell them
    apart), and a tiny sigma is the model's own one-hot loss; positions without a label do not count."""
    import torch

    from rldg_ros.vla.train_openvla import action_token_loss

    vocab, first, target = 300, 45, 150
    labels = torch.full((1, 3), -100)
    labels[0, 1] = target  # predicted by the logits at position 0

    def logits_at(peak: int) -> torch.Tensor:
        lg = torch.zeros((1, 3, vocab))
        lg[0, 0, peak] = 8.0
        lg[0, 1:, :] = torch.randn(2, vocab)  # unlabelled positions: ignored
        return lg

    near, far = (float(action_token_loss(logits_at(p), labels, first, 3.0)) for p in (target + 1, target + 90))
    assert near < far - 0.5  # measured 7.09 against 8.10
    onehot = torch.nn.functional.cross_entropy(logits_at(target + 1)[0, :1], labels[0, 1:2])
    assert abs(float(action_token_loss(logits_at(target + 1), labels, first, 0.05)) - float(onehot)) < 1e-4
    hit, off1 = (float(action_token_loss(logits_at(p), labels, first, 0.05)) for p in (target, target + 1))
    assert hit < off1  # with one-hot targets only the exact bin is rewarded


def test_words_the_model_never_trained_on_are_left_out_of_the_prompt(runs):
    """A tiny model's word embeddings come from its training instructions only: a checkpoint lists those words
    (a base's included), and at inference an unseen word (an unseen connector's name) is left out of the prompt,
    so it cannot enter as an untrained embedding; a model without the list keeps every word."""
    d, _, _, _ = runs
    vla = ov.load(d / "ft")
    words = json.loads((d / "ft" / "rldg_vla.json").read_text())["instruction_words"]
    assert {"insert", "the", "plug"} <= set(words)
    n = next(w for w in words if w.isdigit())  # an episode number of the training split
    assert vla.prompt_instruction(f"Insert the TYPE-C plug {n}") == f"Insert the plug {n}"
    img = np.zeros((64, 64, 3), np.uint8)
    state = np.zeros(vla.cfg.proprio_dim)
    a, _ = vla.predict_tokens(img, f"insert the type-c plug {n}", state)
    b, _ = vla.predict_tokens(img, f"insert the plug {n}", state)
    assert np.array_equal(a, b)
    vla.known_words = None
    assert vla.prompt_instruction(f"insert the type-c plug {n}") == f"insert the type-c plug {n}"


_DP_SCRIPT = """
import json, os, sys
from rldg_ros.vla import openvla_style as ov
from rldg_ros.vla.train_openvla import TrainConfig, train
tiny = ov.VLAConfig(image_size=32, patch=8, vision_hidden=32, vision_layers=1, text_hidden=64, text_layers=1,
                    text_heads=2, text_vocab=300)
s = train([sys.argv[1]], sys.argv[2], TrainConfig(max_steps=12, batch_size=8, log_every=1, eval_every=100,
          checkpoint_every=100, threads=1), vla_cfg=tiny, progress=False, purpose="pretrain")
if os.environ.get("RANK", "0") == "0":
    json.dump([h["loss"] for h in s["history"] if "loss" in h], open(sys.argv[3], "w"))
"""


@pytest.mark.timeout(600)
def test_two_data_parallel_processes_follow_the_one_process_loss_curve(runs, tmp_path):
    """torch.distributed (gloo, 2 CPU processes under torchrun), each with half of every global batch of 8: the
    loss curve is the one process's with the same global batch (the gradients are averaged before each step)."""
    import subprocess
    import sys

    _, ds, _, _ = runs
    script = tmp_path / "dp.py"
    script.write_text(_DP_SCRIPT)
    one, two = tmp_path / "one.json", tmp_path / "two.json"
    subprocess.run([sys.executable, str(script), str(ds), str(tmp_path / "m1"), str(one)], check=True, timeout=300)
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                          str(script), str(ds), str(tmp_path / "m2"), str(two)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
    a, b = json.loads(one.read_text()), json.loads(two.read_text())
    assert len(a) == len(b) == 12
    assert a[-1] < a[0]  # it trains
    np.testing.assert_allclose(b, a, rtol=2e-3, atol=2e-3)
    meta = json.loads((tmp_path / "m2" / "rldg_vla.json").read_text())  # rank 0 wrote the checkpoint
    assert meta["processes"] == 2
