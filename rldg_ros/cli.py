"""``rldg``: the one command-line entry point (``rldg --help`` lists the subcommands)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rldg_ros import __version__


def _cmd_up(ns: argparse.Namespace) -> int:
    from rldg_ros.graphs import GraphError
    from rldg_ros.up import parse_launch_args, up

    try:
        return up(ns.graph, parse_launch_args(ns.args), processes=ns.processes, duration=ns.duration)  # None: graph's
    except (GraphError, ValueError, FileNotFoundError) as exc:
        print(f"rldg up: error: {exc}", file=sys.stderr)
        return 2


def _cmd_graphs(ns: argparse.Namespace) -> int:
    from rldg_ros.executables import NODES
    from rldg_ros.graphs import GRAPHS, GraphError, get_graph, when_values

    if not ns.name:
        for g in GRAPHS.values():
            print(f"{g.name:10s} {g.description}")
        return 0
    try:
        g = get_graph(ns.name)
    except GraphError as exc:
        print(f"rldg graphs: error: {exc}", file=sys.stderr)
        return 2
    print(f"{g.name}: {g.description}\n\narguments:")
    for a in g.args:
        choices = f" {{{'|'.join(a.choices)}}}" if a.choices else ""
        print(f"  {a.name}:={a.default!r}{choices}  {a.description}")
    print("\nnodes:")
    for n in g.nodes:
        state = "" if n.executable in NODES else "  [not in this package]"
        cond = f"  (when {n.when[0]}:={'|'.join(when_values(n))})" if n.when else ""
        print(f"  {n.name} ({n.package}/{n.executable}){cond}{state}")
    return 0


def _cmd_rollout(ns: argparse.Namespace) -> int:
    import json

    from rldg_ros.sim import task_ids
    from rldg_ros.sim.rollout import rollout

    if ns.task not in task_ids(pretrain=True):
        print(f"rldg rollout: error: unknown task {ns.task!r}; tasks: {', '.join(task_ids(pretrain=True))}",
              file=sys.stderr)
        return 2
    try:
        result = rollout(ns.task, ns.policy, ns.episodes, seed=ns.seed, video=ns.video)
    except ValueError as exc:
        print(f"rldg rollout: error: {exc}", file=sys.stderr)
        return 2
    for e in result["episodes_detail"]:
        print(f"  seed {e['seed']:4d}  {'success' if e['success'] else 'failure'}  {e['steps']:3d} steps  "
              f"{e['cycle_time_s']:5.1f} s  max contact {e['max_contact_force_n']:5.1f} N")
    lo, hi = result["success_rate_ci95"]
    ct = result["mean_cycle_time_s"]
    print(f"{result['task']} {result['policy']}: {result['successes']}/{result['episodes']} successes "
          f"({100 * result['success_rate']:.0f} %, 95 % CI {100 * lo:.0f}-{100 * hi:.0f} %), "
          f"mean cycle time {'n/a' if ct is None else f'{ct:.1f} s'}")
    if ns.json:
        Path(ns.json).parent.mkdir(parents=True, exist_ok=True)
        Path(ns.json).write_text(json.dumps(result, indent=2))
        print(f"wrote {ns.json}")
    if ns.video:
        print(f"wrote {ns.video}")
    return 0


def _cmd_panel(ns: argparse.Namespace) -> int:
    from rldg_ros.panel.app import main

    return main(ns.image_topic, ns.screenshot, ns.seconds)


def _cmd_demo(ns: argparse.Namespace) -> int:
    from rldg_ros.demo import run_demo

    return run_demo(duration=ns.duration, out_dir=ns.run_dir, fresh=ns.fresh)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rldg", description="RLDG on ROS 2: RL specialists distilled into generalists")
    p.add_argument("--version", action="version", version=f"rldg {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)

    s = sub.add_parser("up", help="run a node graph here (same spec as the launch files)")
    s.add_argument("graph", help="graph name (see 'rldg graphs')")
    s.add_argument("args", nargs="*", metavar="key:=value", help="graph arguments")
    mode = s.add_mutually_exclusive_group()
    mode.add_argument("--processes", action="store_true", default=None,
                      help="one process per node (default for train_rl, eval_rl and run_vla)")
    mode.add_argument("--in-process", dest="processes", action="store_false",
                      help="all nodes in one process (default for the other graphs)")
    s.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    s.set_defaults(func=_cmd_up)

    s = sub.add_parser("graphs", help="list graphs, or show one graph's arguments and nodes")
    s.add_argument("name", nargs="?")
    s.set_defaults(func=_cmd_graphs)

    s = sub.add_parser("rollout", help="roll out expert / human_like / random policies in the sim cell")
    s.add_argument("--task", required=True, help="task id, e.g. connector_insertion/usb")
    s.add_argument("--policy", default="expert", choices=["expert", "human_like", "random"])
    s.add_argument("--episodes", type=int, default=10)
    s.add_argument("--seed", type=int, default=0, help="first episode seed (episode i uses seed + i)")
    s.add_argument("--json", help="write per-episode results and the summary here")
    s.add_argument("--video", help="write wrist + front camera frames as a GIF")
    s.set_defaults(func=_cmd_rollout)

    s = sub.add_parser("panel", help="the intervention panel (Qt), standalone; in rqt: 'rldg intervention panel'")
    s.add_argument("--image-topic", default=None, help="image to show (default rldg/wrist/image)")
    s.add_argument("--screenshot", default=None, help="with --seconds: save a PNG of the panel, then quit")
    s.add_argument("--seconds", type=float, default=None, help="quit after this many seconds")
    s.set_defaults(func=_cmd_panel)

    s = sub.add_parser("demo", help="the main job on the embedded default (what 'make demo' runs)")
    s.add_argument("--duration", type=float, default=5.0, help="seconds to run the smoke graph")
    s.add_argument("--run-dir", default="runs/demo", help="the quick profile's run directory")
    s.add_argument("--fresh", action="store_true", help="start the experiment over")
    s.set_defaults(func=_cmd_demo)

    from rldg_ros.reward.cli import add_parser as add_reward

    add_reward(sub)
    from rldg_ros.rl.cli import add_parser as add_rl

    add_rl(sub)
    from rldg_ros.data.cli import add_parsers as add_data

    add_data(sub)
    from rldg_ros.vla.cli import add_parsers as add_vla

    add_vla(sub)
    from rldg_ros.vla.evaluate import add_parser as add_eval

    add_eval(sub)
    from rldg_ros.vla.diagnose import add_parser as add_diagnose

    add_diagnose(sub)

    from rldg_ros.experiment.cli import add_parsers as add_experiment

    add_experiment(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    ns, extra = parser.parse_known_args(argv)
    if extra:
        # 'key:=value' graph arguments may follow options (rldg up smoke --duration 3 rate_hz:=5)
        if ns.command != "up" or not all(":=" in e for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        ns.args = [*ns.args, *extra]
    return ns.func(ns)


if __name__ == "__main__":
    sys.exit(main())
