"""The one graph spec: which nodes make up each rldg graph, with their parameters and remappings.

Two consumers translate it, and nothing else describes a graph:

* ``launch/*.launch.py`` (via :mod:`rldg_ros.launch_support`) for users with a ROS 2 distro;
* ``rldg up GRAPH key:=value`` (via :mod:`rldg_ros.up`) here, in one process or one process per node.

A parameter or remapping value may be an :class:`Arg`, the value of a graph argument (``task:=...``), and a node
may be conditional on an argument (``when=("record", "true")``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rldg_ros import config_path, topics
from rldg_ros.executables import NODES
from rldg_ros.spec import COLLECT_FIRST_SEED, EVAL_FIRST_SEED, RL_SELECT_FIRST_SEED


@dataclass(frozen=True)
class Arg:
    """Reference to a graph argument's value, resolved at launch time."""

    name: str


@dataclass(frozen=True)
class ArgSpec:
    name: str
    default: str
    description: str
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NodeSpec:
    executable: str
    name: str
    params_files: tuple[str, ...] = ()  # files under config/ (nodes/...), applied in order
    parameters: Mapping[str, Any] = field(default_factory=dict)  # dotted name -> value or Arg
    remappings: tuple[tuple[str, Any], ...] = ()  # (from, to); to may be an Arg
    namespace: str = ""
    when: tuple[str, str | tuple[str, ...]] | None = None  # (argument, value or values): include if it matches
    package: str = "rldg_ros"
    #: restarted with back-off when it crashes (launch's ``respawn``); exiting 0 still means "finished". The robot
    #: bridge never is: a crashed bridge stops the graph (the arm holds on its own controller) for a human to look
    respawn: bool = False
    #: ``rldg up --processes`` stops the graph in stages, lowest first, each stage stopped before the next is told
    #: to stop: the RL learner (stage 1) outlives the actor (0), which hands over every transition before it exits
    stop_stage: int = 0


@dataclass(frozen=True)
class GraphSpec:
    name: str
    description: str
    args: tuple[ArgSpec, ...]
    nodes: tuple[NodeSpec, ...]
    #: ``rldg up`` default: one process per node (as a launch file does). The RL graphs need it: in one process the
    #: Python executor's wait loop and the cell's controller share one GIL and the cell ran 3 instead of 17 steps/s
    processes: bool = False

    def arg(self, name: str) -> ArgSpec:
        for a in self.args:
            if a.name == name:
                return a
        raise KeyError(name)


class GraphError(ValueError):
    """A graph or its arguments are invalid."""


# -- shared argument declarations --------------------------------------------------------------------------
TASK = ArgSpec("task", "connector_insertion/usb", "task id from the task registry (e.g. pick_place/train)")
ROBOT = ArgSpec("robot", "sim", "robot backend: the MuJoCo cell or a real Franka through franka_ros2",
                ("sim", "franka_ros2"))
CAMERA = ArgSpec("camera", "sim", "wrist camera source: sim = rendered by the cell (robot_bridge); realsense = "
                 "realsense2_camera running; the camera node adapts either to rldg/wrist/image", ("sim", "realsense"))
INPUT = ArgSpec("input", "spacemouse", "human input for interventions",
                ("spacemouse", "keyboard", "expert", "human_like", "none"))
RECORD = ArgSpec("record", "false", "record the graph's topics to rosbag2", ("true", "false"))
BAG_DIR = ArgSpec("bag_dir", "bags", "directory for recorded bags")

_CELL = (
    NodeSpec("robot_bridge", "robot_bridge", params_files=("nodes/robot_bridge.yaml", "nodes/franka.yaml"),
             parameters={"backend": Arg("robot"), "task": Arg("task")}),
    NodeSpec("camera", "camera", parameters={"backend": Arg("camera")}),
)
# teleop: with input:=expert|human_like the cell's scripted demonstrator drives every step (scripted teleop)
_BRIDGE_FILES = ("nodes/robot_bridge.yaml", "nodes/franka.yaml")
_TELEOP_CELL = (
    NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES,
             parameters={"backend": Arg("robot"), "task": Arg("task")},
             when=("input", ("spacemouse", "keyboard", "none"))),
    *(NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES,
               parameters={"backend": Arg("robot"), "task": Arg("task"), "scripted.policy": style,
                           "scripted.always": "true", "realtime": Arg("realtime"), "lockstep": "true"},
               when=("input", style)) for style in ("expert", "human_like")),
    _CELL[1],
)
SIM_REALTIME = ArgSpec("realtime", "true", "sim: real time (true), or lock-step with the commands as fast as "
                       "possible (false: scripted or policy input only; evaluation uses it)", ("true", "false"))
