"""``camera``: the wrist-camera adapter between a camera driver and the policies.

Input: a driver's colour stream (``backend: realsense``: realsense2_camera's ``camera/camera/color/image_raw``,
640x480 rgb8/bgr8 by default; ``backend: sim``: the cell's wrist camera, which robot_bridge publishes under the
same realsense name). Output: ``rldg/wrist/image`` (square rgb8 at the policy resolution: centre crop + resize)
and ``rldg/wrist/camera_info`` (intrinsics scaled to match). Malformed or unsupported frames are dropped with an
error log naming the problem, so a bad frame never reaches a policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import CameraInfo, Image

from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import image_msg, image_to_array
from rldg_ros.qos import SENSOR


@dataclass
class CameraConfig:
    backend: str = param("sim", choices=("sim", "realsense"), help="where the frames come from")
    source_image: str = param(topics.WRIST_IMAGE.name, help="driver colour stream (in)")
    source_info: str = param(topics.WRIST_CAMERA_INFO.name, help="driver intrinsics (in)")
    size: int = param(128, min=16, max=1024, help="output side length (px)")


def crop_resize(img: np.ndarray, size: int) -> tuple[np.ndarray, tuple[int, int, float]]:
    """Centre-crop to a square and resize (area-averaging when shrinking); returns (image, (x0, y0, scale))."""
    h, w = img.shape[:2]
    side = min(h, w)
    y0, x0 = (h - side) // 2, (w - side) // 2
    sq = img[y0:y0 + side, x0:x0 + side]
    if side != size:
        from PIL import Image as PILImage

        sq = np.asarray(PILImage.fromarray(sq).resize((size, size), PILImage.BOX if side > size else
                                                       PILImage.BILINEAR))
    return sq, (x0, y0, size / side)


def scale_info(info: CameraInfo, x0: int, y0: int, scale: float, size: int) -> CameraInfo:
    out = CameraInfo()
    out.header = info.header
    out.width = out.height = size
    out.distortion_model, out.d = info.distortion_model, list(info.d)
    k = list(info.k)
    k[0], k[4] = k[0] * scale, k[4] * scale
    k[2], k[5] = (k[2] - x0) * scale, (k[5] - y0) * scale
    out.k = k
    out.r = list(info.r)
    p = list(info.p)
    p[0], p[5] = p[0] * scale, p[5] * scale
    p[2], p[6] = (p[2] - x0) * scale, (p[6] - y0) * scale
    out.p = p
    return out


class Camera(RldgNode):
    CONFIG = CameraConfig
    DEFAULT_NAME = "camera"
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        self.info: CameraInfo | None = None
        self.dropped = 0
        self.pub_image = self.create_publisher(Image, topics.POLICY_IMAGE.name, SENSOR)
        self.pub_info = self.create_publisher(CameraInfo, topics.POLICY_CAMERA_INFO.name, SENSOR)
        self.create_subscription(Image, self.cfg.source_image, self._on_image, SENSOR)
        self.create_subscription(CameraInfo, self.cfg.source_info, self._on_info, SENSOR)

    def _on_info(self, msg: CameraInfo) -> None:
        self.info = msg

    def _on_image(self, msg: Image) -> None:
        try:
            img = image_to_array(msg)
        except ValueError as exc:
            self.dropped += 1
            self.get_logger().error(f"frame dropped: {exc}", throttle_duration_sec=1.0)
            return
        out, (x0, y0, scale) = crop_resize(img, self.cfg.size)
        self.pub_image.publish(image_msg(out, msg.header.stamp, msg.header.frame_id))
        if self.info is not None:
            self.pub_info.publish(scale_info(self.info, x0, y0, scale, self.cfg.size))
