"""Pretraining-only tasks: the sim's analogue of Open X-Embodiment for the tiny generalists' bases
(``rldg pretrain``). None of them is an evaluation task, and none uses an evaluation object:

* ``peg_insertion/pNN``: procedurally generated pegs (rectangles, chamfered and rounded rectangles, trapezoids,
  polygons) whose size differs from every connector's by a margin (``CONNECTOR_MARGIN``), with their own colour,
  clearance, table colour, and a port placed and turned at random.
* ``fmb_shapes/<shape>``: FMB-style board insertion of the FMB shapes other than the hexagon (the evaluation one).
* ``reach/<colour>``: move the gripper over a coloured target placed at random on the table, next to a grey one.
* ``pick_place_pretrain/<item>``: pick-place of objects other than the evaluation ones (pepper, corn).

Pushing is not in the corpus: the scripted pusher stalled against the block in the cell (the gripper rides up
the block instead of sliding it), so it is left for later rather than recorded as failures.

Each variant is deterministic in its name: the same task id always builds the same peg, colours and table.
"""

from __future__ import annotations

import colorsys

import mujoco
import numpy as np

from rldg_ros.sim import geometry as geo
from rldg_ros.sim.tasks import pick_place as pp
from rldg_ros.sim.tasks.base import Start, Task, Waypoint
from rldg_ros.sim.tasks.peg import (
    CONNECTORS,
    PEG_OUT,
    PORT_HEIGHT,
    PORT_POS,
    Connector,
    FmbInsertion,
    PegInsertion,
)

N_PEGS = 24
#: a generated peg's bounding box differs from every connector's by at least this (m, on width or height)
CONNECTOR_MARGIN = 0.002
PEG_KINDS = ("rectangle", "chamfered", "rounded", "trapezoid", "polygon")
COLOURS = {"red": (0.85, 0.15, 0.12), "green": (0.15, 0.7, 0.2), "blue": (0.15, 0.3, 0.9), "yellow": (0.92, 0.82, 0.1),
           "purple": (0.55, 0.2, 0.7), "orange": (0.95, 0.5, 0.1), "white": (0.92, 0.92, 0.92),
           "cyan": (0.1, 0.75, 0.8)}


def _bbox(section: np.ndarray) -> np.ndarray:
    return section.max(0) - section.min(0)


def _colour_name(rgb) -> str:
    return min(COLOURS, key=lambda k: float(np.sum((np.asarray(COLOURS[k]) - rgb) ** 2)))


def generated_peg(index: int) -> tuple[Connector, str, str]:
    """Peg ``index``: (its connector-like description, its kind, its colour name); deterministic in ``index``."""
    rng = np.random.default_rng(7919 * (index + 1))
    kind = PEG_KINDS[index % len(PEG_KINDS)]
    for _ in range(1000):
        w, h = float(rng.uniform(0.006, 0.026)), float(rng.uniform(0.003, 0.020))
        if kind == "rectangle":
            sec = geo.rectangle(w, h)
        elif kind == "chamfered":
            c = float(rng.uniform(0.1, 0.3)) * min(w, h)
            sec = geo.chamfered_rectangle(w, h, c, tuple(sorted(rng.choice(4, int(rng.integers(1, 5)), False))))
        elif kind == "rounded":
            sec = geo.rounded_rectangle(w, h, float(rng.uniform(0.15, 0.45)) * min(w, h))
        elif kind == "trapezoid":
            sec = geo.trapezoid(w, w * float(rng.uniform(1.15, 1.5)), h)
        else:
            sec = geo.circle(w, int(rng.choice([3, 4, 5, 6, 8, 12])))  # regular polygons, counter-clockwise
        box = _bbox(sec)
        far = all(np.max(np.abs(box - _bbox(c.section))) >= CONNECTOR_MARGIN for c in CONNECTORS.values())
        if far and geo.is_ccw_convex(sec) and box.min() >= 0.003:
            break
    else:  # pragma: no cover - the ranges leave plenty of room
        raise RuntimeError(f"peg {index}: no shape away from the connectors")
    hue = float(rng.uniform(0, 1))
    rgb = colorsys.hsv_to_rgb(hue, float(rng.uniform(0.5, 0.9)), float(rng.uniform(0.55, 0.95)))
    conn = Connector(f"p{index:02d}", sec, float(rng.uniform(0.0008, 0.0015)), (*rgb, 1.0), True)
    return conn, kind, _colour_name(rgb)


