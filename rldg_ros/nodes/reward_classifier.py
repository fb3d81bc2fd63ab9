"""``reward_classifier``: wrist image in -> ``rldg/reward`` out, one message per frame.

``source: classifier`` (default) runs a checkpoint from ``rldg reward train`` on each ``rldg/wrist/image`` frame:
probability, the threshold in force (the checkpoint's calibrated one unless ``threshold`` overrides it), and
``success`` once the probability has stayed above the threshold for ``k`` consecutive frames; ``reward`` is
``success_reward`` then, else 0. The latch resets at every episode start (``rldg/episode``). The reward carries
the image's stamp, so consumers pair it with the observation it judges.

``source: sim_ground_truth`` publishes the cell's privileged success (``rldg/sim/success``) in the same message
instead (probability 1 or 0): for comparing against the classifier, never on a real robot.

A frame that is not rgb8/bgr8, is malformed, or does not have the model's shape is rejected with an error log that
names the problem; nothing is published for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sensor_msgs.msg import Image
from std_msgs.msg import Bool

from rldg_msgs.msg import EpisodeEvent, Reward
from rldg_ros import topics
from rldg_ros.config import param
from rldg_ros.nodes.base import RldgNode
from rldg_ros.nodes.convert import image_to_array
from rldg_ros.qos import RELIABLE_10, SENSOR


@dataclass
class RewardClassifierConfig:
    source: str = param("classifier", choices=("classifier", "sim_ground_truth"),
                        help="a trained classifier, or the sim's ground truth (comparison only)")
    model: str = param("", help="checkpoint directory from 'rldg reward train' (source: classifier)")
    task: str = param("", help="task being run (a warning is logged if the model was not trained on it)")
    image_topic: str = param(topics.POLICY_IMAGE.name, help="wrist images in")
    k: int = param(3, min=1, max=100, help="consecutive frames above the threshold before success")
    threshold: float = param(-1.0, min=-1.0, max=1.0, help="decision threshold; -1 = the checkpoint's calibrated one")
    success_reward: float = param(1.0, help="reward on success (0 otherwise)")


class RewardClassifierNode(RldgNode):
    CONFIG = RewardClassifierConfig
    DEFAULT_NAME = "reward_classifier"
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        from rldg_ros.reward.model import SuccessLatch

        cfg = self.cfg
        self.rejected = 0
        self.published = 0
        self.clf = None
        self.sim_success = False
        if cfg.source == "classifier":
            if not cfg.model:
                self.fail("reward_classifier: source is 'classifier' but no model is set (model:=<checkpoint dir> "
                          "from 'rldg reward train')")
                threshold = 0.5
            else:
                from rldg_ros.reward.model import SuccessClassifier

                try:
                    self.clf = SuccessClassifier.load(cfg.model)
                except (OSError, ValueError) as exc:
                    self.fail(f"reward_classifier: cannot load model: {exc}")
                    threshold = 0.5
                else:
                    threshold = cfg.threshold if cfg.threshold >= 0 else self.clf.threshold
                    self.clf.probabilities(np.zeros((1, *self.clf.image_shape), np.uint8))  # compile before frames
                    if cfg.task and cfg.task not in self.clf.info.tasks:
                        self.get_logger().warning(f"model {cfg.model} was trained on {self.clf.info.tasks}, not on "
                                                  f"{cfg.task!r}: expect lower accuracy")
        else:
            threshold = 0.5
            self.create_subscription(Bool, topics.SIM_SUCCESS.name, self._on_sim_success, RELIABLE_10)
        self.latch = SuccessLatch(cfg.k, threshold)
        self.pub = self.create_publisher(Reward, topics.REWARD.name, RELIABLE_10)
        self.create_subscription(Image, cfg.image_topic, self._on_image, SENSOR)
        self.create_subscription(EpisodeEvent, topics.EPISODE.name, self._on_episode, RELIABLE_10)
        self.get_logger().info(f"reward from {cfg.source}" + (f" {cfg.model}" if self.clf else "")
                               + f", threshold {threshold:.3f}, k = {cfg.k}")

    def _on_sim_success(self, msg: Bool) -> None:
        self.sim_success = bool(msg.data)

    def _on_episode(self, msg: EpisodeEvent) -> None:
        if msg.event == EpisodeEvent.EVENT_START:  # callbacks of one node never overlap (one exclusive group)
            self.latch.reset()

    def _reject(self, why: str) -> None:
        self.rejected += 1
        self.get_logger().error(f"image rejected: {why}", throttle_duration_sec=1.0)

    def probability(self, msg: Image) -> float | None:
        if self.cfg.source == "sim_ground_truth":
            return 1.0 if self.sim_success else 0.0
        if self.clf is None:
            return None
        try:
            img = image_to_array(msg)
        except ValueError as exc:
            self._reject(str(exc))
            return None
        if img.shape != self.clf.image_shape:
            self._reject(f"{img.shape[1]}x{img.shape[0]} image, the model takes "
                         f"{self.clf.image_shape[1]}x{self.clf.image_shape[0]} (publish rldg/wrist/image through "
                         "the camera node)")
            return None
        return float(self.clf.probabilities(img[None])[0])

    def _on_image(self, msg: Image) -> None:
        p = self.probability(msg)
        if p is None or not np.isfinite(p):
            return
        success = self.latch.update(p)
        out = Reward()
        out.header = msg.header
        out.probability = p
        out.threshold = self.latch.threshold
        out.success = success
        out.reward = float(self.cfg.success_reward) if success else 0.0
        self.pub.publish(out)
        self.published += 1
