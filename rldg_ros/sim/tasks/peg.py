"""Peg-in-hole tasks: a rigidly held peg with a convex cross-section and a port whose hole is that section grown by
half the clearance on every side (walls built from boxes along the hole's edges).

* Connector insertion (paper): connector pre-grasped, start in a 10x10 cm plane 5 cm above a fixed port.
  Seen: USB, Ethernet, VGA. Unseen: Type-C, HDMI, DisplayPort, XLR.
* FMB insertion (paper): pre-grasped object 15 cm above a board randomised in 35x35 cm with +-15 deg yaw,
  1.5 mm tolerance.
"""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from rldg_ros.sim import geometry as geo
from rldg_ros.sim.tasks.base import Start, Task, Waypoint


@dataclass(frozen=True)
class Connector:
    name: str
    section: np.ndarray  # convex, counter-clockwise, metres, in the TCP frame's (x, y)
    clearance: float  # total: hole width - peg width (m)
    rgba: tuple
    seen: bool


CONNECTORS = {c.name: c for c in (
    Connector("usb", geo.rectangle(0.0120, 0.0045), 0.0008, (0.75, 0.75, 0.78, 1), True),
    Connector("ethernet", geo.chamfered_rectangle(0.0117, 0.0080, 0.0015, (2, 3)), 0.0010, (0.2, 0.5, 0.9, 1), True),
    Connector("vga", geo.trapezoid(0.0160, 0.0190, 0.0080), 0.0008, (0.25, 0.3, 0.8, 1), True),
    Connector("type_c", geo.rounded_rectangle(0.0084, 0.0026, 0.0012), 0.0006, (0.3, 0.3, 0.3, 1), False),
    Connector("hdmi", geo.chamfered_rectangle(0.0140, 0.0045, 0.0013, (0, 1)), 0.0008, (0.1, 0.1, 0.1, 1), False),
    Connector("displayport", geo.chamfered_rectangle(0.0160, 0.0048, 0.0020, (1,)), 0.0008, (0.6, 0.6, 0.6, 1),
              False),
    Connector("xlr", geo.circle(0.0190, 20), 0.0010, (0.15, 0.15, 0.15, 1), False),
)}

PORT_POS = np.array([0.55, 0.0])  # fixed port position (x, y), m
PORT_HEIGHT = 0.025  # top of the port above the table
PEG_OUT = 0.040  # peg length below the TCP (tip = TCP + 4 cm along the approach axis): the fingers stay clear of
# the port top until the tip is ~22 mm deep, so the connector seats on the port's floor, not on the fingers
PEG_IN = 0.010  # peg length inside the fingers
WALL = 0.012  # port wall thickness
INSERT_DEPTH = 0.012  # success: tip this far below the port's top face
SEAT_DEPTH = 0.016  # the hole's floor: a fully inserted connector seats here (as a real plug's housing stops it)


def _mirror(poly: np.ndarray) -> np.ndarray:
    """TCP-frame section -> world-frame section when the TCP points down (its y axis flips)."""
    return (poly * [1.0, -1.0])[::-1]