# RL graphs: the sim cell runs as fast as the policy loop allows (realtime:=false, lock-step with the actor)
_RL_ARGS = (
    ArgSpec("realtime", "false", "sim: step in real time (true) or in lock-step with the actor as fast as "
            "possible (false); a real robot is always real time", ("true", "false")),
    ArgSpec("reward", "classifier", "reward source: a trained classifier (reward_model:=) or, in sim only, the "
            "cell's ground truth", ("classifier", "sim_ground_truth")),
    ArgSpec("reward_model", "", "reward classifier checkpoint directory ('rldg reward train')"),
    ArgSpec("backbone", "", "obs:=pixels: a generalist as the policy's frozen backbone (octo:PATH, e.g. "
            "octo:models/bases/octo-style-tiny-simbase); empty: the conv encoder"),
    ArgSpec("encoder", "", "obs:=pixels: a pretrained visual encoder ('rldg rl encoder') or reward classifier "
            "checkpoint, kept frozen; empty: the conv encoder learns from scratch"),
    ArgSpec("embed_cache", "0", "pixels with a frozen encoder or a backbone: augmented embeddings kept per frame "
            "in the replay (0: encode the images in every update; a backbone always caches, at least 1)"),
)
_REWARD_NODE = NodeSpec("reward_classifier", "reward_classifier", params_files=("nodes/reward_classifier.yaml",),
                        parameters={"task": Arg("task"), "source": Arg("reward"), "model": Arg("reward_model")})


def _rl_cell(with_interventions: bool) -> tuple[NodeSpec, ...]:
    """robot_bridge for the RL graphs; with input:=expert|human_like the cell's scripted intervener takes over
    when its rules fire (stuck, left the region), as a human would with the SpaceMouse."""
    base = {"backend": Arg("robot"), "task": Arg("task"), "realtime": Arg("realtime"), "lockstep": "true"}
    if not with_interventions:
        return (NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES, parameters=base),)
    return (
        NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES, parameters=base,
                 when=("input", ("spacemouse", "keyboard", "none"))),
        *(NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES,
                   parameters={**base, "scripted.policy": style}, when=("input", style))
          for style in ("expert", "human_like")),
    )


_RECORDER = NodeSpec("recorder", "recorder", parameters={"out_dir": Arg("bag_dir")}, when=("record", "true"))

#: the RL fleet: up to this many actor cells (``actors:=N``) feed one learner
MAX_ACTORS = 4
#: the actor <-> learner link, shared by every cell of a fleet (absolute names out of the cells' namespaces)
_LINK_REMAPS = tuple((t.name, "/" + t.name) for t in (topics.TRANSITIONS, topics.TRANSITION_ACK, topics.POLICY_PARAMS))


def _fleet_cell(i: int) -> tuple[NodeSpec, ...]:
    """Actor cell ``i`` of ``train_rl_fleet``: its own robot, camera, mux, reward and actor under ``actor_<i>/``,
    its own training and evaluation seeds, the link topics shared with the fleet's learner."""
    ns, when = f"actor_{i}", ("actors", tuple(str(n) for n in range(i + 1, MAX_ACTORS + 1)))
    bridge = {"backend": Arg("robot"), "task": Arg("task"), "realtime": Arg("realtime"), "lockstep": "true",
              "seed": str(i)}
    return (
        NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES, namespace=ns, when=when,
                 parameters={**bridge, "scripted.policy": Arg("intervener")}),
        NodeSpec("camera", "camera", parameters={"backend": Arg("camera")}, namespace=ns, when=when, respawn=True),
        NodeSpec("intervention_mux", "intervention_mux", parameters={"input": "none"}, namespace=ns, when=when,
                 respawn=True),
        dataclasses.replace(_REWARD_NODE, namespace=ns, when=when, respawn=True),
        NodeSpec("rl_actor", "rl_actor", params_files=("nodes/rl.yaml",), namespace=ns, when=when, respawn=True,
                 remappings=_LINK_REMAPS, parameters={
                     "task": Arg("task"), "run_dir": Arg("run_dir"), "eval_every": Arg("eval_every"),
                     "seed": str(i), "first_seed": str(i * FLEET_SEED_STRIDE),
                     "eval_first_seed": str(RL_SELECT_FIRST_SEED + i * FLEET_EVAL_STRIDE)}),
    )


