"""``rldg experiment rldg`` and ``rldg report``."""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import yaml


def add_parsers(sub) -> None:
    from rldg_ros.experiment.config import profiles

    s = sub.add_parser("experiment", help="the RLDG experiment end to end: specialists -> rosbag2 -> RLDS -> "
                       "fine-tuned generalists -> evaluation -> report")
    s.add_argument("name", choices=["rldg", "ire"], help="the experiment (rldg: the paper's study; ire: RL and "
                   "supervised learning iterated on the generalist, iRe-VLA, config/experiments/ire.yaml)")
    s.add_argument("--profile", default=None, choices=profiles(),
                   help="rldg: config/experiments/<profile>.yaml (default quick: one connector, small budgets; full: "
                   "the connector study; connectors: the same with pixel specialists; pick_place, fmb_insertion, "
                   "fmb_assembly: the paper's other use cases); ire has one config (ire.yaml, --config, --set)")
    s.add_argument("--config", default=None, help="a params file of your own instead of a profile")
    s.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                   help="override settings, e.g. --set episodes=10 eval_episodes=10 (YAML values)")
    s.add_argument("--run-dir", default=None, help="default: runs/experiment_<profile>")
    s.add_argument("--fresh", action="store_true", help="delete RUN_DIR first (otherwise finished stages are kept)")
    s.add_argument("--stop-after", default=None, metavar="STAGE",
                   help="stop once this stage is done (rldg: specialists, collect, convert, pretrain, finetune, "
                   "evaluate, probe; ire: expert, g0, eval_0, rl_1, sl_1, eval_1, rl_2, ...); re-run without it to "
                   "continue")
    s.add_argument("--reopen", default=None, metavar="STAGE",
                   help="rldg: run STAGE and the later stages again although they are done, keeping their files and "
                   "skipping the jobs whose outputs exist, e.g. --reopen finetune --set scaling=true adds the Fig 7 "
                   "subsets to a finished run")
    s.add_argument("--no-report", action="store_true")
    s.set_defaults(func=_experiment)

    s = sub.add_parser("report", help="markdown + PNG report (paper Figs 5-9 analogues) of an experiment run")
    s.add_argument("run_dir")
    s.add_argument("--out", default=None, help="default: RUN_DIR/report")
    s.set_defaults(func=_report)


def _overrides(items: list[str]) -> dict:
    out = {}
    for it in items:
        key, sep, value = it.partition("=")
        if not sep or not key:
            raise ValueError(f"--set {it!r}: use KEY=VALUE")
        out[key] = yaml.safe_load(value)
    return out


def _ire(ns) -> int:
    from rldg_ros.config import ConfigError
    from rldg_ros.experiment.ire import IreExperiment, check_stage, load_ire_config, write_report

    if ns.reopen:
        print("rldg experiment ire: --reopen is for rldg's stages; ire continues a run where it stopped",
              file=sys.stderr)
        return 2
    if ns.profile:
        print("rldg experiment ire: --profile is for rldg's profiles; ire reads config/experiments/ire.yaml (or "
              "--config FILE) with --set overrides", file=sys.stderr)
        return 2
    try:
        cfg = load_ire_config(ns.config, _overrides(ns.set))
        check_stage(cfg, ns.stop_after)
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"rldg experiment ire: {exc}", file=sys.stderr)
        return 2
    run = Path(ns.run_dir or "runs/experiment_ire")
    if ns.fresh:
        shutil.rmtree(run, ignore_errors=True)
    try:
        exp = IreExperiment(cfg, run)
    except (KeyError, FileNotFoundError) as exc:  # an unknown task id, a compare_with that is no RLDG run
        print(f"rldg experiment ire: {exc.args[0]}", file=sys.stderr)
        return 2
    try:
        exp.run_all(stop_after=ns.stop_after)
    except RuntimeError as exc:
        print(f"rldg experiment ire: {exc}\n(re-run the same command to continue from the stage that failed)",
              file=sys.stderr)
        return 1
    if not ns.no_report:
        print(f"rldg experiment ire: report: {write_report(run)}")
    return 0


def _experiment(ns) -> int:
    from rldg_ros.config import ConfigError

    if ns.name == "ire":
        return _ire(ns)
    from rldg_ros.experiment.config import load_experiment_config
    from rldg_ros.experiment.pipeline import Experiment

    ns.profile = ns.profile or "quick"
    try:
        cfg = load_experiment_config(ns.profile, ns.config, _overrides(ns.set))
    except (ConfigError, FileNotFoundError, ValueError) as exc:
        print(f"rldg experiment: {exc}", file=sys.stderr)
        return 2
    run = Path(ns.run_dir or f"runs/experiment_{ns.profile if not ns.config else Path(ns.config).stem}")
    if ns.fresh:
        shutil.rmtree(run, ignore_errors=True)
    t0 = time.monotonic()
    exp = Experiment(cfg, run, profile=ns.profile if not ns.config else ns.config)
    if ns.reopen:
        from rldg_ros.experiment.pipeline import STAGES

        try:
            print(f"rldg experiment: reopened {', '.join(exp.reopen(ns.reopen, STAGES)) or 'nothing (not done yet)'}")
        except ValueError as exc:
            print(f"rldg experiment: {exc}", file=sys.stderr)
            return 2
    try:
        exp.run_all(stop_after=ns.stop_after)
    except ValueError as exc:
        print(f"rldg experiment: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"rldg experiment: {exc}\n(re-run the same command to continue from the stage that failed)",
              file=sys.stderr)
        return 1
    if ns.stop_after:
        print(f"rldg experiment: stopped after '{ns.stop_after}' ({(time.monotonic() - t0) / 60:.1f} min); "
              f"re-run without --stop-after to continue in {run}")
        return 0
    print(f"rldg experiment: finished in {(time.monotonic() - t0) / 60:.1f} min; results: {run / 'results.json'}")
    if not ns.no_report:
        from rldg_ros.experiment.report import write_report

        path = write_report(run)
        print(f"rldg experiment: report: {path}")
    return 0


def _report(ns) -> int:
    from rldg_ros.experiment.report import ReportError, write_report

    try:
        path = write_report(ns.run_dir, ns.out)
    except ReportError as exc:
        print(f"rldg report: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0
