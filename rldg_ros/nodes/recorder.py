"""``recorder``: writes a graph's topics to rosbag2 (MCAP, or sqlite3), one bag per episode.

It subscribes to the topics ``ros2 bag record`` would be given (:data:`RECORD_TOPICS`: wrist images, robot state,
executed and policy actions with their intervention flags, rewards, episode events with the language instruction,
the sim's success/goal topics), takes each message as raw CDR bytes (no decode) and hands it to the ``rosbags``
writer, stamped with its receive time as ``ros2 bag record`` does. An EpisodeEvent START closes the open bag and
opens the next, and a bag also closes after ``max_bag_s``, so a crash loses at most the open episode (and even that
bag's intact part converts: see ``rldg_ros.data.bags.read_bag``). Closing writes ``metadata.yaml``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path

from rclpy.serialization import deserialize_message

from rldg_msgs.msg import EpisodeEvent
from rldg_ros import topics
from rldg_ros.config import ConfigError, param
from rldg_ros.nodes.base import RldgNode
from rldg_ros.qos import RELIABLE_DEEP, SENSOR

RECORD_TOPICS = (topics.WRIST_IMAGE, topics.WRIST_CAMERA_INFO, topics.ROBOT_STATE, topics.COMMAND,
                 topics.POLICY_ACTION, topics.SCRIPTED_ACTION, topics.REWARD, topics.EPISODE, topics.SIM_SUCCESS,
                 topics.SIM_PRIVILEGED, topics.SPACENAV_TWIST, topics.SPACENAV_JOY)


def record_command(out_dir: str = "bags") -> str:
    """The equivalent ``ros2 bag record`` command line (for users with a ROS 2 distro)."""
    names = " ".join("/" + t.name for t in RECORD_TOPICS)
    return f"ros2 bag record -s mcap -o {out_dir}/<name> {names}"


@dataclass
class RecorderConfig:
    out_dir: str = param("bags", help="directory that receives one bag directory per episode")
    prefix: str = param("rldg", help="bag directory name prefix")
    storage: str = param("mcap", choices=("mcap", "sqlite3"), help="rosbag2 storage plugin")
    topics: list[str] = param([t.name for t in RECORD_TOPICS], help="topics to record")
    split_on_episode: bool = param(True, help="start a new bag at every EpisodeEvent START")
    max_bag_s: float = param(600.0, min=1.0, help="close a bag after this long even without episode events")


class Recorder(RldgNode):
    CONFIG = RecorderConfig
    DEFAULT_NAME = "recorder"
    SINGLE_THREADED = True

    def __init__(self, node_name: str | None = None, **kwargs) -> None:
        super().__init__(node_name, **kwargs)
        from rldg_ros.data.bags import BagWriter

        self._BagWriter = BagWriter
        c = self.cfg
        self.out = Path(c.out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()
        self.bag = None
        self.bag_t0 = 0.0
        self.count = 0
        self.closed: list[str] = []
        known = {t.name: t for t in topics.ALL if t.qos != "service"}
        self.types: dict[str, str] = {}
        for name in c.topics:
            t = known.get(name.lstrip("/"))
            if t is None:
                raise ConfigError(f"recorder: unknown topic {name!r}: its type is needed (known: {sorted(known)})")
            msg_cls = _msg_class(t.type)
            full = "/" + self.resolve_topic_name(t.name).lstrip("/")
            self.types[full] = t.type
            qos = SENSOR if t.qos == "sensor" else RELIABLE_DEEP
            self.create_subscription(msg_cls, t.name, lambda raw, topic=full: self._on_msg(topic, raw), qos,
                                     raw=True)
        self.episode_topic = "/" + self.resolve_topic_name(topics.EPISODE.name).lstrip("/")
        self.create_timer(1.0, self._check_age)
        self.get_logger().info(f"recorder up: {len(self.types)} topics -> {self.out} ({c.storage}, one bag per "
                               f"{'episode' if c.split_on_episode else f'{c.max_bag_s:g} s'})")

    def _open(self) -> None:
        self.count += 1
        name = f"{self.cfg.prefix}_{time.strftime('%Y%m%d_%H%M%S')}_{self.count:04d}"
        self.bag = self._BagWriter(self.out / name, self.cfg.storage)
        for topic, t in self.types.items():
            self.bag.add(topic, t)
        self.bag_t0 = time.monotonic()

    def _close(self) -> None:
        if self.bag is not None:
            self.bag.close()
            self.closed.append(str(self.bag.path))
            self.get_logger().info(f"bag closed: {self.bag.path} ({self.bag.messages} messages, "
                                   f"{self.bag.bytes / 1e6:.1f} MB)")
            self.bag = None

    def _on_msg(self, topic: str, raw: bytes) -> None:
        t_ns = time.time_ns()
        with self.lock:
            if topic == self.episode_topic and self.cfg.split_on_episode:
                ev = deserialize_message(raw, EpisodeEvent)
                if ev.event == EpisodeEvent.EVENT_START and self.bag is not None and self.bag.messages:
                    self._close()
            if self.bag is None:
                self._open()
            self.bag.write(topic, t_ns, raw)

    def _check_age(self) -> None:
        with self.lock:
            if self.bag is not None and time.monotonic() - self.bag_t0 > self.cfg.max_bag_s:
                self._close()

    def shutdown(self) -> None:
        with self.lock:
            self._close()


def _msg_class(type_name: str):
    import importlib

    pkg, _, name = type_name.partition("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name.split("/")[-1])