#: training seeds of actor i start at i x this; its evaluation rounds at RL_SELECT_FIRST_SEED + i x FLEET_EVAL_STRIDE,
#: so no two actors run the same episode and neither reaches the held-out evaluation seeds
FLEET_SEED_STRIDE = 10_000
FLEET_EVAL_STRIDE = 1_000

GRAPHS: dict[str, GraphSpec] = {
    g.name: g
    for g in (
        GraphSpec(
            "smoke",
            "two demo nodes exchanging rldg_msgs/Action: checks rclpy, DDS and rldg_msgs on this machine",
            (
                ArgSpec("rate_hz", "20.0", "talker publish rate"),
                ArgSpec("report_path", "", "listener writes a JSON report here at shutdown"),
            ),
            (
                NodeSpec("demo_talker", "demo_talker", params_files=("nodes/demo.yaml",),
                         parameters={"rate_hz": Arg("rate_hz")}),
                NodeSpec("demo_listener", "demo_listener", params_files=("nodes/demo.yaml",),
                         parameters={"report_path": Arg("report_path")}),
            ),
        ),
        GraphSpec(
            "train_rl",
            "train an RL specialist: cell, camera, intervention mux, reward classifier, SAC/RLPD actor + learner",
            (TASK, ROBOT, CAMERA, INPUT, RECORD, BAG_DIR, *_RL_ARGS,
             ArgSpec("run_dir", "runs/rl", "learner checkpoints and logs (a restart resumes from here)"),
             ArgSpec("obs", "state", "what the policy sees: pixels (wrist image + proprio), state (proprio), "
                     "privileged (sim only: + ground-truth goal, labelled)", ("pixels", "state", "privileged")),
             ArgSpec("demos", "scripted:human_like", "initial demos: scripted:<expert|human_like> (sim), a buffer "
                     ".npz, or none"),
             ArgSpec("eval_every", "10", "evaluation episodes after every N training episodes (0: none)"),
             ArgSpec("eval_gate", "0.5", "evaluate only once this fraction of the last eval_every training "
                     "episodes succeeded with no intervention (0: every round)"),
             ArgSpec("stop_after_eval_successes", "0", "stop training once the last N evaluation episodes all "
                     "succeeded (0: run until stopped or --duration)")),
            (
                *_rl_cell(with_interventions=True),
                NodeSpec("camera", "camera", parameters={"backend": Arg("camera")}, respawn=True),
                NodeSpec("intervention_mux", "intervention_mux", parameters={"input": Arg("input")}, respawn=True),
                NodeSpec("spacemouse_hid", "spacemouse_hid", when=("input", "spacemouse"), respawn=True),
                NodeSpec("keyboard_teleop", "keyboard_teleop", when=("input", "keyboard")),
                dataclasses.replace(_REWARD_NODE, respawn=True),
                NodeSpec("rl_actor", "rl_actor", params_files=("nodes/rl.yaml",), parameters={
                    "task": Arg("task"), "run_dir": Arg("run_dir"), "eval_every": Arg("eval_every"),
                    "eval_gate": Arg("eval_gate"), "stop_after_eval_successes": Arg("stop_after_eval_successes"),
                    "eval_first_seed": str(RL_SELECT_FIRST_SEED)},
                         respawn=True),
                # the learner resumes from run_dir (checkpoint + write-ahead log); the actor keeps acting on its last
                # policy meanwhile and resends what the learner has not acknowledged
                NodeSpec("rl_learner", "rl_learner", params_files=("nodes/rl.yaml",), parameters={
                    "task": Arg("task"), "run_dir": Arg("run_dir"), "obs.mode": Arg("obs"), "demos": Arg("demos"),
                    "backbone": Arg("backbone"), "encoder_checkpoint": Arg("encoder"),
                    "agent.embed_cache": Arg("embed_cache")},
                    respawn=True, stop_stage=1),
                _RECORDER,
            ),
            processes=True,
        ),
        GraphSpec(
            "train_rl_fleet",
            "several actor cells (each: robot, camera, mux, reward, actor under actor_<i>/) feeding one learner: "
            "per-actor transitions and acknowledgements, the policy broadcast to all",
            (TASK, ROBOT, CAMERA, *_RL_ARGS,
             ArgSpec("actors", "2", "actor cells", tuple(str(n) for n in range(1, MAX_ACTORS + 1))),
             ArgSpec("intervener", "none", "sim: the cells' scripted intervener (expert, human_like) or none",
                     ("none", "expert", "human_like")),
             ArgSpec("run_dir", "runs/rl_fleet", "learner checkpoints and logs; each actor's under actors/<name>"),
             ArgSpec("obs", "state", "what the policy sees", ("pixels", "state", "privileged")),
             ArgSpec("demos", "scripted:human_like", "initial demos: scripted:<expert|human_like> (sim), a buffer "
                     ".npz, or none"),
             ArgSpec("eval_every", "10", "evaluation episodes after every N training episodes, per actor (0: none)")),
            (
                *(node for i in range(MAX_ACTORS) for node in _fleet_cell(i)),
                NodeSpec("rl_learner", "rl_learner", params_files=("nodes/rl.yaml",), parameters={
                    "task": Arg("task"), "run_dir": Arg("run_dir"), "obs.mode": Arg("obs"), "demos": Arg("demos"),
                    "backbone": Arg("backbone"), "encoder_checkpoint": Arg("encoder"),
                    "agent.embed_cache": Arg("embed_cache")},
                    respawn=True, stop_stage=1),
            ),
            processes=True,
        ),
        GraphSpec(
            "eval_rl",
            "evaluate a trained RL specialist: N deterministic episodes from a learner checkpoint, no learner",
            (TASK, ROBOT, CAMERA, *_RL_ARGS,
             ArgSpec("checkpoint", "runs/rl", "learner run_dir or checkpoint directory"),
             ArgSpec("episodes", "20", "evaluation episodes"),
             ArgSpec("report", "", "write a JSON summary of the episodes here"),
             ArgSpec("run_dir", "", "episode metrics go to run_dir/eval (empty: none)")),
            (
                *_rl_cell(with_interventions=False),
                NodeSpec("camera", "camera", parameters={"backend": Arg("camera")}),
                NodeSpec("intervention_mux", "intervention_mux", parameters={"input": "none"}),
                _REWARD_NODE,
                NodeSpec("rl_actor", "rl_actor", params_files=("nodes/rl.yaml",), parameters={
                    "task": Arg("task"), "eval_only": "true", "checkpoint": Arg("checkpoint"),
                    "episodes": Arg("episodes"), "report_path": Arg("report"), "run_dir": Arg("run_dir")}),
            ),
            processes=True,
        ),
        GraphSpec(
            "run_vla",
            "run a generalist policy at control rate through the same safety path",
            (TASK, ROBOT, CAMERA, RECORD, BAG_DIR, SIM_REALTIME,
             ArgSpec("model", "octo", "generalist family", ("octo", "openvla", "rl")),
             ArgSpec("checkpoint", "", "checkpoint directory"),
             ArgSpec("instruction", "", "language instruction (empty: the task's default)"),
             ArgSpec("evaluate", "false", "run seeded episodes (reset, ground-truth success or time limit) and stop "
                     "after episodes:=N", ("true", "false")),
             ArgSpec("episodes", "20", "evaluate:=true: number of episodes"),
             ArgSpec("first_seed", str(EVAL_FIRST_SEED), "evaluate:=true: seed of the first episode (then +1)"),
             ArgSpec("report", "", "evaluate:=true: write the episodes as JSON here")),
            (
                NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES,
                         parameters={"backend": Arg("robot"), "task": Arg("task"), "realtime": Arg("realtime"),
                                     "lockstep": "true"}),
                _CELL[1],
                NodeSpec("intervention_mux", "intervention_mux", parameters={"input": "none"}),
                NodeSpec("vla_policy", "vla_policy", parameters={
                    "model": Arg("model"), "checkpoint": Arg("checkpoint"), "instruction": Arg("instruction"),
                    "task": Arg("task")}),
                NodeSpec("teleop_episodes", "teleop_episodes", parameters={
                    "task": Arg("task"), "input": "none", "auto_start": "true", "episodes": Arg("episodes"),
                    "first_seed": Arg("first_seed"), "report_path": Arg("report")}, when=("evaluate", "true")),
                _RECORDER,
            ),
            processes=True,  # the model, the cell's renderer and DDS each get a process (no shared GIL)
        ),
        GraphSpec(
            "collect",
            "roll out a policy for N episodes and record them (scripted demonstrators, or an RL checkpoint's "
            "policy: the RLDG data)",
            (TASK, ROBOT, CAMERA, BAG_DIR, *_RL_ARGS,
             ArgSpec("policy", "expert", "who acts: a scripted demonstrator, or rl (checkpoint:=)",
                     ("expert", "human_like", "rl")),
             ArgSpec("checkpoint", "", "policy:=rl: learner run_dir or checkpoint directory"),
             ArgSpec("sample_actions", "true", "policy:=rl: sample actions from the specialist's policy, as HIL-SERL "
                     "rolls it out (convert with --relabel CKPT to label each step with its mean action), or take "
                     "its mean (a thin tube of states: clones poorly, docs/generalists.md)", ("true", "false")),
             ArgSpec("rollout_noise", "0.0", "policy:=rl: Gaussian noise (std, action units) added to each executed "
                     "action, for states off the specialist's path (label them with convert --relabel)"),
             ArgSpec("rollout_noise_steps", "1.0", "policy:=rl: correlation time of rollout_noise in control steps "
                     "(1: white noise)"),
             ArgSpec("episodes", "20", "number of episodes"),
             ArgSpec("successes", "0", "stop once this many episodes succeeded (0: run all `episodes`)"),
             ArgSpec("report", "", "write the episodes (seed, success, steps) as JSON here"),
             ArgSpec("first_seed", str(COLLECT_FIRST_SEED), "seed of the first episode (then +1); evaluation uses "
                     f"{EVAL_FIRST_SEED} and up"),
             ArgSpec("record", "true", "record the graph's topics to rosbag2", ("true", "false")),
             ArgSpec("instruction", "", "the language instruction the recorded episodes carry (empty: the task's "
                     "own)")),
            (
                *(NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES,
                           parameters={"backend": Arg("robot"), "task": Arg("task"), "scripted.policy": style,
                                       "scripted.always": "true"},
                           when=("policy", style)) for style in ("expert", "human_like")),
                NodeSpec("robot_bridge", "robot_bridge", params_files=_BRIDGE_FILES,
                         parameters={"backend": Arg("robot"), "task": Arg("task"), "realtime": Arg("realtime"),
                                     "lockstep": "true"}, when=("policy", "rl")),
                NodeSpec("camera", "camera", parameters={"backend": Arg("camera")}),
                *(NodeSpec("intervention_mux", "intervention_mux", parameters={"input": style},
                           when=("policy", style)) for style in ("expert", "human_like")),
                NodeSpec("intervention_mux", "intervention_mux", parameters={"input": "none"}, when=("policy", "rl")),
                NodeSpec("teleop_episodes", "teleop_episodes", parameters={
                    "task": Arg("task"), "input": Arg("policy"), "episodes": Arg("episodes"),
                    "successes": Arg("successes"), "first_seed": Arg("first_seed"), "report_path": Arg("report"),
                    "instruction": Arg("instruction")}, when=("policy", ("expert", "human_like"))),
                NodeSpec("reward_classifier", "reward_classifier", params_files=("nodes/reward_classifier.yaml",),
                         parameters={"task": Arg("task"), "source": Arg("reward"), "model": Arg("reward_model")},
                         when=("policy", "rl")),
                NodeSpec("rl_actor", "rl_actor", params_files=("nodes/rl.yaml",), parameters={
                    "task": Arg("task"), "eval_only": "true", "checkpoint": Arg("checkpoint"),
                    "sample_actions": Arg("sample_actions"), "rollout_noise": Arg("rollout_noise"),
                    "rollout_noise_steps": Arg("rollout_noise_steps"),
                    "episodes": Arg("episodes"), "successes": Arg("successes"), "report_path": Arg("report"),
                    "eval_first_seed": Arg("first_seed"), "instruction": Arg("instruction")}, when=("policy", "rl")),
                _RECORDER,
            ),
        ),
        GraphSpec(
            "teleop",
            "record demonstrations by teleoperation (or a scripted demonstrator)",
            (TASK, ROBOT, CAMERA, INPUT, BAG_DIR, SIM_REALTIME,
             ArgSpec("episodes", "0", "stop after this many episodes (0: until stopped)"),
             ArgSpec("successes", "0", "also stop once this many episodes succeeded (0: no limit)"),
             ArgSpec("time_limit_s", "0.0", "episode time limit in seconds of control steps (0: the task's own)"),
             ArgSpec("record", "false", "record the graph's topics to rosbag2", ("true", "false")),
             ArgSpec("first_seed", "0", "seed of the first episode (then +1; -1: random)"),
             ArgSpec("report", "", "write the episodes (seed, success, steps) as JSON here at the end")),
            (
                *_TELEOP_CELL,
                NodeSpec("intervention_mux", "intervention_mux", parameters={"input": Arg("input")}),
                NodeSpec("spacemouse_hid", "spacemouse_hid", when=("input", "spacemouse")),
                NodeSpec("keyboard_teleop", "keyboard_teleop", when=("input", "keyboard")),
                NodeSpec("teleop_episodes", "teleop_episodes", parameters={
                    "task": Arg("task"), "input": Arg("input"), "episodes": Arg("episodes"),
                    "successes": Arg("successes"), "time_limit_s": Arg("time_limit_s"), "first_seed": Arg("first_seed"),
                    "report_path": Arg("report")}),
                _RECORDER,
            ),
        ),
    )
}