def _table(rng) -> tuple:
    return (*colorsys.hsv_to_rgb(float(rng.uniform(0, 1)), float(rng.uniform(0.05, 0.35)),
                                 float(rng.uniform(0.3, 0.6))), 1.0)


class GeneratedPegInsertion(PegInsertion):
    """A generated peg into its port; the port is placed within 4 cm of the connector port and turned +-20 deg."""

    family = "peg_insertion"
    time_limit = 100

    def __init__(self, index: int) -> None:
        super().__init__()
        self.conn, self.kind, colour = generated_peg(index)
        self.variant = self.conn.name
        rng = np.random.default_rng(104729 * (index + 1))
        self.table_rgba = _table(rng)
        self.table_texture = "checker" if rng.random() < 0.3 else "plain"
        self.port_rgba = (*colorsys.hsv_to_rgb(float(rng.uniform(0, 1)), 0.3, float(rng.uniform(0.1, 0.4))), 1.0)
        shape = {"rectangle": "rectangular", "chamfered": "chamfered", "rounded": "rounded",
                 "trapezoid": "trapezoidal", "polygon": "polygonal"}[self.kind]
        self.instruction = f"insert the {colour} {shape} peg into the hole"
        top = PORT_HEIGHT
        self.ws_low = np.array([PORT_POS[0] - 0.12, PORT_POS[1] - 0.12, top + PEG_OUT - 0.02])
        self.ws_high = np.array([PORT_POS[0] + 0.12, PORT_POS[1] + 0.12, top + PEG_OUT + 0.12])

    def sample_port(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        return PORT_POS + rng.uniform(-0.04, 0.04, size=2), float(rng.uniform(-np.pi / 9, np.pi / 9))

    def sample_tcp(self, rng: np.random.Generator, port_xy: np.ndarray) -> tuple[np.ndarray, float]:
        xy = port_xy + rng.uniform(-0.05, 0.05, size=2)
        return np.array([xy[0], xy[1], PORT_HEIGHT + 0.05 + PEG_OUT]), 0.0


FMB_SHAPES = {  # FMB's other convex shapes, 30 mm class like the hexagon, 1.5 mm tolerance; (section, symmetry)
    "square": (geo.rectangle(0.028, 0.028), np.pi / 2),
    "rectangle": (geo.rectangle(0.036, 0.020), np.pi),
    "triangle": (geo.circle(0.034, 3), 2 * np.pi / 3),
    "circle": (geo.circle(0.028, 20), 2 * np.pi / 20),
    "octagon": (geo.circle(0.030, 8), np.pi / 4),
}


class FmbShapeInsertion(FmbInsertion):
    family = "fmb_shapes"

    def __init__(self, shape: str) -> None:
        super().__init__()
        if shape not in FMB_SHAPES:
            raise KeyError(f"unknown FMB shape {shape!r}; shapes: {sorted(FMB_SHAPES)}")
        sec, self.yaw_period = FMB_SHAPES[shape]
        rgb = {"square": (0.2, 0.4, 0.9), "rectangle": (0.9, 0.2, 0.2), "triangle": (0.95, 0.85, 0.1),
               "circle": (0.6, 0.25, 0.75), "octagon": (0.1, 0.7, 0.6)}[shape]
        self.conn = Connector(shape, sec, 0.0015, (*rgb, 1.0), True)
        self.variant = shape
        self.instruction = f"insert the {shape} block into the board"


# -- reaching --------------------------------------------------------------------------------------------
REACH_REGION = (np.array([0.42, -0.16]), np.array([0.68, 0.16]))
REACH_Z = 0.06  # success: the TCP within 2 cm of this height over the target's centre


class Reach(Task):
    family = "reach"
    time_limit = 60
    grasping = False
    ws_low = np.array([0.35, -0.22, 0.03])
    ws_high = np.array([0.75, 0.22, 0.30])

    def __init__(self, colour: str) -> None:
        if colour not in COLOURS:
            raise KeyError(f"unknown colour {colour!r}; colours: {sorted(COLOURS)}")
        self.variant = colour
        self.rgb = COLOURS[colour]
        self.instruction = f"move the gripper over the {colour} target"
        self.target = np.zeros(2)

    def build(self, spec, tcp_body, tcp_pos) -> None:  # noqa: ARG002
        body = spec.worldbody.add_body(name="target", pos=[0.55, 0.0, 0.0])
        body.add_geom(name="target", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.025, 0.002, 0],
                      pos=[0, 0, 0.002], rgba=(*self.rgb, 1.0), contype=0, conaffinity=0)
        distractor = spec.worldbody.add_body(name="distractor", pos=[0.55, 0.1, 0.0])
        distractor.add_geom(name="distractor", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[0.025, 0.002, 0],
                            pos=[0, 0, 0.002], rgba=(0.5, 0.5, 0.5, 1.0), contype=0, conaffinity=0)

    def sample_start(self, rng: np.random.Generator) -> Start:
        lo, hi = REACH_REGION
        target = rng.uniform(lo, hi)
        while True:
            other = rng.uniform(lo, hi)
            if np.linalg.norm(other - target) > 0.08:
                break
        tcp = np.array([*(rng.uniform(lo, hi)), float(rng.uniform(0.12, 0.22))])
        return Start(tcp_pos=tcp, tcp_yaw=float(rng.uniform(-0.3, 0.3)), objects={"target": target, "other": other})

    def apply_start(self, env, start: Start) -> None:
        self.target = np.asarray(start.objects["target"], float)
        env.model.body_pos[env.model.body("target").id] = [*self.target, 0.0]
        env.model.body_pos[env.model.body("distractor").id] = [*start.objects["other"], 0.0]

    def _goal(self) -> np.ndarray:
        return np.array([*self.target, REACH_Z])

    def success(self, env) -> bool:
        tcp, _ = env.tcp_pose()
        return bool(np.linalg.norm(tcp - self._goal()) < 0.02)

    def privileged(self, env) -> np.ndarray:
        tcp, _ = env.tcp_pose()
        return ((self._goal() - tcp) * 10.0).astype(np.float32)

    def goal_distance(self, env) -> float:
        tcp, _ = env.tcp_pose()
        return float(np.linalg.norm(tcp - self._goal()))

    def waypoint(self, env, style) -> Waypoint:  # noqa: ARG002
        tcp, _ = env.tcp_pose()
        return Waypoint(self._goal(), 0.0, precise=np.linalg.norm(tcp - self._goal()) < 0.03)


