"""rosbag2 recordings -> an RLDS dataset (``rldg convert``).

Streams are mapped by a :class:`TopicMap` (``config/convert/rldg.yaml`` for our own bags; a file of the same shape
maps any other writer's topics, e.g. ``config/convert/franka_spacenav.yaml``). Synchronisation:

* **steps**: every message of the action topic is one step (``clock: action``; our ``rldg/action/command`` carries
  the executed action, its intervention flag and the (episode, step) it answers, so the mux's repeats are
  dropped), or the action stream is sampled at ``rate_hz`` (a SpaceMouse twist stream, say);
* **observation**: the latest robot state before the action and the image taken with that state (same header stamp,
  as the sim cell and a triggered camera publish them), else the latest image before the action; either older than
  ``max_age_s`` drops the step, and the report counts it;
* **reward** of a step is the latest reward when the next step starts (it scores the state the action led to);
* **episodes**: from ``rldg_msgs/EpisodeEvent`` START/END (instruction, task and success come with them), or split at
  gaps of ``gap_s`` when a bag has no episode topic.

Nothing is dropped silently: skipped episodes and steps are listed with the bag, topic and time in the report.
"""

from __future__ import annotations

import json
import re
import time
import zlib
from collections import Counter, deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import yaml

from rldg_ros.config import param
from rldg_ros.data.bags import BagReport, find_bags, read_bag
from rldg_ros.data.rlds import Episode, RldsWriter, encode_jpeg
from rldg_ros.spec import ACTION_POS, ACTION_ROT, GRIPPER_DIM

RLDG_STATE_FIELDS = [
    "tcp_pose.position.x", "tcp_pose.position.y", "tcp_pose.position.z",
    "tcp_pose.orientation.w", "tcp_pose.orientation.x", "tcp_pose.orientation.y", "tcp_pose.orientation.z",
    "tcp_twist.linear.x", "tcp_twist.linear.y", "tcp_twist.linear.z",
    "tcp_twist.angular.x", "tcp_twist.angular.y", "tcp_twist.angular.z",
    "tcp_wrench.force.x", "tcp_wrench.force.y", "tcp_wrench.force.z",
    "tcp_wrench.torque.x", "tcp_wrench.torque.y", "tcp_wrench.torque.z",
    "gripper_width",
]


@dataclass
class TopicMap:
    """Which topics and fields make the RLDS steps (field paths like ``pose.position.x`` or ``buttons[0]``)."""

    image_topic: str = param("/camera/camera/color/image_raw", help="sensor_msgs/Image or CompressedImage")
    image_size: int = param(128, min=16, max=1024, help="output images are resized to this square size")
    state_topic: str = param("/rldg/robot_state", help="robot state topic")
    state_fields: list[str] = param(list(RLDG_STATE_FIELDS), help="state vector, in order")
    action_topic: str = param("/rldg/action/command", help="executed actions")
    action_fields: list[str] = param([f"action[{i}]" for i in range(7)],
                                     help="7 field paths of the rldg action ('' = 0, or a number = constant)")
    action_scale: list[float] = param([1.0] * 7, help="multiplies each action field (e.g. twist -> [-1, 1])")
    action_frame: str = param("wrist", choices=("wrist", "base"),
                              help="frame of the action source's translation and rotation (a SpaceMouse twist: base);"
                                   " the dataset's actions are in the wrist frame (rldg_ros.spec)")
    orientation_fields: list[str] = param(["tcp_pose.orientation.w", "tcp_pose.orientation.x",
                                           "tcp_pose.orientation.y", "tcp_pose.orientation.z"],
                                          help="the state message's TCP orientation (w, x, y, z): rotates "
                                               "base-frame actions into the wrist frame")
    step_key_fields: list[str] = param(["episode_id", "step"],
                                       help="fields naming the step an action answers: repeats are dropped")
    intervention_field: str = param("intervention", help="bool field of the action: a human/scripted takeover")
    intervention_default: bool = param(False, help="intervention flag when the action has no such field")
    gripper_topic: str = param("", help="separate gripper stream (e.g. /spacenav/joy); '' = action_fields[6]")
    gripper_close_field: str = param("buttons[0]", help="pressed -> close (latched)")
    gripper_open_field: str = param("buttons[1]", help="pressed -> open (latched)")
    gripper_initial: float = param(1.0, help="gripper value before any button (+1 closed, -1 open)")
    clock: str = param("action", choices=("action", "rate"), help="a step per action message, or at rate_hz")
    rate_hz: float = param(10.0, min=0.1, max=1000.0, help="control rate for clock: rate")
    max_age_s: float = param(0.25, min=0.0, help="an image or state older than this at a step drops the step")
    reward_topic: str = param("/rldg/reward", help="reward stream ('' = sparse: 1 on the last step of a success)")
    reward_field: str = param("reward", help="reward field")
    privileged_topic: str = param("/rldg/sim/privileged", help="sim-only goal features (for relabelling)")
    episode_topic: str = param("/rldg/episode", help="rldg_msgs/EpisodeEvent ('' = split at gaps)")
    gap_s: float = param(2.0, min=0.0, help="without episode events: a gap this long between steps ends one")
    instruction: str = param("", help="language instruction when the episode events carry none")
    task: str = param("", help="task name when the episode events carry none")
    success_default: bool = param(False, help="success of episodes without an END event (e.g. human demos)")

    @staticmethod
    def load(path: str | Path | None) -> TopicMap:
        if path is None:
            return TopicMap()
        raw = yaml.safe_load(Path(path).read_text()) or {}
        if isinstance(raw, dict) and len(raw) == 1:  # ROS params layout: {node: {ros__parameters: {...}}}
            inner = next(iter(raw.values()))
            if isinstance(inner, dict) and "ros__parameters" in inner:
                raw = inner["ros__parameters"]
        known = set(TopicMap.__dataclass_fields__)
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"{path}: unknown mapping keys {unknown} (known: {sorted(known)})")
        m = TopicMap(**raw)
        if len(m.action_fields) != 7 or len(m.action_scale) != 7:
            raise ValueError(f"{path}: action_fields and action_scale need 7 entries each")
        if m.action_frame not in ("wrist", "base"):
            raise ValueError(f"{path}: action_frame {m.action_frame!r}: use wrist or base")
        if m.action_frame == "base" and len(m.orientation_fields) != 4:
            raise ValueError(f"{path}: orientation_fields needs the 4 quaternion fields (w, x, y, z) of the state "
                             "message to rotate base-frame actions")
        return m


