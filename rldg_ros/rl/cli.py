"""``rldg rl ...``: offline helpers around the RL graphs (training itself runs as ``rldg up train_rl``)."""

from __future__ import annotations

import argparse

from rldg_ros.rl.spaces import OBS_MODES


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("rl", help="RL specialists: report on a run (train with 'rldg up train_rl', evaluate with "
                       "'rldg up eval_rl')")
    rsub = p.add_subparsers(dest="rl_command", metavar="STEP", required=True)
    s = rsub.add_parser("report", help="learning curves (PNG) + markdown summary of a train_rl run directory")
    s.add_argument("run_dir")
    s.add_argument("--eval", default=None, help="an eval_rl JSON report (report:=) to include")
    s.set_defaults(func=_report)
    d = rsub.add_parser("direct", help="ROS-free training loop (actor and learner interleaved in one process) for "
                        "quick ablations; the product path is 'rldg up train_rl'")
    d.add_argument("--task", default="fmb_insertion")
    d.add_argument("--run-dir", required=True)
    d.add_argument("--obs", default="privileged", choices=OBS_MODES)
    d.add_argument("--steps", type=_positive, default=9000, help="environment steps")
    d.add_argument("--demos", default="scripted:human_like")
    d.add_argument("--bc-weight", type=float, default=-1.0, help="-1: the task's default")
    d.add_argument("--steps-per-transition", type=float, default=1.0)
    d.add_argument("--intervene", default="expert", choices=("none", "expert", "human_like"))
    d.add_argument("--eval-every", type=_positive, default=1500, help="environment steps between evaluations")
    d.add_argument("--eval-episodes", type=_positive, default=10)
    d.add_argument("--seed", type=int, default=0)
    d.set_defaults(func=_direct)
    e = rsub.add_parser("encoder", help="pretrain the pixel specialists' frozen visual encoder on the sim corpus "
                        "(no evaluation task or connector), or on RLDS data of your own")
    e.add_argument("--out", required=True, help="checkpoint directory (encoder.json, encoder.msgpack)")
    e.add_argument("--data", nargs="*", default=None, help="RLDS directories (default: the sim corpus)")
    e.add_argument("--corpus", default=None, help="where the sim corpus is (or is recorded to; default OUT/data): "
                   "the same corpus as 'rldg pretrain --corpus'")
    e.add_argument("--steps", type=_positive, default=3000)
    e.add_argument("--batch-size", type=_positive, default=64)
    e.add_argument("--image-size", type=_positive, default=128)
    e.add_argument("--workers", type=_positive, default=2, help="processes recording the corpus")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--export", default=None, help="also write the encoder here with MANIFEST.json (sha256, corpus, "
                   "validation, wall time), e.g. models/encoders/rl-conv-simcorpus")
    e.set_defaults(func=_encoder)


def _report(ns) -> int:
    from rldg_ros.rl.report import write_report

    md, png = write_report(ns.run_dir, ns.eval)
    print(md.read_text())
    print(f"wrote {md} and {png}")
    return 0


def _direct(ns) -> int:
    import json

    from rldg_ros import config_path
    from rldg_ros.config import config_from_dict, params_for_node
    from rldg_ros.hil.rules import InterventionRulesConfig
    from rldg_ros.rl.direct import run_direct
    from rldg_ros.rl.learner import LearnerConfig
    from rldg_ros.rl.spaces import ObsConfig

    cfg = LearnerConfig(task=ns.task, run_dir=ns.run_dir, seed=ns.seed, obs=ObsConfig(mode=ns.obs),
                        demos=ns.demos, steps_per_transition=ns.steps_per_transition, checkpoint_every_s=1e9)
    cfg.agent.bc_weight = ns.bc_weight
    # the intervener rules of the graphs (robot_bridge.scripted in config/nodes/robot_bridge.yaml)
    scripted = params_for_node(config_path("nodes/robot_bridge.yaml"), "robot_bridge").get("scripted", {})
    rules = config_from_dict(InterventionRulesConfig, scripted, source="config/nodes/robot_bridge.yaml:scripted")
    history = run_direct(cfg, ns.steps, eval_every=ns.eval_every, eval_episodes=ns.eval_episodes,
                         intervene=ns.intervene, rules_cfg=rules)
    print(json.dumps(history))
    return 0


def _encoder(ns) -> int:
    import json
    import sys
    import time
    from pathlib import Path

    from rldg_ros.rl.encoder import EncoderConfig, export_encoder, train_encoder
    from rldg_ros.spec import DATASET_VERSION

    t0 = time.monotonic()
    data = ns.data
    if not data:
        from rldg_ros.vla.pretrain_data import corpus_counts, write_pretraining_dataset

        root = Path(ns.corpus) if ns.corpus else Path(ns.out) / "data"
        ds = root / "rldg_sim_pretrain" / DATASET_VERSION
        if not (ds / "dataset_info.json").exists():
            counts = corpus_counts()
            write_pretraining_dataset(root, "rldg_sim_pretrain", list(counts), counts, ns.seed, workers=ns.workers)
        data = [str(ds)]
    cfg = EncoderConfig(image_size=ns.image_size, steps=ns.steps, batch_size=ns.batch_size, seed=ns.seed)
    try:
        meta = train_encoder(data, ns.out, cfg)
    except (FileNotFoundError, ValueError) as exc:
        print(f"rldg rl encoder: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({k: meta[k] for k in ("final_val_motion_r2", "train_transitions", "seconds")}))
    if ns.export:
        wall = {"this_command": round(time.monotonic() - t0, 1), "training": round(meta["seconds"], 1)}
        print(f"exported {export_encoder(ns.out, ns.export, wall)}")
    return 0
