"""``rldg record``, ``rldg convert``, ``rldg export lerobot`` and ``rldg import lerobot``."""

from __future__ import annotations

import json
import sys


def add_parsers(sub) -> None:
    s = sub.add_parser("record", help="record a graph's topics to rosbag2 (MCAP), one bag per episode")
    s.add_argument("--out", required=True, help="directory for the bags")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--topics", nargs="+", default=None, help="topics to record (default: the rldg set)")
    g.add_argument("--graph", default=None, help="record what this graph publishes (the rldg set)")
    s.add_argument("--storage", default="mcap", choices=["mcap", "sqlite3"])
    s.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    s.add_argument("--print-command", action="store_true", help="print the equivalent 'ros2 bag record' and exit")
    s.set_defaults(func=_record)

    s = sub.add_parser("convert", help="convert rosbag2 recordings to an RLDS (TFDS) dataset")
    s.add_argument("bags", nargs="+", help="bag directories, .mcap files, or directories of bags")
    s.add_argument("--out", required=True, help="output directory (the dataset lands in OUT/NAME/1.0.0)")
    s.add_argument("--name", required=True, help="dataset name (lower_snake_case)")
    s.add_argument("--map", default=None, help="topic/field mapping YAML (default: rldg's own topics)")
    s.add_argument("--all", action="store_true", help="keep unsuccessful episodes too")
    s.add_argument("--balance", action="store_true", help="the same number of episodes for every task")
    s.add_argument("--max-episodes", type=int, default=0, help="at most N episodes per task, the first in bag "
                   "order (e.g. equal successful counts of two data sources); 0: all")
    s.add_argument("--val-fraction", type=float, default=0.0, help="episodes held out as the 'val' split")
    s.add_argument("--relabel", default="", help="RL checkpoint: replace the recorded actions with its actions")
    s.add_argument("--keep-phases", default="", help="with --relabel: steps in these task phases (comma-separated, "
                   "e.g. grasp,transport) keep their recorded action: a human did that stage, the RL policy did not")
    s.add_argument("--shard-mb", type=float, default=256.0)
    s.add_argument("--quiet", action="store_true")
    s.set_defaults(func=_convert)

    s = sub.add_parser("export", help="export RLDS datasets to other formats")
    ex = s.add_subparsers(dest="format", metavar="FORMAT", required=True)
    e = ex.add_parser("lerobot", help="RLDS datasets -> one LeRobotDataset v3.0 (image features)")
    e.add_argument("rlds", nargs="+", help="RLDS dataset directories (<name>/<version>) or folders holding them")
    e.add_argument("--out", required=True, help="the LeRobot dataset root to create")
    e.add_argument("--robot-type", default="franka", help="info.json robot_type")
    e.add_argument("--quiet", action="store_true")
    e.set_defaults(func=_export_lerobot)

    s = sub.add_parser("import", help="import datasets from other formats as RLDS")
    im = s.add_subparsers(dest="format", metavar="FORMAT", required=True)
    i = im.add_parser("lerobot", help="a LeRobotDataset v3.0 (image features, 7-D actions) -> RLDS")
    i.add_argument("root", help="the LeRobot dataset root (meta/info.json)")
    i.add_argument("--out", required=True, help="output directory (the dataset lands in OUT/NAME/1.0.0)")
    i.add_argument("--name", required=True, help="dataset name (lower_snake_case)")
    i.add_argument("--image-key", default=None, help="the image feature (default: observation.images.wrist, or "
                   "the only image feature)")
    i.add_argument("--state-key", default="observation.state")
    i.add_argument("--quiet", action="store_true")
    i.set_defaults(func=_import_lerobot)


def _record(ns) -> int:
    import rclpy

    from rldg_ros.nodes.recorder import record_command
    from rldg_ros.up import spin_until_stopped

    if ns.print_command:
        print(record_command(ns.out))
        return 0
    if ns.graph:
        from rldg_ros.graphs import GRAPHS

        if ns.graph not in GRAPHS:
            print(f"rldg record: unknown graph {ns.graph!r} (known: {sorted(GRAPHS)})", file=sys.stderr)
            return 2
    from rclpy.parameter import Parameter

    from rldg_ros.nodes.recorder import Recorder

    rclpy.init()
    params = [Parameter("out_dir", value=ns.out), Parameter("storage", value=ns.storage)]
    if ns.topics:
        params.append(Parameter("topics", value=[t.lstrip("/") for t in ns.topics]))
    try:
        node = Recorder(parameter_overrides=params)
    except ValueError as exc:  # ConfigError: an unknown topic, a bad parameter
        rclpy.shutdown()
        print(f"rldg record: {exc}", file=sys.stderr)
        return 2
    ex = rclpy.executors.SingleThreadedExecutor()
    ex.add_node(node)
    import signal
    import threading
    import time

    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    t_end = None if ns.duration is None else time.monotonic() + ns.duration
    try:
        spin_until_stopped(ex, lambda: stop.is_set() or (t_end is not None and time.monotonic() > t_end))
    finally:
        node.shutdown()
        node.destroy_node()
        rclpy.shutdown()
    print(json.dumps({"bags": node.closed}))
    return 0


def _convert(ns) -> int:
    from rldg_ros.data.convert import Converter, ConvertOptions, TopicMap, print_summary

    try:
        mapping = TopicMap.load(ns.map)
        conv = Converter(mapping, ConvertOptions(success_only=not ns.all, balance=ns.balance,
                                                 val_fraction=ns.val_fraction, relabel=ns.relabel,
                                                 relabel_keep_phases=tuple(p for p in ns.keep_phases.split(",") if p),
                                                 max_episodes=ns.max_episodes,
                                                 shard_mb=ns.shard_mb, progress=not ns.quiet))
        report = conv.run(ns.bags, ns.out, ns.name)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"rldg convert: {exc}", file=sys.stderr)
        return 2
    print_summary(report)
    print(report.dataset)
    return 0 if report.episodes_written else 1


def _export_lerobot(ns) -> int:
    from rldg_ros.data.lerobot import export_lerobot

    try:
        rep = export_lerobot(ns.rlds, ns.out, robot_type=ns.robot_type, progress=not ns.quiet)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"rldg export lerobot: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"root": rep.root, "episodes": rep.episodes, "frames": rep.frames, "tasks": rep.tasks,
                      "data_files": rep.data_files, "sources": rep.sources}, indent=1))
    return 0


def _import_lerobot(ns) -> int:
    from rldg_ros.data.lerobot import import_lerobot

    try:
        rep = import_lerobot(ns.root, ns.out, ns.name, ns.image_key, ns.state_key, progress=not ns.quiet)
    except (FileNotFoundError, FileExistsError, ValueError) as exc:
        print(f"rldg import lerobot: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"dataset": rep.dataset, "episodes": rep.episodes, "frames": rep.frames,
                      "success_from": rep.success_from}, indent=1))
    return 0
