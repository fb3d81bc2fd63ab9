"""The graph spec, the launch files built from it, and the executables they name."""

import ast
import importlib.metadata
import runpy
import sys
import types
from pathlib import Path

import pytest

from rldg_ros import config_path, share_dir
from rldg_ros.executables import NODES, console_scripts
from rldg_ros.graphs import (
    GRAPHS,
    GraphError,
    check_available,
    get_graph,
    referenced_args,
    resolve,
    when_values,
)

LAUNCH_DIR = share_dir() / "launch"
REQUIRED_LAUNCH = {"train_rl", "run_vla", "collect", "teleop"}


@pytest.mark.parametrize("graph", GRAPHS.values(), ids=list(GRAPHS))
def test_graph_is_consistent(graph):
    arg_names = [a.name for a in graph.args]
    assert len(arg_names) == len(set(arg_names)), "duplicate argument"
    node_names = [(n.namespace, n.name) for n in graph.nodes]
    for n in graph.nodes:
        assert n.executable in NODES, f"unknown executable {n.executable}"
        for f in n.params_files:
            assert config_path(f).is_file(), f"missing params file {f}"
        if n.when:
            choices = graph.arg(n.when[0]).choices
            assert choices is None or set(when_values(n)) <= set(choices), f"{n.name}: condition never matches"
    # a node name may repeat only under mutually exclusive conditions on the same argument
    for key in set(node_names):
        dupes = [n for n in graph.nodes if (n.namespace, n.name) == key]
        if len(dupes) > 1:
            assert all(d.when and d.when[0] == dupes[0].when[0] for d in dupes)
            values = [v for d in dupes for v in when_values(d)]
            assert len(values) == len(set(values)), f"{key}: overlapping conditions"
    assert referenced_args(graph) <= set(arg_names)
    for a in graph.args:
        assert a.choices is None or a.default in a.choices


def test_every_executable_has_an_installed_console_script():
    installed = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    for line in console_scripts():
        name, target = (s.strip() for s in line.split("="))
        assert installed.get(name) == target, f"console script {name} not installed (run make setup)"
        assert (Path(sys.executable).parent / name).is_file()


def _launch_graph_name(path: Path) -> str:
    calls = [n for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Call)
             and getattr(n.func, "id", None) == "launch_description"]
    assert len(calls) == 1, f"{path.name}: expected one launch_description(...) call"
    return calls[0].args[0].value


def test_launch_files_name_existing_graphs():
    files = sorted(LAUNCH_DIR.glob("*.launch.py"))
    names = {p.name.removesuffix(".launch.py"): _launch_graph_name(p) for p in files}
    assert REQUIRED_LAUNCH <= set(names)
    for file_stem, graph_name in names.items():
        assert file_stem == graph_name and graph_name in GRAPHS


class _Recorder:
    """Stand-in for one launch/launch_ros class: records how our translation constructs it."""

    def __init__(self, kind, *args, **kwargs):
        self.kind, self.args, self.kwargs = kind, args, kwargs


def _fake_launch_modules(monkeypatch, share):
    def cls(kind):
        return lambda *a, **k: _Recorder(kind, *a, **k)

    mods = {
        "launch": types.SimpleNamespace(LaunchDescription=lambda actions: list(actions)),
        "launch.actions": types.SimpleNamespace(DeclareLaunchArgument=cls("arg")),
        "launch.conditions": types.SimpleNamespace(IfCondition=cls("if")),
        "launch.substitutions": types.SimpleNamespace(LaunchConfiguration=cls("lc"), PythonExpression=cls("expr")),
        "launch_ros.actions": types.SimpleNamespace(Node=cls("node")),
        "ament_index_python.packages": types.SimpleNamespace(get_package_share_directory=lambda pkg: str(share)),
    }
    for name, mod in mods.items():
        monkeypatch.setitem(sys.modules, name, mod)


