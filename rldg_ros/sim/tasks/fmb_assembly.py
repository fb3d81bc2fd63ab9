"""FMB single-object assembly (paper): grasp the object ~20 cm from the insertion area, then insert it.

Two task ids share this module:

* ``fmb_assembly``: the whole task; ``info["phase"]`` is ``grasp`` until the block is held, ``transport`` while it
  is carried to above the board, then ``insertion`` (latched for the episode) once the held block is where the
  insertion stage starts: within ``HANDOFF_XY`` of the hole, at the insertion start's height.
* ``fmb_assembly/insertion``: the insertion phase alone with its own start distribution, as the paper trains RL
  on it: pre-grasped 15 cm above the board, 5x5 cm randomisation, grasp pose perturbed.

RLDG on the whole task (the paper: "RL only for the insertion stage", 20/20 vs 12/20 human-only): the specialist
trains on ``fmb_assembly/insertion`` (``rl_task``) and the fine-tuning data mixes the human demonstrations' grasp and
transport segments (``human_phases``) with the specialist's insertion rollouts. The human-like demonstrator carries
the block to the insertion start's height above the hole, so the two kinds of segment meet.
"""

from __future__ import annotations

import mujoco
import numpy as np

from rldg_ros.sim import geometry as geo
from rldg_ros.sim.tasks.base import Start, Waypoint
from rldg_ros.sim.tasks.peg import FMB_PEG, INSERT_DEPTH, PORT_HEIGHT, PegInsertion

BLOCK_HALF = 0.025  # the hexagonal block is 5 cm tall
GRASP_BELOW_TOP = 0.012  # fingers close this far below the block's top
BOARD_XY = np.array([0.55, 0.06])
PICK_XY = BOARD_XY + [0.0, -0.20]  # the block starts ~20 cm from the board
CARRY_Z = 0.17
INSERT_START_Z = PORT_HEIGHT + 0.15 + BLOCK_HALF + GRASP_BELOW_TOP  # TCP height where the insertion stage starts
HANDOFF_XY = 0.015  # the insertion stage starts this close to the hole (inside its start distribution, +-2.5 cm)