def when_values(spec: NodeSpec) -> tuple[str, ...]:
    """The argument values that include a conditional node."""
    value = spec.when[1]
    return (value,) if isinstance(value, str) else tuple(value)


def get_graph(name: str) -> GraphSpec:
    try:
        return GRAPHS[name]
    except KeyError:
        raise GraphError(f"unknown graph {name!r}; graphs: {sorted(GRAPHS)}") from None


def resolve_args(graph: GraphSpec, given: Mapping[str, str]) -> dict[str, str]:
    """Defaults + ``given``, checked against the graph's declared arguments and their choices."""
    known = {a.name: a for a in graph.args}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise GraphError(f"graph {graph.name!r} has no argument(s) {unknown}; arguments: {sorted(known)}")
    values = {a.name: a.default for a in graph.args}
    values.update(given)
    for name, value in values.items():
        choices = known[name].choices
        if choices and value not in choices:
            raise GraphError(f"{name}:={value!r} is not one of {list(choices)}")
    return values


@dataclass(frozen=True)
class ResolvedNode:
    """A node of a graph with its arguments substituted: everything needed to start it."""

    spec: NodeSpec
    parameters: dict[str, str]
    remappings: tuple[tuple[str, str], ...]
    params_files: tuple[str, ...]

    def ros_args(self) -> list[str]:
        """``--ros-args`` for this node: the same list for a process and for an in-process node."""
        args = ["--ros-args", "-r", f"__node:={self.spec.name}"]
        if self.spec.namespace:
            args += ["-r", f"__ns:=/{self.spec.namespace.strip('/')}"]
        for f in self.params_files:
            args += ["--params-file", f]
        for key, value in self.parameters.items():
            args += ["-p", f"{key}:={_yaml_scalar(value)}"]
        for src, dst in self.remappings:
            args += ["-r", f"{src}:={dst}"]
        return args