@pytest.mark.parametrize("path", sorted(LAUNCH_DIR.glob("*.launch.py")), ids=lambda p: p.name)
def test_launch_file_builds_nodes_from_the_spec(monkeypatch, path):
    """Run the launch file against recording stand-ins of launch/launch_ros (not installable here)."""
    _fake_launch_modules(monkeypatch, share_dir())
    actions = runpy.run_path(str(path))["generate_launch_description"]()
    graph = get_graph(path.name.removesuffix(".launch.py"))
    declared = [a.args[0] for a in actions if a.kind == "arg"]
    nodes = [a.kwargs for a in actions if a.kind == "node"]
    assert declared == [a.name for a in graph.args]
    assert [n["executable"] for n in nodes] == [s.executable for s in graph.nodes]
    for kw, spec in zip(nodes, graph.nodes, strict=True):
        assert kw["package"] == "rldg_ros" and kw["name"] == spec.name
        files = [p for p in kw["parameters"] if isinstance(p, str)]
        assert all(Path(f).is_file() for f in files), files
        assert (kw["condition"] is not None) == (spec.when is not None)


def test_resolve_substitutes_args_and_conditions():
    nodes = resolve(get_graph("train_rl"), {"task": "pick_place/train", "input": "keyboard"})
    names = [n.spec.name for n in nodes]
    assert "keyboard_teleop" in names and "spacemouse_hid" not in names and "recorder" not in names
    bridge = next(n for n in nodes if n.spec.name == "robot_bridge")
    assert bridge.parameters == {"backend": "sim", "task": "pick_place/train", "realtime": "false",
                                 "lockstep": "true"}
    expert = resolve(get_graph("train_rl"), {"input": "expert"})
    cell = next(n for n in expert if n.spec.name == "robot_bridge")  # the scripted intervener lives in the cell
    assert cell.parameters["scripted.policy"] == "expert" and "scripted.always" not in cell.parameters
    args = bridge.ros_args()
    assert args[:3] == ["--ros-args", "-r", "__node:=robot_bridge"]
    assert "task:=pick_place/train" in args
    smoke = resolve(get_graph("smoke"), {})
    listener = next(n for n in smoke if n.spec.name == "demo_listener")
    assert "report_path:=''" in listener.ros_args()  # empty string stays a string
    assert "--params-file" in listener.ros_args()


def test_rl_training_selects_on_seeds_of_its_own():
    """The stop rule's evaluation rounds choose the specialist: never on the held-out evaluation seeds."""
    from rldg_ros.graphs import FLEET_EVAL_STRIDE, MAX_ACTORS
    from rldg_ros.spec import EVAL_FIRST_SEED, RL_SELECT_FIRST_SEED, TUNING_FIRST_SEED

    def actors(graph, args):
        return [n for n in resolve(get_graph(graph), args) if n.spec.name == "rl_actor"]

    (train,) = actors("train_rl", {})
    assert int(train.parameters["eval_first_seed"]) == RL_SELECT_FIRST_SEED
    fleet = [int(n.parameters["eval_first_seed"]) for n in actors("train_rl_fleet", {"actors": str(MAX_ACTORS)})]
    assert fleet == [RL_SELECT_FIRST_SEED + i * FLEET_EVAL_STRIDE for i in range(MAX_ACTORS)]
    held_out = range(EVAL_FIRST_SEED, TUNING_FIRST_SEED)
    assert not any(s in held_out or s + FLEET_EVAL_STRIDE - 1 in held_out for s in [*fleet])
    (evaluation,) = actors("eval_rl", {})
    assert "eval_first_seed" not in evaluation.parameters  # rl.yaml's default: the held-out seeds


@pytest.mark.parametrize("args, message", [
    ({"tsak": "x"}, "has no argument(s) ['tsak']"),
    ({"robot": "ur5"}, "robot:='ur5' is not one of"),
])
def test_bad_graph_args_are_rejected(args, message):
    with pytest.raises(GraphError) as exc:
        resolve(get_graph("train_rl"), args)
    assert message in str(exc.value)


