"""rldg diagnose: variants load with their errors named, a variant trains, is measured open loop and closed loop on
the tuning seeds (never the evaluation seeds), execution-only variants reuse a trained model, the table is written."""

import json

import numpy as np
import pytest

from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap
from rldg_ros.data.synthetic import write_episodes
from rldg_ros.spec import EVAL_FIRST_SEED, TUNING_FIRST_SEED
from rldg_ros.vla import diagnose

pytest.importorskip("jax")

TINY = {"image_size": 32, "stem": [8, 16], "patch": 2, "width": 32, "depth": 1, "heads": 2, "mlp": 64,
        "head_hidden": 32, "head_blocks": 1, "diffusion_steps": 4}


def test_variants_file_errors_name_the_variant(tmp_path):
    f = tmp_path / "v.yaml"
    f.write_text("a:\n  model: octo\n  trian: {}\n")
    with pytest.raises(ValueError, match="variant 'a': unknown keys"):
        diagnose.load_variants(f)
    f.write_text("b:\n  model: pi0\n")
    with pytest.raises(ValueError, match="variant 'b': model must be"):
        diagnose.load_variants(f)


@pytest.mark.parametrize("args, message", [
    (["--task", "connector_insertion/nope"], "unknown task"),
    (["--task", "connector_insertion/usb", "--only", "octo_bsae"], "no such variant"),
])
def test_cli_names_bad_input_before_training(tmp_path, args, message):
    import subprocess
    import sys
    from pathlib import Path

    write_episodes(tmp_path / "bag", episodes=2, steps=4)
    ds = Converter(TopicMap(), ConvertOptions(progress=False)).run([tmp_path / "bag"], tmp_path / "ds", "t").dataset
    rldg = str(Path(sys.executable).parent / "rldg")
    r = subprocess.run([rldg, "diagnose", "--data", f"x={ds}", "--out", str(tmp_path / "o"), *args],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()  # nothing trained, nothing written


def test_a_variant_is_trained_measured_and_tabled(tmp_path):
    write_episodes(tmp_path / "bag", episodes=6, steps=12)
    ds = Converter(TopicMap(), ConvertOptions(progress=False, val_fraction=0.2)).run([tmp_path / "bag"],
                                                                                      tmp_path / "ds", "t").dataset
    train = {"max_steps": 30, "batch_size": 8, "eval_every": 15, "checkpoint_every": 1000}
    variants = [diagnose.Variant("tiny", "octo", train=train, model_cfg=TINY),
                diagnose.Variant("tiny_recede", "octo", reuse="tiny",
                                 run={"chunk_mode": "receding", "execute_steps": 1, "sample_steps": 2})]
    out = tmp_path / "diag"
    md = diagnose.run_diagnosis(variants, {"fixture": [ds]}, out, ["connector_insertion/usb"], episodes=1,
                                workers=1, progress=False)
    a = json.loads((out / "fixture" / "tiny" / "result.json").read_text())
    b = json.loads((out / "fixture" / "tiny_recede" / "result.json").read_text())
    assert not (out / "fixture" / "tiny_recede" / "model").exists()  # reused, not retrained
    for r in (a, b):
        ol = r["open_loop"]
        assert ol["val_episodes"] >= 1 and np.isfinite(ol["action_mse"]) and ol["action_mse"] >= 0
        assert r["first_seed"] == TUNING_FIRST_SEED != EVAL_FIRST_SEED
        ep = r["closed_loop"]["connector_insertion/usb"]
        assert ep["episodes"] == 1 and ep["policy"].startswith("octo:")
    assert len(a["val_history"]) == 2  # validation every 15 of 30 steps
    text = md.read_text()
    assert "| fixture | tiny |" in text and "| fixture | tiny_recede |" in text and "| probe |" in text
