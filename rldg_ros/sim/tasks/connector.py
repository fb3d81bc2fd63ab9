"""Connector insertion (paper: male connector pre-grasped, start in a 10x10 cm plane 5 cm above a fixed port).

Each connector is a rigidly held peg with its own convex cross-section and a port whose hole is that section
grown by half the clearance on every side. Seen: USB, Ethernet, VGA. Unseen: Type-C, HDMI, DisplayPort, XLR.
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
PEG_OUT = 0.030  # peg length below the TCP (tip = TCP + 3 cm along the approach axis)
PEG_IN = 0.010  # peg length inside the fingers
WALL = 0.012  # port wall thickness
INSERT_DEPTH = 0.012  # success: tip this far below the port's top face


def _mirror(poly: np.ndarray) -> np.ndarray:
    """TCP-frame section -> world-frame section when the TCP points down (its y axis flips)."""
    return (poly * [1.0, -1.0])[::-1]


class ConnectorInsertion(Task):
    family = "connector_insertion"
    time_limit = 100  # 10 s at 10 Hz
    grasping = False

    def __init__(self, connector: str) -> None:
        if connector not in CONNECTORS:
            raise KeyError(f"unknown connector {connector!r}; connectors: {sorted(CONNECTORS)}")
        self.conn = CONNECTORS[connector]
        self.variant = connector
        self.instruction = f"insert the {connector.replace('_', '-')} connector into the port"
        top = PORT_HEIGHT
        self.ws_low = np.array([PORT_POS[0] - 0.08, PORT_POS[1] - 0.08, top + PEG_OUT - 0.02])
        self.ws_high = np.array([PORT_POS[0] + 0.08, PORT_POS[1] + 0.08, top + PEG_OUT + 0.12])

    # -- scene -------------------------------------------------------------------------------------------------
    def build(self, spec, tcp_body, tcp_pos) -> None:
        sec = self.conn.section
        assert geo.is_ccw_convex(sec), self.variant
        verts = [[x, y, z] for z in (-PEG_IN, PEG_OUT) for x, y in sec]
        spec.add_mesh(name="peg_mesh", uservert=np.asarray(verts, float).ravel().tolist())
        # the peg collides with the port only (contype 2), never with the fingers holding it
        tcp_body.add_geom(name="peg", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="peg_mesh", pos=tcp_pos,
                          rgba=self.conn.rgba, contype=2, conaffinity=2, mass=0.02, solref=[0.004, 1],
                          friction=[0.4, 0.005, 0.0001], condim=3)
        tcp_body.add_site(name="peg_tip", pos=tcp_pos + [0, 0, PEG_OUT], size=[0.001] * 3, group=4)

        port = spec.worldbody.add_body(name="port", pos=[PORT_POS[0], PORT_POS[1], 0.0])
        hole = geo.offset_convex(_mirror(sec), self.conn.clearance / 2)
        for i, (mid, e, n, length) in enumerate(geo.polygon_edges(hole)):
            centre = mid + n * WALL / 2
            yaw = np.arctan2(e[1], e[0])
            port.add_geom(name=f"port_wall{i}", type=mujoco.mjtGeom.mjGEOM_BOX,
                          size=[length / 2 + WALL, WALL / 2, PORT_HEIGHT / 2],
                          pos=[centre[0], centre[1], PORT_HEIGHT / 2], quat=geo.yaw_quat(yaw),
                          rgba=(0.12, 0.12, 0.14, 1), contype=3, conaffinity=3, solref=[0.004, 1],
                          friction=[0.4, 0.005, 0.0001], condim=3)
        port.add_site(name="port_top", pos=[0, 0, PORT_HEIGHT], size=[0.001] * 3, group=4)

    def sample_start(self, rng: np.random.Generator) -> Start:
        xy = PORT_POS + rng.uniform(-0.05, 0.05, size=2)
        tip_z = PORT_HEIGHT + 0.05
        return Start(tcp_pos=np.array([xy[0], xy[1], tip_z + PEG_OUT]), tcp_yaw=0.0)

    # -- outcome -----------------------------------------------------------------------------------------------
    def tip(self, env) -> np.ndarray:
        return env.data.site_xpos[env.model.site("peg_tip").id].copy()

    def insertion_depth(self, env) -> float:
        return PORT_HEIGHT - float(self.tip(env)[2])

    def lateral_error(self, env) -> float:
        return float(np.linalg.norm(self.tip(env)[:2] - PORT_POS))

    def success(self, env) -> bool:
        return self.insertion_depth(env) >= INSERT_DEPTH and self.lateral_error(env) < 0.004

    def phase(self, env) -> str:
        return "inserting" if self.insertion_depth(env) > 0 else "approach"

    # -- demonstrators -----------------------------------------------------------------------------------------
    def waypoint(self, env, style) -> Waypoint:
        tip = self.tip(env)
        err = np.linalg.norm(tip[:2] - PORT_POS)
        tcp, _ = env.tcp_pose()
        offset = tcp - tip  # TCP above the tip
        above = PORT_HEIGHT + 0.006
        in_hole = tip[2] < PORT_HEIGHT - 0.001
        # hysteresis: a descent that started aligned continues while the error stays within 1.5x the tolerance
        descending = tip[2] < above + 0.002 and err <= 1.5 * style.align_tolerance
        if in_hole or err <= style.align_tolerance or descending:
            goal_tip = np.array([PORT_POS[0], PORT_POS[1], PORT_HEIGHT - INSERT_DEPTH - 0.004])
            return Waypoint(goal_tip + offset, 0.0, precise=True, descend=True)
        goal_tip = np.array([PORT_POS[0], PORT_POS[1], max(above, min(tip[2], above + 0.03))])
        return Waypoint(goal_tip + offset, 0.0, precise=err < 0.01)