def _yaml_scalar(value: str) -> str:
    # an empty string must stay a string parameter, not YAML null
    return "''" if value == "" else value


def _sub(value: Any, args: Mapping[str, str]) -> str:
    return args[value.name] if isinstance(value, Arg) else str(value)


def resolve(graph: GraphSpec, given: Mapping[str, str]) -> list[ResolvedNode]:
    """The nodes to start for ``graph`` with arguments ``given``."""
    args = resolve_args(graph, given)
    nodes = []
    for spec in graph.nodes:
        if spec.when and args[spec.when[0]] not in when_values(spec):
            continue
        nodes.append(ResolvedNode(
            spec=spec,
            parameters={k: _sub(v, args) for k, v in spec.parameters.items()},
            remappings=tuple((src, _sub(dst, args)) for src, dst in spec.remappings),
            params_files=tuple(str(config_path(f)) for f in spec.params_files),
        ))
    return nodes


def check_available(nodes: list[ResolvedNode]) -> None:
    """Refuse to start a graph that names an executable this package does not have."""
    missing = [n.spec.executable for n in nodes if n.spec.executable not in NODES]
    if missing:
        raise GraphError(f"this graph needs executables this package does not have: {', '.join(missing)}")


def referenced_args(graph: GraphSpec) -> set[str]:
    """Names of arguments the graph's nodes use (for consistency checks)."""
    used = set()
    for spec in graph.nodes:
        values = list(spec.parameters.values()) + [dst for _, dst in spec.remappings]
        used |= {v.name for v in values if isinstance(v, Arg)}
        if spec.when:
            used.add(spec.when[0])
    return used