PICK_ITEMS = {  # none of them is the evaluation's pepper or corn
    "eggplant": pp.Item("eggplant", 0.021, 0.030, (0.40, 0.12, 0.45, 1)),
    "carrot": pp.Item("carrot", 0.014, 0.035, (0.95, 0.45, 0.08, 1)),
    "cucumber": pp.Item("cucumber", 0.017, 0.045, (0.20, 0.55, 0.18, 1)),
    "radish": pp.Item("radish", 0.020, 0.015, (0.90, 0.25, 0.45, 1)),
}


class PretrainPickPlace(pp.PickPlace):
    family = "pick_place_pretrain"

    def __init__(self, item: str) -> None:
        if item not in PICK_ITEMS:
            raise KeyError(f"unknown pretraining item {item!r}; items: {sorted(PICK_ITEMS)}")
        self.variant = item
        self.item = PICK_ITEMS[item]
        self.instruction = f"put the {item} in the bowl"
        self.table_rgba = _table(np.random.default_rng(sum(map(ord, item))))


def register(tasks: dict) -> list[str]:
    """Add the pretraining tasks to the registry; returns their ids."""
    before = set(tasks)
    for i in range(N_PEGS):
        tasks[f"peg_insertion/p{i:02d}"] = (lambda i=i: GeneratedPegInsertion(i))
    for s in FMB_SHAPES:
        tasks[f"fmb_shapes/{s}"] = (lambda s=s: FmbShapeInsertion(s))
    for c in ("red", "green", "blue", "yellow"):
        tasks[f"reach/{c}"] = (lambda c=c: Reach(c))
    for it in PICK_ITEMS:
        tasks[f"pick_place_pretrain/{it}"] = (lambda it=it: PretrainPickPlace(it))
    return [k for k in tasks if k not in before]


PRETRAIN_FAMILIES = ("peg_insertion", "fmb_shapes", "reach", "pick_place_pretrain")
