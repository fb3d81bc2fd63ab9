"""The graph spec, the launch files built from it, and the executables they name."""

import ast
import importlib.metadata
import runpy
import subprocess
import sys
import types
from pathlib import Path

import pytest

from rldg_ros import config_path, share_dir
from rldg_ros.executables import NODES, PLANNED, console_scripts
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
        assert n.executable in NODES or n.executable in PLANNED, f"unknown executable {n.executable}"
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


@pytest.mark.skipif(not PLANNED, reason="every planned executable is implemented")
def test_planned_nodes_fail_clearly():
    name, issue = sorted(PLANNED.items())[0]
    r = subprocess.run([str(Path(sys.executable).parent / name)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert f"{name} is not yet available" in r.stderr and f"issue #{issue}" in r.stderr
    graph = next(g for g in GRAPHS.values() if any(n.executable == name for n in g.nodes))
    with pytest.raises(GraphError, match=f"{name} \\(issue #{issue}\\)"):
        check_available(resolve(graph, {}))


def test_readme_documents_every_topic_and_graph():
    from rldg_ros.topics import ALL

    readme = (share_dir() / "README.md").read_text()
    for t in ALL:
        assert f"`{t.name}`" in readme and t.type in readme, t.name
    for g in GRAPHS:
        assert g in readme