class FmbAssembly(PegInsertion):
    family = "fmb_assembly"
    grasping = True
    wall = 0.035
    port_rgba = (0.2, 0.45, 0.3, 1)
    conn = FMB_PEG
    yaw_period = np.pi / 3  # a hexagon fits every 60 degrees
    instruction = "pick up the hexagonal block and insert it into the board"
    ws_low = np.array([0.35, -0.30, 0.005])
    ws_high = np.array([0.75, 0.30, 0.30])

    def __init__(self, insertion_only: bool = False) -> None:
        super().__init__()
        self.insertion_only = insertion_only
        self.variant = "insertion" if insertion_only else ""
        self.time_limit = 150 if insertion_only else 350
        self._inserting = False  # the whole task: the insertion phase began this episode (latched)
        if insertion_only:
            self.instruction = "insert the hexagonal block into the board"
        else:
            self.rl_task, self.human_phases = "fmb_assembly/insertion", ("grasp", "transport")

    # -- scene -------------------------------------------------------------------------------------------------
    def build_peg(self, spec, tcp_body, tcp_pos) -> None:  # noqa: ARG002 - the block is a free body here
        verts = [[x, y, z] for z in (-BLOCK_HALF, BLOCK_HALF) for x, y in self.conn.section]
        spec.add_mesh(name="block_mesh", uservert=np.asarray(verts, float).ravel().tolist())
        body = spec.worldbody.add_body(name="block", pos=[PICK_XY[0], PICK_XY[1], BLOCK_HALF])
        body.add_freejoint(name="block")
        body.add_geom(name="block", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="block_mesh", rgba=self.conn.rgba,
                      mass=0.05, friction=[1.2, 0.01, 0.001], condim=4, solref=[0.004, 1])
        body.add_site(name="block_bottom", pos=[0, 0, -BLOCK_HALF], size=[0.001] * 3, group=4)

    def sample_port(self, rng: np.random.Generator) -> tuple[np.ndarray, float]:
        return BOARD_XY + rng.uniform(-0.025, 0.025, size=2), 0.0

    def sample_start(self, rng: np.random.Generator) -> Start:
        port_xy, port_yaw = self.sample_port(rng)
        if self.insertion_only:
            tcp = np.array([port_xy[0], port_xy[1], INSERT_START_Z])
            tcp[:2] += rng.uniform(-0.025, 0.025, size=2)
            # grasp perturbation: the block sits a little off-centre, lower/higher and turned in the fingers
            grasp = {"dz": float(rng.uniform(-0.004, 0.004)), "dx": float(rng.uniform(-0.002, 0.002)),
                     "dyaw": float(rng.uniform(-0.15, 0.15))}
            return Start(tcp, 0.0, {"port_xy": port_xy, "port_yaw": port_yaw, "grasp": grasp})
        block = PICK_XY + rng.uniform(-0.025, 0.025, size=2)
        tcp = np.array([block[0], block[1] + 0.08, CARRY_Z])
        return Start(tcp, 0.0, {"port_xy": port_xy, "port_yaw": port_yaw, "block_xy": block,
                                "block_yaw": float(rng.uniform(-0.3, 0.3))})

    def apply_start(self, env, start: Start) -> None:
        super().apply_start(env, start)
        self._inserting = False
        adr = env.model.jnt_qposadr[env.model.joint("block").id]
        if self.insertion_only:
            g = start.objects["grasp"]
            # the TCP (pinch point) sits GRASP_BELOW_TOP under the block's top face
            centre = start.tcp_pos + [g["dx"], 0.0, -(BLOCK_HALF - GRASP_BELOW_TOP) + g["dz"]]
            env.data.qpos[adr:adr + 7] = [*centre, *geo.yaw_quat(g["dyaw"])]
            env.gripper_cmd = 1.0  # pre-grasped: the fingers close on it while the reset settles
            self._pinned = env.data.qpos[adr:adr + 7].copy()
        else:
            xy = start.objects["block_xy"]
            env.data.qpos[adr:adr + 7] = [xy[0], xy[1], BLOCK_HALF + 0.0005,
                                          *geo.yaw_quat(start.objects["block_yaw"])]

    def during_settle(self, env, fraction: float) -> None:
        """Pre-grasped start: hold the block in place while the fingers close, then let friction take it."""
        if self.insertion_only and fraction < 0.7:
            m = env.model
            adr, dof = m.jnt_qposadr[m.joint("block").id], m.jnt_dofadr[m.joint("block").id]
            env.data.qpos[adr:adr + 7] = self._pinned
            env.data.qvel[dof:dof + 6] = 0.0

    # -- state -------------------------------------------------------------------------------------------------
    def block_pose(self, env) -> tuple[np.ndarray, np.ndarray]:
        b = env.model.body("block").id
        return env.data.xpos[b].copy(), env.data.xmat[b].reshape(3, 3).copy()

    def tip(self, env) -> np.ndarray:
        return env.data.site_xpos[env.model.site("block_bottom").id].copy()

    def peg_yaw_in_hand(self, env) -> float:
        _, rot = self.block_pose(env)
        tcp_rot = geo.quat_to_mat(env.tcp_pose()[1])
        block_yaw = np.arctan2(rot[1, 0], rot[0, 0])
        tcp_yaw = np.arctan2(tcp_rot[1, 0], tcp_rot[0, 0])
        sym = np.pi / 3  # hexagon: yaw matters modulo 60 degrees
        return float((block_yaw - tcp_yaw + sym / 2) % sym - sym / 2)

    def held(self, env) -> bool:
        tcp, _ = env.tcp_pose()
        pos, _ = self.block_pose(env)
        near = np.linalg.norm(pos[:2] - tcp[:2]) < 0.012 and abs(pos[2] + BLOCK_HALF - GRASP_BELOW_TOP - tcp[2]) < 0.01
        return bool(env.gripper_cmd > 0 and near and env.gripper_width() < 0.033)

    def in_hole(self, env) -> bool:
        """The block's bottom is below the board's top face *inside the hole* (not just low, on the table)."""
        return self.insertion_depth(env) > 0.002 and self.lateral_error(env) < 0.01

    def success(self, env) -> bool:
        return self.insertion_depth(env) >= INSERT_DEPTH and self.lateral_error(env) < 0.004

    def phase(self, env) -> str:
        if self.insertion_only or self._inserting:
            return "insertion"
        if self.in_hole(env):
            self._inserting = True
            return "insertion"
        if not self.held(env):
            return "grasp"
        if self.at_insertion_start(env):
            self._inserting = True
            return "insertion"
        return "transport"

    def at_insertion_start(self, env) -> bool:
        """The held block is where the insertion stage (``fmb_assembly/insertion``) starts: above the hole within
        ``HANDOFF_XY``, the TCP at most 2 cm below the insertion start's height."""
        tcp, _ = env.tcp_pose()
        return bool(np.linalg.norm(self.tip(env)[:2] - self.port_xy) < HANDOFF_XY and tcp[2] > INSERT_START_Z - 0.02)

    # -- demonstrators -----------------------------------------------------------------------------------------
    def waypoint(self, env, style) -> Waypoint:
        tcp, quat = env.tcp_pose()
        phase = self.phase(env)
        if phase == "transport":  # lift, then carry the block to the insertion start's height above the hole
            goal_yaw = self.port_yaw - self.peg_yaw_in_hand(env)
            if tcp[2] < INSERT_START_Z - 0.05:
                return Waypoint(np.array([tcp[0], tcp[1], INSERT_START_Z]), goal_yaw)
            offset = tcp - self.tip(env)
            return Waypoint(np.array([self.port_xy[0] + offset[0], self.port_xy[1] + offset[1], INSERT_START_Z]),
                            goal_yaw)
        if phase == "insertion" and (self.in_hole(env) or self.held(env)):
            wp = super().waypoint(env, style)
            wp.gripper = 1.0
            return wp
        pos, rot = self.block_pose(env)
        grasp_z = pos[2] + BLOCK_HALF - GRASP_BELOW_TOP
        # fingers across two parallel faces: TCP yaw = block yaw modulo 60 degrees (closest to the current yaw)
        block_yaw = np.arctan2(rot[1, 0], rot[0, 0])
        tcp_rot = geo.quat_to_mat(quat)
        tcp_yaw = np.arctan2(tcp_rot[1, 0], tcp_rot[0, 0])
        sym = np.pi / 3
        goal_yaw = tcp_yaw + ((block_yaw - tcp_yaw + sym / 2) % sym - sym / 2)
        xy_err = np.linalg.norm(tcp[:2] - pos[:2])
        if xy_err > max(0.003, 3 * style.align_tolerance) and tcp[2] > grasp_z + 0.02:
            return Waypoint(np.array([pos[0], pos[1], max(grasp_z + 0.06, min(tcp[2], CARRY_Z))]), goal_yaw,
                            gripper=-1.0, precise=xy_err < 0.02)
        if abs(tcp[2] - grasp_z) > 0.005 and env.gripper_cmd < 0:
            near = tcp[2] < grasp_z + 0.03
            return Waypoint(np.array([pos[0], pos[1], grasp_z]), goal_yaw, gripper=-1.0, precise=near, descend=near)
        return Waypoint(np.array([pos[0], pos[1], grasp_z]), goal_yaw, gripper=1.0)
