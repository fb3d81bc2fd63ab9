"""Typed configs from ROS 2 params files: loading, validation errors, and the node-side path."""

from dataclasses import dataclass, field

import pytest
import yaml

from rldg_ros import config_path, share_dir
from rldg_ros.config import ConfigError, config_from_dict, flatten, load_config, param, params_for_node
from rldg_ros.executables import NODES
from rldg_ros.graphs import GRAPHS
from rldg_ros.nodes.base import node_class
from rldg_ros.nodes.demo import DemoTalkerConfig


@dataclass
class Camera:
    width: int = param(128, min=16, max=4096)
    encoding: str = param("rgb8", choices=("rgb8", "bgr8"))


@dataclass
class Cfg:
    rate_hz: float = param(10.0, min=0.1, max=1000.0)
    enabled: bool = param(True)
    names: list[str] = param(["a", "b"])
    box: list[float] = param([0.0, 1.0])
    camera: Camera = field(default_factory=Camera)


def _write(tmp_path, doc):
    p = tmp_path / "p.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_loads_node_entry_with_wildcard_and_nesting(tmp_path):
    p = _write(tmp_path, {
        "/**": {"ros__parameters": {"enabled": False, "rate_hz": 1.0}},
        "cam_node": {"ros__parameters": {"rate_hz": 30, "camera": {"width": 256}}},
        "other": {"ros__parameters": {"rate_hz": 2.0}},
    })
    cfg = load_config(Cfg, p, "cam_node")
    assert cfg.rate_hz == 30.0 and isinstance(cfg.rate_hz, float)  # int accepted for float
    assert cfg.enabled is False  # from the wildcard
    assert cfg.camera.width == 256 and cfg.camera.encoding == "rgb8"
    assert load_config(Cfg, p, "other").rate_hz == 2.0
    # dotted overrides, as '-p camera.width:=64' gives
    assert load_config(Cfg, p, "cam_node", overrides={"camera.width": 64}).camera.width == 64


@pytest.mark.parametrize("params, message", [
    ({"rate": 5.0}, "unknown key(s) ['rate']"),
    ({"rate_hz": "fast"}, "rate_hz: expected float, got str 'fast'"),
    ({"rate_hz": True}, "rate_hz: expected float, got bool"),
    ({"rate_hz": 0.0}, "rate_hz: 0.0 is out of range [0.1, 1000.0]"),
    ({"names": "a"}, "names: expected a list of str"),
    ({"box": [0.0, "x"]}, "box[1]: expected float"),
    ({"camera": {"encoding": "mono8"}}, "camera.encoding: 'mono8' is not one of ['rgb8', 'bgr8']"),
    ({"camera": {"width": 8}}, "camera.width: 8 is out of range [16, 4096]"),
    ({"camera": {"height": 8}}, "unknown key(s) ['height']"),
    ({"rate_hz": float("nan")}, "NaN is not allowed"),
])
def test_invalid_values_fail_with_a_message_naming_the_key(tmp_path, params, message):
    p = _write(tmp_path, {"n": {"ros__parameters": params}})
    with pytest.raises(ConfigError) as exc:
        load_config(Cfg, p, "n")
    assert message in str(exc.value)
    assert str(p) in str(exc.value)


@pytest.mark.parametrize("doc", [
    {"n": {"rate_hz": 1.0}},  # missing ros__parameters
    {"n": {"ros__parameters": [1, 2]}},
    ["not", "a", "mapping"],
])
def test_params_file_structure_is_checked(tmp_path, doc):
    p = _write(tmp_path, doc)
    with pytest.raises(ConfigError):
        params_for_node(p, "n")


def test_missing_file_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(Cfg, tmp_path / "nope.yaml", "n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("n: {ros__parameters: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(Cfg, bad, "n")


def test_every_config_file_validates_against_its_nodes_config_class():
    """Each node entry of config/nodes/*.yaml used by a graph loads into that node's dataclass."""
    checked = 0
    for graph in GRAPHS.values():
        for spec in graph.nodes:
            if spec.executable not in NODES:
                continue
            cls = node_class(spec.executable).CONFIG
            overrides = {}
            for f in spec.params_files:
                overrides.update(flatten(params_for_node(config_path(f), spec.name)))
            load_config(cls, None, spec.name, overrides=overrides)
            checked += len(spec.params_files)
    assert checked >= 2
    for path in (share_dir() / "config").glob("*/*.yaml"):
        assert path.is_file()


def test_demo_config_values():
    cfg = load_config(DemoTalkerConfig, config_path("nodes/demo"), "demo_talker")
    assert cfg.rate_hz == 20.0 and cfg.amplitude == 0.5
    assert config_from_dict(DemoTalkerConfig, {}).rate_hz == 20.0


def test_node_rejects_bad_parameters(ros_context):
    from rldg_ros.nodes.demo import DemoTalker

    with pytest.raises(ConfigError, match="rate_hz: -1.0 is out of range"):
        DemoTalker(context=ros_context, cli_args=["--ros-args", "-p", "rate_hz:=-1.0"])
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['bogus'\]"):
        DemoTalker(context=ros_context, cli_args=["--ros-args", "-p", "bogus:=1"])
    node = DemoTalker(context=ros_context, cli_args=["--ros-args", "-p", "rate_hz:=5.0"])
    try:
        assert node.cfg.rate_hz == 5.0
        # parameters not given are declared with their defaults
        assert node.get_parameter("amplitude").value == 0.5
    finally:
        node.destroy_node()