class PegInsertion(Task):
    """A held peg into a port; subclasses choose the peg (``conn``), the wall thickness and the start/port poses."""

    grasping = False
    wall = WALL
    port_rgba = (0.12, 0.12, 0.14, 1)
    conn: Connector
    yaw_period = 2 * np.pi  # the privileged yaw feature wraps to this (the peg's rotational symmetry)

    def __init__(self) -> None:
        self.port_xy = PORT_POS.copy()
        self.port_yaw = 0.0

    # -- scene -------------------------------------------------------------------------------------------------
    def build(self, spec, tcp_body, tcp_pos) -> None:
        self.build_peg(spec, tcp_body, tcp_pos)
        self.build_port(spec)

    def build_peg(self, spec, tcp_body, tcp_pos) -> None:
        sec = self.conn.section
        assert geo.is_ccw_convex(sec), self.variant
        verts = [[x, y, z] for z in (-PEG_IN, PEG_OUT) for x, y in sec]
        spec.add_mesh(name="peg_mesh", uservert=np.asarray(verts, float).ravel().tolist())
        # the peg collides with the port only (contype 2), never with the fingers holding it
        tcp_body.add_geom(name="peg", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="peg_mesh", pos=tcp_pos,
                          rgba=self.conn.rgba, contype=2, conaffinity=2, mass=0.02, solref=[0.004, 1],
                          friction=[0.4, 0.005, 0.0001], condim=3)
        tcp_body.add_site(name="peg_tip", pos=tcp_pos + [0, 0, PEG_OUT], size=[0.001] * 3, group=4)

    def build_port(self, spec) -> None:
        sec = self.conn.section
        port = spec.worldbody.add_body(name="port", pos=[PORT_POS[0], PORT_POS[1], 0.0])
        hole = geo.offset_convex(_mirror(sec), self.conn.clearance / 2)
        w = self.wall
        for i, (mid, e, n, length) in enumerate(geo.polygon_edges(hole)):
            centre = mid + n * w / 2
            yaw = np.arctan2(e[1], e[0])
            port.add_geom(name=f"port_wall{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                          size=[length / 2 + w, w / 2, PORT_HEIGHT / 2],
                          pos=[centre[0], centre[1], PORT_HEIGHT / 2], quat=geo.yaw_quat(yaw),
                          rgba=self.port_rgba, contype=3, conaffinity=3, solref=[0.004, 1],
                          friction=[0.4, 0.005, 0.0001], condim=3)
        reach = float(np.max(np.linalg.norm(hole, axis=1))) + w
        floor_h = PORT_HEIGHT - SEAT_DEPTH
        port.add_geom(name="port_floor", type=mujoco.mjtGeom.mjGEOM_BOX, size=[reach, reach, floor_h / 2],
                      pos=[0, 0, floor_h / 2], rgba=self.port_rgba, contype=3, conaffinity=3, solref=[0.004, 1],
                      friction=[0.4, 0.005, 0.0001], condim=3)
        port.add_site(name="port_top", pos=[0, 0, PORT_HEIGHT], size=[0.001] * 3, group=4)

    def sample_port(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:  # noqa: ARG002
        return PORT_POS.copy(), 0.0

    def sample_start(self, rng: np.random.Generator) -> Start:
        port_xy, port_yaw = self.sample_port(rng)
        tcp, yaw = self.sample_tcp(rng, port_xy)
        return Start(tcp_pos=tcp, tcp_yaw=yaw, objects={"port_xy": port_xy, "port_yaw": port_yaw})

    def sample_tcp(self, rng: np.random.Generator, port_xy: np.ndarray) -> tuple[np.ndarray, float]:
        raise NotImplementedError

    def apply_start(self, env, start: Start) -> None:
        self.port_xy = np.asarray(start.objects["port_xy"], float)
        self.port_yaw = float(start.objects["port_yaw"])
        body = env.model.body("port").id  # a static body: moving it in the model moves its walls
        env.model.body_pos[body] = [self.port_xy[0], self.port_xy[1], 0.0]
        env.model.body_quat[body] = geo.yaw_quat(self.port_yaw)

    # -- outcome -----------------------------------------------------------------------------------------------
    def tip(self, env) -> np.ndarray:
        return env.data.site_xpos[env.model.site("peg_tip").id].copy()

    def insertion_depth(self, env) -> float:
        return PORT_HEIGHT - float(self.tip(env)[2])

    def lateral_error(self, env) -> float:
        return float(np.linalg.norm(self.tip(env)[:2] - self.port_xy))

    def success(self, env) -> bool:
        return self.insertion_depth(env) >= INSERT_DEPTH and self.lateral_error(env) < 0.004

    def phase(self, env) -> str:
        return "inserting" if self.insertion_depth(env) > 0 else "approach"

    def _yaw_error(self, env) -> float:
        _, quat = env.tcp_pose()
        return _wrap(self.port_yaw - self.peg_yaw_in_hand(env) - _tcp_yaw(quat), self.yaw_period)

    def privileged(self, env) -> np.ndarray:
        """The port's mouth relative to the peg tip **in the TCP frame** (the frame the actions move in; 5 cm -> 1)
        and the yaw that aligns peg and hole (rad, wrapped to the peg's symmetry); then the same errors on a fine,
        saturating scale (tanh of xy / 3 mm, z / 5 mm, yaw / 0.03 rad): a sub-millimetre clearance is ~0.01 on the
        coarse scale, too small for the networks to resolve next to unit-scale inputs."""
        tip = self.tip(env)
        _, quat = env.tcp_pose()
        d = geo.quat_to_mat(quat).T @ np.array([self.port_xy[0] - tip[0], self.port_xy[1] - tip[1],
                                                 PORT_HEIGHT - tip[2]])
        yaw = self._yaw_error(env)
        fine = np.tanh(np.array([d[0] / 0.003, d[1] / 0.003, d[2] / 0.005, yaw / 0.03]))
        return np.array([*d * 20.0, yaw, *fine], np.float32)

    def goal_distance(self, env) -> float:
        """Tip to the seated position, plus the yaw error as arc length at 15 mm (a 3 mm error ~ 0.2 rad)."""
        tip = self.tip(env)
        return float(np.linalg.norm(self.port_xy - tip[:2]) + abs(tip[2] - (PORT_HEIGHT - SEAT_DEPTH))
                     + 0.015 * abs(self._yaw_error(env)))

    # -- demonstrators -----------------------------------------------------------------------------------------
    def waypoint(self, env, style) -> Waypoint:
        tip = self.tip(env)
        port = self.port_xy
        err = np.linalg.norm(tip[:2] - port)
        tcp, quat = env.tcp_pose()
        offset = tcp - tip  # TCP above the tip
        above = PORT_HEIGHT + 0.006
        in_hole = tip[2] < PORT_HEIGHT - 0.001
        # the TCP yaw that aligns the peg with the hole (a peg held askew needs the TCP turned the other way)
        goal_yaw = self.port_yaw - self.peg_yaw_in_hand(env)
        yaw_ok = abs(_wrap(goal_yaw - _tcp_yaw(quat))) < 0.01 + 5 * style.align_tolerance
        # hysteresis: a descent that started aligned continues while the error stays within 1.5x the tolerance
        descending = tip[2] < above + 0.002 and err <= 1.5 * style.align_tolerance
        if in_hole or (yaw_ok and (err <= style.align_tolerance or descending)):
            goal_tip = np.array([port[0], port[1], PORT_HEIGHT - SEAT_DEPTH])  # seated
            # precise until the peg is in: the demonstrator slows down at the hole's mouth
            return Waypoint(goal_tip + offset, goal_yaw, precise=not in_hole, descend=True)
        goal_tip = np.array([port[0], port[1], max(above, min(tip[2], above + 0.03))])
        return Waypoint(goal_tip + offset, goal_yaw, precise=err < 0.01)

    def peg_yaw_in_hand(self, env) -> float:  # noqa: ARG002 - a rigidly held peg is aligned with the TCP
        return 0.0


def _wrap(a: float, period: float = 2 * np.pi) -> float:
    """An angle into [-period/2, period/2): a hexagonal peg fits its hole every 60 degrees."""
    return (a + period / 2) % period - period / 2


def _tcp_yaw(quat: np.ndarray) -> float:
    rot = geo.quat_to_mat(quat)
    return float(np.arctan2(rot[1, 0], rot[0, 0]))


class ConnectorInsertion(PegInsertion):
    family = "connector_insertion"
    time_limit = 100  # 10 s at 10 Hz

    def __init__(self, connector: str) -> None:
        super().__init__()
        if connector not in CONNECTORS:
            raise KeyError(f"unknown connector {connector!r}; connectors: {sorted(CONNECTORS)}")
        self.conn = CONNECTORS[connector]
        self.variant = connector
        self.instruction = f"insert the {connector.replace('_', '-')} connector into the port"
        top = PORT_HEIGHT
        self.ws_low = np.array([PORT_POS[0] - 0.08, PORT_POS[1] - 0.08, top + PEG_OUT - 0.02])
        self.ws_high = np.array([PORT_POS[0] + 0.08, PORT_POS[1] + 0.08, top + PEG_OUT + 0.12])

    def sample_tcp(self, rng: np.random.Generator, port_xy: np.ndarray) -> tuple[np.ndarray, float]:
        xy = port_xy + rng.uniform(-0.05, 0.05, size=2)  # a 10x10 cm plane
        return np.array([xy[0], xy[1], PORT_HEIGHT + 0.05 + PEG_OUT]), 0.0  # tip 5 cm above the port


FMB_REGION = np.array([0.55, 0.0])
FMB_PEG = Connector("hexagon", geo.circle(0.030, 6), 0.0015, (0.95, 0.55, 0.1, 1), True)


class FmbInsertion(PegInsertion):
    """FMB-style insertion: a hexagonal prism (30 mm across) into a board hole with 1.5 mm total tolerance."""

    family = "fmb_insertion"
    time_limit = 150
    wall = 0.035
    port_rgba = (0.2, 0.45, 0.3, 1)
    conn = FMB_PEG
    yaw_period = np.pi / 3  # a hexagon fits every 60 degrees
    instruction = "insert the hexagonal block into the board"
    ws_low = np.array([FMB_REGION[0] - 0.22, FMB_REGION[1] - 0.22, PORT_HEIGHT + PEG_OUT - 0.02])
    ws_high = np.array([FMB_REGION[0] + 0.22, FMB_REGION[1] + 0.22, PORT_HEIGHT + PEG_OUT + 0.2])

    def sample_port(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        return FMB_REGION + rng.uniform(-0.175, 0.175, size=2), float(rng.uniform(-np.pi / 12, np.pi / 12))

    def sample_tcp(self, rng: np.random.Generator, port_xy: np.ndarray) -> tuple[np.ndarray, float]:  # noqa: ARG002
        return np.array([FMB_REGION[0], FMB_REGION[1], PORT_HEIGHT + 0.15 + PEG_OUT]), 0.0