_PATH = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?")


def get_field(msg, path: str):
    """``pose.position.x`` / ``buttons[0]`` / ``action[3]`` on a deserialized message."""
    if path == "":
        return 0.0
    try:
        return float(path)
    except ValueError:
        pass
    obj = msg
    for part in path.split("."):
        m = _PATH.fullmatch(part)
        if not m:
            raise KeyError(f"bad field path {path!r}")
        obj = getattr(obj, m.group(1))
        if m.group(2) is not None:
            idx = int(m.group(2))
            if idx >= len(obj):
                raise IndexError(f"{path}: the message has {len(obj)} value(s) in {m.group(1)}")
            obj = obj[idx]
    return obj


def quat_matrix(q: np.ndarray) -> np.ndarray:
    """Rotation matrix of a (w, x, y, z) quaternion (normalised first)."""
    w, x, y, z = np.asarray(q, float) / max(float(np.linalg.norm(q)), 1e-12)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def _pressed(msg, path: str) -> bool:
    """A button field; a button the device does not have is not pressed."""
    try:
        return bool(get_field(msg, path))
    except IndexError:
        return False


def field_error(bag, topic: str, msg, kind: str, path: str) -> str:
    """A mapping field that the message does not have: name it, the message type and the fields it has."""
    fields = list(getattr(msg, "__dataclass_fields__", {}))
    fields = [f for f in fields if f != "__msgtype__"]
    return (f"{bag}: {topic} ({getattr(msg, '__msgtype__', type(msg).__name__)}): the mapping's {kind} "
            f"{path!r} is not a field of the message; its fields: {', '.join(fields) or '-'}")


def _norm(topic: str) -> str:
    return "/" + topic.lstrip("/") if topic else ""


def image_from_msg(msg, msgtype: str) -> np.ndarray:
    """sensor_msgs Image (rgb8, bgr8, rgba8, bgra8, mono8) or CompressedImage -> HxWx3 uint8 RGB."""
    if msgtype.endswith("CompressedImage"):
        import io

        from PIL import Image

        return np.asarray(Image.open(io.BytesIO(bytes(msg.data))).convert("RGB"))
    enc = msg.encoding.lower()
    channels = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}.get(enc)
    if channels is None:
        raise ValueError(f"image encoding {msg.encoding!r} is not supported (rgb8, bgr8, rgba8, bgra8, mono8)")
    data = np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.step)[:, :msg.width * channels]
    img = data.reshape(msg.height, msg.width, channels)
    if enc.startswith("bgr"):
        img = img[..., 2::-1]
    elif channels == 1:
        img = np.repeat(img, 3, axis=2)
    return np.ascontiguousarray(img[..., :3])