def test_unknown_graph():
    with pytest.raises(GraphError, match="unknown graph 'nope'"):
        get_graph("nope")


def test_a_graph_naming_an_unknown_executable_is_refused():
    import dataclasses

    graph = get_graph("smoke")
    bad = dataclasses.replace(graph, nodes=(*graph.nodes, dataclasses.replace(graph.nodes[0], executable="nope")))
    with pytest.raises(GraphError, match="executables this package does not have: nope"):
        check_available(resolve(bad, {}))


def test_readme_documents_every_topic_and_graph():
    from rldg_ros.topics import ALL

    readme = (share_dir() / "README.md").read_text()
    for t in ALL:
        assert f"`{t.name}`" in readme and t.type in readme, t.name
    for g in GRAPHS:
        assert g in readme


def test_rldg_up_stops_the_graph_in_stages(tmp_path, monkeypatch):
    """`rldg up --processes` stops stage 0 (the RL actor) and waits for it before it tells stage 1 (the learner) to
    stop, so the learner is there while the actor hands over its outbox."""
    import textwrap

    from rldg_ros import up as up_mod
    from rldg_ros.graphs import NodeSpec, ResolvedNode

    log = tmp_path / "order.txt"
    script = tmp_path / "node.py"
    script.write_text(textwrap.dedent(f"""
        import signal, sys, time
        name = sys.argv[sys.argv.index("-r") + 1].split(":=")[1]
        def stop(*_):
            time.sleep(0.5 if name == "actor" else 0.0)  # the actor takes a while to drain
            open({str(log)!r}, "a").write(name + "\\n")
            sys.exit(0)
        signal.signal(signal.SIGINT, stop)
        open({str(log)!r}, "a").write("up " + name + "\\n")
        while True:
            time.sleep(0.05)
    """))
    monkeypatch.setattr(up_mod, "find_executable", lambda name: sys.executable)
    nodes = [ResolvedNode(NodeSpec(str(script), name, stop_stage=stage), {}, (), ())
             for name, stage in (("learner", 1), ("actor", 0), ("sim", 0))]
    # the script is passed as the "executable" to python: ros_args follow it
    monkeypatch.setattr(ResolvedNode, "ros_args",
                        lambda self: [self.spec.executable, "-r", f"__node:={self.spec.name}"])
    import threading

    def stop_when_all_up():
        for _ in range(600):
            if log.is_file() and log.read_text().count("up ") == 3:
                break
            threading.Event().wait(0.05)
        import os
        import signal as sig
        os.kill(os.getpid(), sig.SIGINT)

    threading.Thread(target=stop_when_all_up, daemon=True).start()
    assert up_mod.run_processes(nodes, duration=60, log=lambda *a, **k: None) == 0
    order = [line for line in log.read_text().splitlines() if not line.startswith("up ")]
    assert sorted(order[:2]) == ["actor", "sim"] and order[2] == "learner", order


def test_spin_until_stopped_keeps_spinning_while_a_node_drains():
    from rldg_ros.spinning import spin_until_stopped

    class Executor:
        def __init__(self):
            import threading
            self.stop = threading.Event()

        def spin(self):
            self.stop.wait()

        def shutdown(self):
            self.stop.set()

    ex = Executor()
    polls = []

    def drain():
        polls.append(not ex.stop.is_set())  # the executor still spins while the node drains
        return len(polls) >= 3

    assert spin_until_stopped(ex, lambda: True, poll_s=0.01, drain=drain, drain_timeout_s=60.0)
    assert polls == [True, True, True] and ex.stop.is_set()
    # a node that never drains is stopped at the timeout
    ex2, n = Executor(), []
    assert spin_until_stopped(ex2, lambda: True, poll_s=0.01, drain=lambda: n.append(1) or False,
                              drain_timeout_s=0.1)
    assert n and ex2.stop.is_set()
