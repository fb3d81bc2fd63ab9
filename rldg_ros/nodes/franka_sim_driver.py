"""``franka_sim_driver``: the MuJoCo cell behind franka_ros2's topic interface.

It stands in for the robot + franka_ros2 + a Cartesian impedance controller + the wrist RealSense, so that
``robot_bridge`` with ``backend: franka_ros2`` is exercised end to end against physics, not against a mock:

* in:  ``cartesian_impedance_controller/target_pose`` (PoseStamped), ``gripper/width_command`` (Float64)
* out: ``franka_robot_state_broadcaster/current_pose`` (PoseStamped) and ``.../external_wrench_in_base_frame``
  (WrenchStamped), best effort as the real broadcaster; ``joint_states``; the wrist camera under realsense names.

Physics runs on its own thread in real time: the impedance controller at every physics step, state published at
``state_hz``, images at ``camera_hz``.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
from geometry_msgs.msg import PoseStamped, WrenchStamped
from sensor_msgs.msg import CameraInfo, Image, JointState
from std_msgs.msg import Float64

from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.nodes.base import RldgNode, paced
from rldg_ros.nodes.convert import camera_info, image_msg
from rldg_ros.qos import RELIABLE_10, SENSOR


@dataclass
class FrankaSimDriverConfig:
    task: str = param("connector_insertion/usb", help="sim task id (scene)")
    seed: int = param(0, min=-1, help="seed of the scene (-1: random)")
    state_hz: float = param(100.0, min=10.0, max=1000.0, help="robot state publish rate (Hz)")
    camera_hz: float = param(10.0, min=1.0, max=60.0, help="wrist image rate (Hz)")
    image_size: int = param(128, min=32, max=512, help="wrist image size (px)")
    frame_id: str = param("base", help="base frame")
    camera_frame_id: str = param("camera_color_optical_frame", help="camera frame")
    target_pose: str = param("cartesian_impedance_controller/target_pose", help="PoseStamped target (in)")
    current_pose: str = param("franka_robot_state_broadcaster/current_pose", help="PoseStamped (out)")
    external_wrench: str = param("franka_robot_state_broadcaster/external_wrench_in_base_frame",
                                 help="WrenchStamped (out)")
    joint_states: str = param("joint_states", help="JointState (out)")
    gripper_command: str = param("gripper/width_command", help="Float64 finger width (in)")


class FrankaSimDriver(RldgNode):
    CONFIG = FrankaSimDriverConfig
    DEFAULT_NAME = "franka_sim_driver"

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        c = self.cfg
        self.lock = threading.Lock()
        self.target: tuple[np.ndarray, np.ndarray] | None = None
        self.gripper_width_cmd: float | None = None
        self.pub_pose = self.create_publisher(PoseStamped, c.current_pose, SENSOR)
        self.pub_wrench = self.create_publisher(WrenchStamped, c.external_wrench, SENSOR)
        self.pub_joints = self.create_publisher(JointState, c.joint_states, SENSOR)
        self.pub_image = self.create_publisher(Image, topics.WRIST_IMAGE.name, SENSOR)
        self.pub_info = self.create_publisher(CameraInfo, topics.WRIST_CAMERA_INFO.name, SENSOR)
        self.create_subscription(PoseStamped, c.target_pose, self._on_target, RELIABLE_10)
        self.create_subscription(Float64, c.gripper_command, self._on_gripper, RELIABLE_10)
        self.stopping = threading.Event()
        self.ready = threading.Event()
        self.loop = threading.Thread(target=self._run, name="franka_sim_driver", daemon=True)
        self.loop.start()
        if not self.ready.wait(60) or self.fatal_error:
            raise RuntimeError(self.fatal_error or "the sim cell did not start within 60 s")

    def _on_target(self, msg: PoseStamped) -> None:
        p, o = msg.pose.position, msg.pose.orientation
        pos, quat = np.array([p.x, p.y, p.z]), np.array([o.w, o.x, o.y, o.z])
        if not (np.all(np.isfinite(pos)) and np.all(np.isfinite(quat)) and np.linalg.norm(quat) > 0.5):
            self.get_logger().error(f"target pose refused (NaN or invalid quaternion): {pos}, {quat}")
            return
        with self.lock:
            self.target = (pos, quat / np.linalg.norm(quat))

    def _on_gripper(self, msg: Float64) -> None:
        with self.lock:
            self.gripper_width_cmd = float(msg.data)

    def _run(self) -> None:
        from rldg_ros.sim import make_env
        from rldg_ros.sim.env import WRIST_CAMERA, CellConfig

        c = self.cfg
        try:
            env = make_env(c.task, CellConfig(image_size=c.image_size))
            env.reset(seed=None if c.seed < 0 else c.seed)
            fovy = float(env.model.cam_fovy[env.model.camera(WRIST_CAMERA).id])
        except Exception as exc:  # noqa: BLE001
            self.fail(f"sim cell failed to start: {exc}")
            self.ready.set()
            return
        self.ready.set()
        period = 1.0 / c.state_hz
        frames_per_image = max(1, int(round(c.state_hz / c.camera_hz)))
        try:
            for tick in paced(period, self.stopping):
                with self.lock:
                    target, width = self.target, self.gripper_width_cmd
                    self.gripper_width_cmd = None
                if target is not None:
                    env.controller.set_target(*target)
                if width is not None:
                    env.gripper_cmd = 1.0 if width < 0.04 else -1.0
                env.advance(period)
                stamp = self.get_clock().now().to_msg()
                self._publish_state(env, stamp)
                if tick % frames_per_image == 0:
                    size = c.image_size
                    self.pub_image.publish(image_msg(env.render_camera(WRIST_CAMERA), stamp, c.camera_frame_id))
                    self.pub_info.publish(camera_info(size, size, fovy, stamp, c.camera_frame_id))
        except Exception as exc:  # noqa: BLE001
            self.fail(f"sim loop died: {exc!r}")
        finally:
            env.close()

    def _publish_state(self, env, stamp) -> None:
        pos, quat = env.tcp_pose()
        pose = PoseStamped()
        pose.header.stamp, pose.header.frame_id = stamp, self.cfg.frame_id
        pose.pose.position.x, pose.pose.position.y, pose.pose.position.z = (float(v) for v in pos)
        o = pose.pose.orientation
        o.w, o.x, o.y, o.z = (float(v) for v in quat)
        self.pub_pose.publish(pose)
        w = env.contact_wrench()
        wrench = WrenchStamped()
        wrench.header = pose.header
        wrench.wrench.force.x, wrench.wrench.force.y, wrench.wrench.force.z = (float(v) for v in w[:3])
        wrench.wrench.torque.x, wrench.wrench.torque.y, wrench.wrench.torque.z = (float(v) for v in w[3:])
        self.pub_wrench.publish(wrench)
        js = JointState()
        js.header = pose.header
        js.name = [f"fr3_joint{i}" for i in range(1, 8)]
        js.position = [float(v) for v in env.data.qpos[env.arm_qadr]]
        js.velocity = [float(v) for v in env.data.qvel[env.arm_dofs]]
        self.pub_joints.publish(js)

    def shutdown(self) -> None:
        self.stopping.set()
        self.loop.join(timeout=5)