def _resize(img: np.ndarray, size: int) -> np.ndarray:
    if img.shape[:2] == (size, size):
        return img
    from PIL import Image

    h, w = img.shape[:2]  # centre-crop to a square, then resize (a wide camera keeps its centre)
    s = min(h, w)
    sq = img[(h - s) // 2:(h - s) // 2 + s, (w - s) // 2:(w - s) // 2 + s]
    return np.asarray(Image.fromarray(sq).resize((size, size), Image.BILINEAR))


@dataclass
class ConvertOptions:
    success_only: bool = True
    balance: bool = False
    val_fraction: float = 0.0
    relabel: str = ""  # RL checkpoint whose actions replace the recorded ones
    # relabel: steps taken in these task phases keep their recorded action (a human did that stage and the RL
    # specialist never learned it: FMB assembly's grasp and transport, rldg_ros.sim.tasks.base.Task.human_phases)
    relabel_keep_phases: tuple[str, ...] = ()
    max_episodes: int = 0  # at most this many episodes per task, the first in bag order (0: all)
    shard_mb: float = 256.0
    progress: bool = True


@dataclass
class ConvertReport:
    dataset: str = ""
    bags: int = 0
    bag_bytes: int = 0  # the bags' files on disk
    message_bytes: int = 0  # the messages' payloads (decompressed)
    messages: int = 0
    topics: Counter = field(default_factory=Counter)  # messages per topic, over every bag
    episodes_written: dict[str, int] = field(default_factory=dict)
    steps_written: int = 0
    episodes_skipped: list[dict] = field(default_factory=list)
    steps_dropped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    idle_bags: list[str] = field(default_factory=list)  # bags without an episode event or a command: skipped
    per_task: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["steps_dropped"], d["per_task"] = dict(self.steps_dropped), dict(self.per_task)
        d["topics"] = dict(self.topics)
        d["bag_mb_per_s"] = self.bag_bytes / 1e6 / max(self.seconds, 1e-9)
        d["steps_per_s"] = self.steps_written / max(self.seconds, 1e-9)
        return d


@dataclass
class _Step:
    t: int
    action: np.ndarray
    intervention: bool
    state: np.ndarray
    state_stamp: tuple | None
    privileged: np.ndarray | None
    phase: str = ""  # the task phase the step was taken in


@dataclass
class _Open:
    bag: str
    t0: int
    episode_id: int = 0
    task: str = ""
    instruction: str = ""
    from_event: bool = False
    images: list[bytes] = field(default_factory=list)
    raw_images: list[np.ndarray] = field(default_factory=list)
    states: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    interventions: list[bool] = field(default_factory=list)
    privileged: list[np.ndarray | None] = field(default_factory=list)
    phases: list[str] = field(default_factory=list)  # the task phase each step was taken in ("" before any)
    torn: str = ""  # why the episode cannot be whole (it began inside damaged data)


class _Rec(NamedTuple):
    """One message of a bag, deserialized."""

    topic: str
    msgtype: str
    t: int  # log time (ns)
    msg: object


def _stamp(msg) -> tuple | None:
    h = getattr(msg, "header", None)
    return None if h is None else (int(h.stamp.sec), int(h.stamp.nanosec))


class Converter:
    def __init__(self, mapping: TopicMap, options: ConvertOptions) -> None:
        if not 0.0 <= options.val_fraction < 1.0:
            raise ValueError(f"val_fraction {options.val_fraction}: use a fraction in [0, 1)")
        if options.max_episodes < 0:
            raise ValueError(f"max_episodes {options.max_episodes}: use 0 (all) or a positive count")
        if options.shard_mb <= 0:
            raise ValueError(f"shard_mb {options.shard_mb}: must be positive")
        if options.relabel_keep_phases and not options.relabel:
            raise ValueError("keep phases: only with relabel (a checkpoint whose actions replace the others)")
        self.m = mapping
        self.o = options
        self.policy = None
        if options.relabel:
            from rldg_ros.rl.policy import RLPolicy

            self.policy = RLPolicy(options.relabel)

    # -- one bag -----------------------------------------------------------------------------------------------
    def episodes(self, bag: Path, report: ConvertReport, phases: frozenset[str] | None = None):
        """Episodes (:class:`Episode`) of one bag, streamed; skips go to ``report``. With ``phases``, only the steps
        taken in those task phases (EpisodeEvent PHASE) are kept, each stretch as an episode of its own."""
        yield from _BagEpisodes(self, bag, report, phases).run()

    def _relabel(self, e: _Open, actions: np.ndarray) -> np.ndarray:
        out = actions.copy()
        keep = frozenset(self.o.relabel_keep_phases)
        for i, s in enumerate(e.states):
            if e.phases[i] in keep:
                continue
            img = e.raw_images[i] if e.raw_images else None
            out[i] = self.policy.act(s, img, e.privileged[i], gripper=float(actions[i, 6]))
        return out

    # -- all bags ----------------------------------------------------------------------------------------------
    def count_successes(self, bags: list[Path]) -> Counter:
        """Successful episodes per task from the episode events alone (for --balance)."""
        counts: Counter = Counter()
        topic = _norm(self.m.episode_topic)
        for bag in bags:
            br = BagReport(str(bag))
            for tp, mt, _t, raw in read_bag(bag, br):
                if _norm(tp) == topic:
                    msg = br.typestore.deserialize_cdr(raw, mt)
                    if int(msg.event) == 1 and (msg.success or not self.o.success_only):
                        counts[msg.task_id or self.m.task] += 1
        return counts

    def run(self, inputs: list[str | Path], out_dir: str | Path, name: str) -> ConvertReport:
        t0 = time.monotonic()
        bags: list[Path] = []
        bag_phases: dict[Path, frozenset[str] | None] = {}
        for item in inputs:  # PATH or PATH@phase[,phase]: keep only those phases' steps from these bags
            path, _, ph = str(item).partition("@")
            for b in find_bags([path]):
                bags.append(b)
                bag_phases[b] = frozenset(p for p in ph.split(",") if p) or None
        report = ConvertReport(bags=len(bags))
        cap = None
        if self.o.balance:
            counts = self.count_successes(bags)
            cap = min(counts.values()) if counts else 0
            report.problems.append(f"balance: {dict(counts)} -> at most {cap} episodes per task")
        if self.o.max_episodes > 0:
            cap = self.o.max_episodes if cap is None else min(cap, self.o.max_episodes)
        writer = RldsWriter(out_dir, name, (self.m.image_size, self.m.image_size, 3), len(self.m.state_fields),
                            shard_mb=self.o.shard_mb)
        try:
            unlabelled = self._convert(bags, bag_phases, writer, report, cap, name)
            self.check_topics(report)
        except BaseException:
            writer.abort()  # nothing half-written is left to block the next run
            raise
        if not report.episodes_written:
            report.problems.append("no episode was converted")
        if unlabelled:
            report.problems.append(f"{unlabelled} episode(s) carry no language instruction: a generalist fine-tuned "
                                   "on them is not conditioned on one (record with instruction:=, or give the "
                                   "mapping's instruction)")
        path = writer.close({"converted_by": "rldg convert", "relabel": self.o.relabel or None,
                             "mapping": asdict(self.m)})
        report.dataset = str(path)
        report.seconds = time.monotonic() - t0
        (path / "conversion_report.json").write_text(json.dumps(report.to_json(), indent=1, default=str))
        return report

    def _convert(self, bags: list[Path], bag_phases: dict, writer: RldsWriter, report: ConvertReport,
                 cap: int | None, name: str) -> int:
        """Every bag's episodes into ``writer``; returns how many carry no language instruction."""
        from tqdm import tqdm

        unlabelled = 0
        bar = tqdm(bags, desc=f"convert -> {name}", unit="bag", disable=not self.o.progress)
        for bag in bar:
            for ep in self.episodes(bag, report, bag_phases[bag]):
                if cap is not None and report.per_task[ep.task] >= cap:
                    report.episodes_skipped.append({"bag": str(bag), "episode_id": ep.episode_id,
                                                    "steps": len(ep), "reason": f"cap: task {ep.task} "
                                                    f"already has {cap} episodes (--balance/--max-episodes)"})
                    continue
                split = "train"
                if self.o.val_fraction > 0:
                    h = zlib.crc32(f"{bag}:{ep.episode_id}".encode()) / 2**32
                    split = "val" if h < self.o.val_fraction else "train"
                writer.write(ep, split)
                report.episodes_written[split] = report.episodes_written.get(split, 0) + 1
                report.steps_written += len(ep)
                report.per_task[ep.task] += 1
                unlabelled += not ep.instruction
            bar.set_postfix(steps=report.steps_written, episodes=sum(report.episodes_written.values()))
        return unlabelled

    def check_topics(self, report: ConvertReport) -> None:
        """A mapped topic that no bag has is a mistake in the mapping (or the wrong bags): an error naming it, with
        the bags' topics (one that only some bags lack is reported per bag)."""
        import difflib

        m = self.m
        have = {_norm(t): t for t in report.topics}
        if not have:
            return  # nothing readable at all: reported per bag
        def hint(topic: str) -> str:
            near = difflib.get_close_matches(_norm(topic), list(have), n=1, cutoff=0.6)
            return f"; did you mean {have[near[0]]}?" if near else ""

        for key in ("image_topic", "state_topic", "action_topic", "episode_topic"):
            topic = getattr(m, key)
            if topic and _norm(topic) not in have:
                extra = " (or set episode_topic: '' to split episodes at gaps)" if key == "episode_topic" else ""
                raise ValueError(f"the mapping's {key} {topic} is in none of the {report.bags} bag(s){hint(topic)}"
                                 f"{extra}; their topics: {', '.join(sorted(report.topics))}")
        # optional streams (a gripper button nobody pressed publishes nothing): reported, with the nearest topic
        for key, then in (("gripper_topic", "the gripper stays at gripper_initial"),
                          ("reward_topic", "sparse rewards (1 on a success's last step)"),
                          ("privileged_topic", "no privileged features (relabelling a state policy needs them)")):
            topic = getattr(m, key)
            if topic and _norm(topic) not in have:
                report.problems.append(f"the mapping's {key} {topic} has no messages in any bag{hint(topic)}: {then}")


class _BagEpisodes:
    """One pass over one bag: the latest image / state / privileged / reward / gripper button, the open episode and
    its pending step (resolved against an image once the next step comes), episode boundaries (events, gaps,
    damaged stretches, clock jumps); finished episodes queue in ``out`` in bag order."""

    def __init__(self, conv: Converter, bag: Path, report: ConvertReport, phases: frozenset[str] | None) -> None:
        m = conv.m
        self.conv, self.m, self.bag, self.report, self.phases = conv, m, bag, report, phases
        self.roles = {_norm(m.image_topic): "image", _norm(m.state_topic): "state", _norm(m.action_topic): "action",
                      _norm(m.reward_topic): "reward", _norm(m.privileged_topic): "privileged",
                      _norm(m.episode_topic): "episode", _norm(m.gripper_topic): "gripper"}
        self.roles.pop("", None)
        self.br = BagReport(str(bag))
        self.phase = ""
        self.phase_known = False  # the open episode has had its first phase (on START or a PHASE event)
        self.images: deque = deque(maxlen=12)  # (log t, header stamp, msg, msgtype)
        self.state = None  # (t, vec, stamp, orientation)
        self.priv = None  # (t, vec)
        self.reward = 0.0
        self.gripper = m.gripper_initial
        self.gripper_t = None  # log time of the last gripper button
        self.last_end_t = None  # log time of the last END event
        self.n_damaged = 0  # damaged stretches of the bag handled so far (br.damaged)
        self.torn_until = None  # end of the last damaged stretch: an episode starting right after it began inside it
        self.last_action = None  # (t, msg) for the rate clock
        self.next_tick = None
        self.seen_keys: set = set()
        self.pending: _Step | None = None
        self.ep: _Open | None = None
        self.last_episode_id = None  # of an episode closed at a damaged stretch (gap-split numbering continues)
        self.last_t = None
        self.has_events = bool(m.episode_topic)  # with an episode topic, steps outside START..END are no episode
        self.starts = 0  # START events in this bag
        self.out: list[Episode] = []

    # -- the pass ------------------------------------------------------------------------------------------------
    def run(self):
        m = self.m
        handlers = {"image": self._on_image, "state": self._on_state, "privileged": self._on_privileged,
                    "reward": self._on_reward, "gripper": self._on_gripper, "episode": self._on_episode,
                    "action": self._on_action}
        for topic, msgtype, t, raw in read_bag(self.bag, self.br):
            while self.n_damaged < len(self.br.damaged):
                self._damaged(*self.br.damaged[self.n_damaged], t)
                self.n_damaged += 1
            role = self.roles.get(_norm(topic))
            if role is None:
                continue
            if m.clock == "rate" and self.last_action is not None:
                self._rate_ticks_until(t)
            if self.last_t is not None and t < self.last_t - 500_000_000:
                self._clock_jumped(topic, t)
            self.last_t = t if self.last_t is None else max(self.last_t, t)
            try:
                msg = self.br.typestore.deserialize_cdr(raw, msgtype)
            except Exception as exc:  # noqa: BLE001 - a damaged message: report it, keep going
                self.report.steps_dropped[f"{topic}: undecodable {msgtype} ({type(exc).__name__})"] += 1
                continue
            handlers[role](_Rec(topic, msgtype, t, msg))
            yield from self._drain()
        self._end_of_bag()
        yield from self._drain()
        self._summarise()

    def _drain(self):
        while self.out:
            yield self.out.pop(0)

    def _emit(self, episode: Episode | None) -> None:
        if episode is not None:
            self.out.append(episode)

    def _rate_ticks_until(self, t: int) -> None:
        """The rate clock's ticks up to this message use what came before it (not a next episode's pose)."""
        m = self.m
        period = int(1e9 / m.rate_hz)
        self.next_tick = self.last_action[0] if self.next_tick is None else self.next_tick
        while self.next_tick < t:
            if (self.next_tick - self.last_action[0]) * 1e-9 <= m.max_age_s:
                self._start_step(self.next_tick, self.last_action[1], m.intervention_default)
            self.next_tick += period

    def _clock_jumped(self, topic: str, t: int) -> None:
        self.report.problems.append(f"{self.bag}: {topic}: clock jumped back {(self.last_t - t) * 1e-9:.2f} s at "
                                    f"t={t * 1e-9:.3f} s; the open episode ends there")
        if self.ep is not None:
            self._finish(self.ep, None, "clock jump", t)
            self.ep = None
        self.images.clear()
        self.state = None
        self.last_t = t  # the new clock from here on

    # -- messages by role ----------------------------------------------------------------------------------------
    def _on_image(self, r: _Rec) -> None:
        _, msgtype, t, msg = r
        self.images.append((t, _stamp(msg), msg, msgtype))

    def _on_state(self, r: _Rec) -> None:
        topic, _, t, msg = r
        m = self.m
        fields = m.state_fields + (m.orientation_fields if m.action_frame == "base" else [])
        vals = []
        for f in fields:
            try:
                vals.append(float(get_field(msg, f)))
            except (AttributeError, KeyError, TypeError, ValueError, IndexError):
                kind = "state_fields" if f in m.state_fields else "orientation_fields"
                raise ValueError(field_error(self.bag, topic, msg, kind, f)) from None
        n = len(m.state_fields)
        self.state = (t, np.array(vals[:n], np.float32), _stamp(msg), np.array(vals[n:], float))

    def _on_privileged(self, r: _Rec) -> None:
        _, _, t, msg = r
        self.priv = (t, np.asarray(msg.state, np.float32))

    def _on_reward(self, r: _Rec) -> None:
        topic, _, _, msg = r
        try:
            self.reward = float(get_field(msg, self.m.reward_field))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ValueError(field_error(self.bag, topic, msg, "reward_field", self.m.reward_field)) from None

    def _on_gripper(self, r: _Rec) -> None:
        topic, _, t, msg = r
        m = self.m
        try:
            close = _pressed(msg, m.gripper_close_field)
            open_ = _pressed(msg, m.gripper_open_field)
        except (AttributeError, KeyError, TypeError):
            raise ValueError(field_error(self.bag, topic, msg, "gripper_close_field / gripper_open_field",
                                         f"{m.gripper_close_field} / {m.gripper_open_field}")) from None
        if close or open_:
            self.gripper, self.gripper_t = (1.0 if close else -1.0), t

    def _on_episode(self, r: _Rec) -> None:
        _, _, t, msg = r
        ev, phases = int(msg.event), self.phases
        self.starts += ev == 0
        if ev == 0:  # START
            if self.ep is not None:
                self._finish(self.ep, None, "incomplete: a new episode started before its END event", t)
            if self.gripper_t is None or self.last_end_t is None or self.gripper_t <= self.last_end_t:
                self.gripper = self.m.gripper_initial  # each episode starts from the configured gripper state
            self.ep = _Open(str(self.bag), t, int(msg.episode_id), msg.task_id, msg.language_instruction, True)
            self.seen_keys.clear()
            self.phase = str(msg.phase)
            self.phase_known = bool(self.phase)
            self.reward = 0.0
        elif ev == 2:  # PHASE: with a phase filter, leaving a kept phase closes that stretch (it was done)
            new_phase, ep = str(msg.phase), self.ep
            if not self.phase_known:  # the episode's first phase event: its steps so far were taken in it
                self.phase_known, self.phase = True, new_phase
                if ep is not None:
                    self._backfill_phase(ep, new_phase)
            if phases is not None and ep is not None and self.phase in phases and new_phase not in phases:
                self._emit(self._finish(ep, True, None if ep.actions or self.pending else
                                        "no steps in the kept phases", t, segment=True))
                self.ep = _Open(str(self.bag), t, ep.episode_id, ep.task, ep.instruction, True)
            self.phase = new_phase
        elif ev == 1:  # END
            self.last_end_t = t
            if self.ep is not None and phases is not None and not self.phase_known:
                self._drop_open_steps("in phase (none) (kept: " + ", ".join(sorted(phases)) + ")")
            if self.ep is not None:
                why = None
                if phases is not None and not self.ep.actions and self.pending is None:
                    why = "no steps in the kept phases"
                self._emit(self._finish(self.ep, bool(msg.success), why, t))
                self.ep = None

    def _on_action(self, r: _Rec) -> None:
        topic, _, t, msg = r
        m = self.m
        if m.clock == "rate":
            self.last_action = (t, msg)
            return
        if m.step_key_fields:
            try:
                key = tuple(get_field(msg, f) for f in m.step_key_fields)
            except (AttributeError, KeyError, TypeError):
                raise ValueError(field_error(self.bag, topic, msg, "step_key_fields",
                                             ", ".join(m.step_key_fields))) from None
            if key in self.seen_keys:
                return
            self.seen_keys.add(key)
        try:
            inter = bool(get_field(msg, m.intervention_field)) if m.intervention_field else m.intervention_default
        except (AttributeError, KeyError, TypeError):
            raise ValueError(field_error(self.bag, topic, msg, "intervention_field", m.intervention_field)) from None
        self._start_step(t, msg, inter)

    # -- steps and episodes --------------------------------------------------------------------------------------
    def _skip(self, e: _Open, why: str, t: int | None = None) -> None:
        self.report.episodes_skipped.append({"bag": str(self.bag), "episode_id": e.episode_id,
                                             "steps": len(e.actions), "time_s": (t or e.t0) * 1e-9, "reason": why})

    def _image_for(self, step: _Step):
        """The image with the step's state stamp, else the newest one logged before the step within max_age_s."""
        if step.state_stamp is not None:
            for t, stamp, msg, mt in reversed(self.images):
                if stamp == step.state_stamp:
                    return t, msg, mt
        for t, _, msg, mt in reversed(self.images):
            if t <= step.t:
                return (t, msg, mt) if (step.t - t) * 1e-9 <= self.m.max_age_s else None
        return None

    def _resolve(self, step: _Step, e: _Open) -> None:
        m, report = self.m, self.report
        img = self._image_for(step)
        if img is None:
            report.steps_dropped[f"no image within {m.max_age_s} s"] += 1
            return
        try:
            arr = _resize(image_from_msg(img[1], img[2]), m.image_size)
        except ValueError as exc:
            report.steps_dropped[f"{m.image_topic}: {exc}"] += 1
            return
        policy = self.conv.policy
        if policy is not None and policy.obs_mode == "pixels":  # relabelling needs the pixels
            e.raw_images.append(arr)
        e.images.append(encode_jpeg(arr))
        e.states.append(step.state)
        e.actions.append(step.action)
        e.rewards.append(self.reward)
        e.interventions.append(step.intervention)
        e.privileged.append(step.privileged)
        e.phases.append(step.phase)

    def _finish(self, e: _Open, success: bool | None, why: str | None, t: int,
                segment: bool = False) -> Episode | None:
        """The episode (None if skipped, counted in the report). ``segment``: a kept phase's stretch that ended
        when its phase did: a success of that stage, but the task goes on (no success reward, not terminal)."""
        m = self.m
        if self.pending is not None:
            self._resolve(self.pending, e)
            self.pending = None
        why = why or e.torn or None
        if why is not None:
            self._skip(e, why, t)
            return None
        if not e.actions:
            self._skip(e, "empty: no step with a fresh image and state", t)
            return None
        ok = m.success_default if success is None else success
        if self.conv.o.success_only and not ok:
            self._skip(e, "not successful (pass --all to keep failures)", t)
            return None
        rewards = np.asarray(e.rewards, np.float32)
        if ok and not segment and not m.reward_topic:
            rewards[-1] = 1.0
        elif ok and not segment:
            rewards[-1] = max(rewards[-1], 1.0)
        actions = np.stack(e.actions).astype(np.float32)
        if self.conv.policy is not None:
            actions = self.conv._relabel(e, actions)
        return Episode(e.images, np.stack(e.states).astype(np.float32), actions, rewards,
                       e.instruction or m.instruction, str(self.bag), e.task or m.task, e.episode_id, bool(ok),
                       float(np.mean(e.interventions)), terminal=bool(ok) and not segment)

    def _action_vector(self, action_msg) -> np.ndarray | None:
        m = self.m
        a = np.zeros(7, np.float32)
        for i, (f, scale) in enumerate(zip(m.action_fields, m.action_scale, strict=True)):
            try:
                a[i] = float(get_field(action_msg, f)) * scale
            except IndexError as exc:  # e.g. a 6-value action: the step is dropped, counted
                self.report.steps_dropped[f"{m.action_topic}: {exc}"] += 1
                return None
            except (AttributeError, KeyError, TypeError, ValueError):
                raise ValueError(field_error(self.bag, m.action_topic, action_msg, "action_fields", f)) from None
        if m.gripper_topic:
            a[GRIPPER_DIM] = self.gripper
        if m.action_frame == "base" and self.state is not None:  # into the wrist frame with the TCP pose
            rot = quat_matrix(self.state[3])
            a[ACTION_POS], a[ACTION_ROT] = rot.T @ a[ACTION_POS], rot.T @ a[ACTION_ROT]
        return a

    def _backfill_phase(self, ep: _Open, phase: str) -> None:
        """The steps an episode took before its first phase event (which may trail its first action: the cell
        announces a phase at its next step) were taken in that phase; with a phase filter that does not keep it,
        they are dropped."""
        if self.phases is not None and phase not in self.phases:
            self._drop_open_steps(f"in phase {phase} (kept: {', '.join(sorted(self.phases))})")
            return
        ep.phases[:] = [phase if not p else p for p in ep.phases]
        if self.pending is not None and not self.pending.phase:
            self.pending.phase = phase

    def _drop_open_steps(self, why: str) -> None:
        """Drop the open episode's steps so far (and its pending one), counted under ``why``."""
        ep = self.ep
        n = len(ep.actions) + (self.pending is not None)
        if n:
            self.report.steps_dropped[why] += n
        for name in ("images", "raw_images", "states", "actions", "rewards", "interventions", "privileged",
                     "phases"):
            getattr(ep, name).clear()
        self.pending = None

    def _new_open(self, t: int, episode_id: int) -> _Open:
        e = _Open(str(self.bag), t, episode_id=episode_id)
        if self.torn_until is not None and (t - self.torn_until) * 1e-9 <= self.m.gap_s:
            e.torn = "torn: it begins right after a damaged stretch of the bag (its start is lost)"
        return e

    def _start_step(self, t: int, action_msg, intervention: bool) -> None:
        m, report, state, pending, ep = self.m, self.report, self.state, self.pending, self.ep
        if state is None or (t - state[0]) * 1e-9 > m.max_age_s:
            report.steps_dropped[f"no robot state within {m.max_age_s} s"] += 1
            return
        # before an episode's first phase event its steps wait for it (_backfill_phase); without episode events
        # there is none to wait for
        if self.phases is not None and (self.phase_known or not self.has_events) and self.phase not in self.phases:
            report.steps_dropped[f"in phase {self.phase or '(none)'} (kept: {', '.join(sorted(self.phases))})"] += 1
            return
        split = ep is not None and not ep.from_event and pending is not None and (t - pending.t) * 1e-9 > m.gap_s > 0
        if split and m.gripper_topic and (self.gripper_t is None or self.gripper_t <= pending.t):
            self.gripper = m.gripper_initial  # a new demonstration: no button since the last one ended
        a = self._action_vector(action_msg)
        if a is None:
            return
        if not np.all(np.isfinite(a)):
            report.steps_dropped["NaN/inf action"] += 1
            return
        if ep is None:
            if self.has_events:
                report.steps_dropped["outside an episode (before START or after END)"] += 1
                return
            self.ep = self._new_open(t, 0 if self.last_episode_id is None else self.last_episode_id + 1)
        elif split:
            self._emit(self._finish(ep, None, None, t))
            self.ep = self._new_open(t, ep.episode_id + 1)
        if self.pending is not None:
            self._resolve(self.pending, self.ep)
        p = None if self.priv is None else self.priv[1]
        self.pending = _Step(t, np.clip(a, -1.0, 1.0), intervention, state[1], state[2], p, self.phase)

    def _damaged(self, d0: int, d1: int, t: int) -> None:
        """The reader skipped a damaged stretch holding the messages logged in [d0, d1]."""
        ep = self.ep
        if ep is not None:
            last = self.pending.t if self.pending is not None else ep.t0
            why = None
            if ep.from_event or (d0 - last) * 1e-9 <= self.m.gap_s:
                why = f"torn: part of it was in a damaged stretch of the bag ({d0 * 1e-9:.3f}-{d1 * 1e-9:.3f} s)"
            self._emit(self._finish(ep, None, why, t))  # else it had ended before the damage (a gap > gap_s)
            self.last_episode_id, self.ep, self.pending = ep.episode_id, None, None
        self.images.clear()
        self.state = self.last_action = self.next_tick = None
        self.torn_until = d1

    def _end_of_bag(self) -> None:
        ep, t = self.ep, self.last_t or 0
        if ep is None:
            return
        if self.has_events:
            why = "incomplete: the bag ends before the episode's END event" + (
                " (the bag is truncated)" if self.br.truncated else "")
            self._finish(ep, None, why, t)
        else:
            self._emit(self._finish(ep, None, "incomplete: the bag is truncated while it was recorded"
                                    if self.br.truncated else None, t))

    def _summarise(self) -> None:
        m, report, br = self.m, self.report, self.br
        report.problems.extend(br.problems)
        report.messages += sum(br.messages.values())
        report.bag_bytes += br.file_bytes
        report.message_bytes += br.bytes
        report.topics.update(br.messages)
        seen = {_norm(k) for k in br.messages}
        if self.has_events and not self.starts and _norm(m.action_topic) not in seen:
            # no episode started and no command: the robot idled while it was recorded (e.g. the bag a recorder
            # opens before the first episode starts): nothing to convert, and nothing wrong
            report.idle_bags.append(str(self.bag))
            return
        for name, role in (("image", m.image_topic), ("state", m.state_topic), ("action", m.action_topic)):
            if role and _norm(role) not in seen:
                report.problems.append(f"{self.bag}: no messages on the {name} topic {role}")


def print_summary(report: ConvertReport) -> None:
    from rich.console import Console
    from rich.table import Table

    c = Console(stderr=True)
    t = Table(title=f"rldg convert -> {report.dataset}")
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("bags read", str(report.bags))
    t.add_row("bag files (MB)", f"{report.bag_bytes / 1e6:.1f}")
    t.add_row("message data (MB, decompressed)", f"{report.message_bytes / 1e6:.1f}")
    t.add_row("episodes written", ", ".join(f"{k} {v}" for k, v in report.episodes_written.items()) or "0")
    t.add_row("steps written", str(report.steps_written))
    t.add_row("episodes skipped", str(len(report.episodes_skipped)))
    t.add_row("steps dropped", str(sum(report.steps_dropped.values())))
    t.add_row("throughput", f"{report.bag_bytes / 1e6 / max(report.seconds, 1e-9):.1f} MB/s, "
                            f"{report.steps_written / max(report.seconds, 1e-9):.0f} steps/s")
    c.print(t)
    reasons = Counter(s["reason"] for s in report.episodes_skipped)
    for why, n in reasons.items():
        c.print(f"  skipped {n} episode(s): {why}")
    for why, n in report.steps_dropped.items():
        c.print(f"  dropped {n} step(s): {why}")
    if report.idle_bags:
        c.print(f"  {len(report.idle_bags)} bag(s) with no episode in them (recorded while the robot idled): skipped")
    for p in report.problems:
        c.print(f"  [yellow]{p}[/yellow]")
