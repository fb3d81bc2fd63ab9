"""Pick and place (paper: start 15 cm above the table, object random in an 18x18 cm region, bowl fixed 5 cm from
the region; unseen = a different object on a different table surface)."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np

from rldg_ros.sim.geometry import yaw_quat
from rldg_ros.sim.tasks.base import Start, Task, Waypoint

REGION_CENTRE = np.array([0.55, -0.06])
REGION_HALF = 0.09  # 18 x 18 cm
BOWL_RADIUS = 0.065
BOWL_CENTRE = np.array([0.55, REGION_CENTRE[1] + REGION_HALF + 0.05 + BOWL_RADIUS])  # rim 5 cm from the region
BOWL_HEIGHT = 0.035
CARRY_Z = 0.15  # TCP height while carrying (start height too)
# objects lie along y and the fingers open along x (TCP yaw 90 deg): open fingers never reach toward the bowl
GRASP_YAW = np.pi / 2
MIN_GRASP_Z = 0.026  # lowest TCP height for a grasp: the Robotiq fingertips reach ~2.3 cm below the pinch point


@dataclass(frozen=True)
class Item:
    name: str
    radius: float  # capsule lying along y
    half_length: float
    rgba: tuple
    mass: float = 0.05


ITEMS = {
    "pepper": Item("pepper", 0.019, 0.020, (0.85, 0.12, 0.08, 1)),
    "corn": Item("corn", 0.016, 0.040, (0.95, 0.80, 0.15, 1)),
}


class PickPlace(Task):
    family = "pick_place"
    time_limit = 200  # 20 s
    grasping = True
    ws_low = np.array([0.38, -0.20, 0.005])
    ws_high = np.array([0.72, 0.25, 0.25])

    def __init__(self, variant: str) -> None:
        if variant not in ("train", "unseen"):
            raise KeyError(f"pick_place variants: train, unseen (got {variant!r})")
        self.variant = variant
        self.item = ITEMS["pepper" if variant == "train" else "corn"]
        self.instruction = f"put the {self.item.name} in the bowl"
        if variant == "unseen":
            self.table_rgba = (0.25, 0.42, 0.30, 1.0)
            self.table_texture = "checker"

    def build(self, spec, tcp_body, tcp_pos) -> None:  # noqa: ARG002
        it = self.item
        body = spec.worldbody.add_body(name="object", pos=[REGION_CENTRE[0], REGION_CENTRE[1], it.radius])
        body.add_freejoint(name="object")
        body.add_geom(name="object", type=mujoco.mjtGeom.mjGEOM_CAPSULE, size=[it.radius, it.half_length, 0],
                      quat=[np.sqrt(0.5), -np.sqrt(0.5), 0, 0], rgba=it.rgba, mass=it.mass, friction=[1.2, 0.01, 0.001],
                      condim=4, solref=[0.005, 1])
        bowl = spec.worldbody.add_body(name="bowl", pos=[BOWL_CENTRE[0], BOWL_CENTRE[1], 0.0])
        bowl.add_geom(name="bowl_bottom", type=mujoco.mjtGeom.mjGEOM_CYLINDER, size=[BOWL_RADIUS, 0.003, 0],
                      pos=[0, 0, 0.003], rgba=(0.9, 0.9, 0.92, 1))
        n = 16
        for k in range(n):
            a = 2 * np.pi * k / n
            bowl.add_geom(name=f"bowl_wall{k}", type=mujoco.mjtGeom.mjGEOM_BOX,
                          size=[0.004, BOWL_RADIUS * np.pi / n + 0.002, BOWL_HEIGHT / 2],
                          pos=[BOWL_RADIUS * np.cos(a), BOWL_RADIUS * np.sin(a), BOWL_HEIGHT / 2],
                          quat=yaw_quat(a), rgba=(0.9, 0.9, 0.92, 1))

    def sample_start(self, rng: np.random.Generator) -> Start:
        obj = REGION_CENTRE + rng.uniform(-REGION_HALF, REGION_HALF, size=2)
        return Start(tcp_pos=np.array([REGION_CENTRE[0], REGION_CENTRE[1], CARRY_Z]), tcp_yaw=GRASP_YAW,
                     objects={"object_xy": obj})

    def apply_start(self, env, start: Start) -> None:
        adr = env.model.jnt_qposadr[env.model.joint("object").id]
        xy = start.objects["object_xy"]
        env.data.qpos[adr:adr + 7] = [xy[0], xy[1], self.item.radius + 0.0005, 1, 0, 0, 0]

    # -- state -------------------------------------------------------------------------------------------------
    def object_pos(self, env) -> np.ndarray:
        return env.data.xpos[env.model.body("object").id].copy()

    def in_bowl(self, env) -> bool:
        p = self.object_pos(env)
        # centre of mass inside the rim; a long object may rest propped on the rim, so allow it a little higher
        return bool(np.linalg.norm(p[:2] - BOWL_CENTRE) < BOWL_RADIUS - 0.008 and p[2] < BOWL_HEIGHT + 0.015)

    def held(self, env) -> bool:
        tcp, _ = env.tcp_pose()
        close = np.linalg.norm(self.object_pos(env) - tcp) < 0.025
        return bool(env.gripper_cmd > 0 and close and env.gripper_width() < 2 * self.item.radius + 0.004)

    def success(self, env) -> bool:
        return self.in_bowl(env) and env.gripper_cmd < 0

    def phase(self, env) -> str:
        return "carry" if self.held(env) else "reach"

    def privileged(self, env) -> np.ndarray:
        """Object and bowl relative to the TCP (10 cm -> 1) and whether the object is held."""
        tcp, _ = env.tcp_pose()
        return np.array([*(self.object_pos(env) - tcp) * 10.0, *(BOWL_CENTRE - tcp[:2]) * 10.0,
                         float(self.held(env))], np.float32)

    def goal_distance(self, env) -> float:
        """TCP to the object plus the object to the bowl: both shrink on the way to success."""
        tcp, _ = env.tcp_pose()
        obj = self.object_pos(env)
        return float(np.linalg.norm(obj - tcp) + np.linalg.norm(obj[:2] - BOWL_CENTRE))

    # -- demonstrators -----------------------------------------------------------------------------------------
    def waypoint(self, env, style) -> Waypoint:
        tcp, _ = env.tcp_pose()
        obj = self.object_pos(env)
        if self.in_bowl(env):
            return Waypoint(np.array([tcp[0], tcp[1], CARRY_Z]), GRASP_YAW, gripper=-1.0)
        if self.held(env):
            over_bowl = np.linalg.norm(tcp[:2] - BOWL_CENTRE) < 0.015
            if over_bowl:  # lower a little and release
                return Waypoint(np.array([BOWL_CENTRE[0], BOWL_CENTRE[1], 0.09]), GRASP_YAW,
                                gripper=-1.0 if tcp[2] < 0.10 else 1.0)
            z = CARRY_Z if tcp[2] < CARRY_Z - 0.03 and np.linalg.norm(tcp[:2] - obj[:2]) < 0.03 else tcp[2]
            target = np.array([BOWL_CENTRE[0], BOWL_CENTRE[1], max(z, 0.12)])
            return Waypoint(target, GRASP_YAW, gripper=1.0)
        grasp_z = max(obj[2], MIN_GRASP_Z)
        xy_err = np.linalg.norm(tcp[:2] - obj[:2])
        tol = max(0.004, 4 * style.align_tolerance)
        if xy_err > tol and tcp[2] > grasp_z + 0.02:  # above the object first
            return Waypoint(np.array([obj[0], obj[1], max(grasp_z + 0.06, min(tcp[2], CARRY_Z))]), GRASP_YAW,
                            gripper=-1.0, precise=xy_err < 0.02)
        if abs(tcp[2] - grasp_z) > 0.006 and env.gripper_cmd < 0:
            # free-space approach at full speed, the last 3 cm as a careful descent
            near = tcp[2] < grasp_z + 0.03
            return Waypoint(np.array([obj[0], obj[1], grasp_z]), GRASP_YAW, gripper=-1.0, precise=near, descend=near)
        return Waypoint(np.array([obj[0], obj[1], grasp_z]), GRASP_YAW, gripper=1.0)  # close and wait for the grasp
