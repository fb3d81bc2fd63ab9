import subprocess
import sys
from pathlib import Path

from rldg_ros.cli import build_parser

RLDG = str(Path(sys.executable).parent / "rldg")


def test_help_lists_every_subcommand():
    r = subprocess.run([RLDG, "--help"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0
    for name in ["up", "graphs", "demo", "record", "convert", "pretrain", "finetune", "eval", "experiment",
                 "report"]:
        assert name in r.stdout


def test_graphs_lists_and_shows():
    r = subprocess.run([RLDG, "graphs"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "train_rl" in r.stdout and "run_vla" in r.stdout
    r = subprocess.run([RLDG, "graphs", "run_vla"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0 and "model:='octo'" in r.stdout and "vla_policy" in r.stdout
    assert subprocess.run([RLDG, "graphs", "nope"], capture_output=True, timeout=30).returncode == 2


def test_trailing_graph_args_only_for_up():
    parser = build_parser()
    assert parser.parse_args(["up", "smoke", "a:=1"]).args == ["a:=1"]


def test_finetune_names_a_bad_label_sigma_before_reading_data(tmp_path):
    r = subprocess.run([RLDG, "finetune", "--model", "openvla", "--data", str(tmp_path / "none"), "--out",
                        str(tmp_path / "o"), "--label-sigma", "-1"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--label-sigma must be >= 0" in r.stderr
    assert not (tmp_path / "o").exists()
