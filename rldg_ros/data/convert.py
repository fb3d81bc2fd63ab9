"""rosbag2 recordings -> an RLDS dataset (``rldg convert``).

Streams are mapped by a :class:`TopicMap` (``config/convert_rldg.yaml`` for our own bags; a file of the same shape
maps any other writer's topics, e.g. ``config/convert_franka_spacenav.yaml``). Synchronisation:

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

import numpy as np
import yaml

from rldg_ros.config import param
from rldg_ros.data.bags import BagReport, find_bags, read_bag, typestore
from rldg_ros.data.rlds import Episode, RldsWriter, encode_jpeg

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
            obj = obj[idx] if idx < len(obj) else 0
    return obj


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
    max_episodes: int = 0  # at most this many episodes per task, the first in bag order (0: all)
    shard_mb: float = 256.0
    progress: bool = True


@dataclass
class ConvertReport:
    dataset: str = ""
    bags: int = 0
    bag_bytes: int = 0
    messages: int = 0
    episodes_written: dict[str, int] = field(default_factory=dict)
    steps_written: int = 0
    episodes_skipped: list[dict] = field(default_factory=list)
    steps_dropped: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    per_task: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def to_json(self) -> dict:
        d = asdict(self)
        d["steps_dropped"], d["per_task"] = dict(self.steps_dropped), dict(self.per_task)
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
        self.m = mapping
        self.o = options
        self.ts = typestore()
        self.policy = None
        if options.relabel:
            from rldg_ros.rl.policy import RLPolicy

            self.policy = RLPolicy(options.relabel)

    # -- one bag -----------------------------------------------------------------------------------------------
    def episodes(self, bag: Path, report: ConvertReport, phases: frozenset[str] | None = None):
        """Episodes (:class:`Episode`) of one bag, streamed; skips go to ``report``. With ``phases``, only the steps
        taken in those task phases (EpisodeEvent PHASE) are kept, each stretch as an episode of its own."""
        m = self.m
        phase = ""
        topics = {_norm(m.image_topic): "image", _norm(m.state_topic): "state", _norm(m.action_topic): "action",
                  _norm(m.reward_topic): "reward", _norm(m.privileged_topic): "privileged",
                  _norm(m.episode_topic): "episode", _norm(m.gripper_topic): "gripper"}
        topics.pop("", None)
        br = BagReport(str(bag))
        images: deque = deque(maxlen=12)  # (log t, header stamp, msg, msgtype)
        state = priv = None  # (t, vec, stamp)
        reward = 0.0
        gripper = m.gripper_initial
        last_action = None  # (t, msg) for the rate clock
        next_tick = None
        seen_keys: set = set()
        pending: _Step | None = None
        ep: _Open | None = None
        last_t = None
        has_events = bool(m.episode_topic)  # with an episode topic, steps outside START..END are not an episode

        def skip_episode(e: _Open, why: str, t: int | None = None) -> None:
            report.episodes_skipped.append({"bag": str(bag), "episode_id": e.episode_id, "steps": len(e.actions),
                                            "time_s": (t or e.t0) * 1e-9, "reason": why})

        def resolve(step: _Step, e: _Open) -> None:
            img = None
            if step.state_stamp is not None:
                for t, stamp, msg, mt in reversed(images):
                    if stamp == step.state_stamp:
                        img = (t, msg, mt)
                        break
            if img is None:
                for t, _, msg, mt in reversed(images):
                    if t <= step.t:
                        if (step.t - t) * 1e-9 <= m.max_age_s:
                            img = (t, msg, mt)
                        break
            if img is None:
                report.steps_dropped[f"no image within {m.max_age_s} s"] += 1
                return
            try:
                arr = _resize(image_from_msg(img[1], img[2]), m.image_size)
            except ValueError as exc:
                report.steps_dropped[f"{m.image_topic}: {exc}"] += 1
                return
            if self.policy is not None and self.policy.obs_mode == "pixels":  # relabelling needs the pixels
                e.raw_images.append(arr)
            e.images.append(encode_jpeg(arr))
            e.states.append(step.state)
            e.actions.append(step.action)
            e.rewards.append(reward)
            e.interventions.append(step.intervention)
            e.privileged.append(step.privileged)

        def finish(e: _Open, success: bool | None, why: str | None, t: int) -> Episode | None:
            nonlocal pending
            if pending is not None:
                resolve(pending, e)
                pending = None
            if why is not None:
                skip_episode(e, why, t)
                return None
            if not e.actions:
                skip_episode(e, "empty: no step with a fresh image and state", t)
                return None
            ok = m.success_default if success is None else success
            if self.o.success_only and not ok:
                skip_episode(e, "not successful (pass --all to keep failures)", t)
                return None
            rewards = np.asarray(e.rewards, np.float32)
            if ok and not m.reward_topic:
                rewards[-1] = 1.0
            elif ok:
                rewards[-1] = max(rewards[-1], 1.0)
            actions = np.stack(e.actions).astype(np.float32)
            if self.policy is not None:
                actions = self._relabel(e, actions)
            return Episode(e.images, np.stack(e.states).astype(np.float32), actions, rewards,
                           e.instruction or m.instruction, str(bag), e.task or m.task, e.episode_id, bool(ok),
                           float(np.mean(e.interventions)), terminal=bool(ok))

        def start_step(t: int, action_msg, intervention: bool) -> None:
            nonlocal pending, ep
            if state is None or (t - state[0]) * 1e-9 > m.max_age_s:
                report.steps_dropped[f"no robot state within {m.max_age_s} s"] += 1
                return
            a = np.array([float(get_field(action_msg, f)) * s for f, s in zip(m.action_fields, m.action_scale,
                                                                                 strict=True)],
                         np.float32)
            if m.gripper_topic:
                a[6] = gripper
            if not np.all(np.isfinite(a)):
                report.steps_dropped["NaN/inf action"] += 1
                return
            if phases is not None and phase not in phases:
                report.steps_dropped[f"in phase {phase or '(none)'} (kept: {', '.join(sorted(phases))})"] += 1
                return
            if ep is None:
                if has_events:
                    report.steps_dropped["outside an episode (before START or after END)"] += 1
                    return
                ep = _Open(str(bag), t)
            elif not ep.from_event and pending is not None and (t - pending.t) * 1e-9 > m.gap_s > 0:
                out = finish(ep, None, None, t)
                if out is not None:
                    yield_queue.append(out)
                ep = _Open(str(bag), t, episode_id=ep.episode_id + 1)
            if pending is not None:
                resolve(pending, ep)
            p = None if priv is None else priv[1]
            pending = _Step(t, np.clip(a, -1.0, 1.0), intervention, state[1], state[2], p)

        yield_queue: list[Episode] = []
        for topic, msgtype, t, raw in read_bag(bag, br):
            role = topics.get(_norm(topic))
            if role is None:
                continue
            if last_t is not None and t < last_t - 500_000_000:
                report.problems.append(f"{bag}: {topic}: clock jumped back {(last_t - t) * 1e-9:.2f} s at "
                                       f"t={t * 1e-9:.3f} s; the open episode ends there")
                if ep is not None:
                    finish(ep, None, "clock jump", t)
                    ep = None
                images.clear()
                state = None
                last_t = t  # the new clock from here on
            last_t = t if last_t is None else max(last_t, t)
            try:
                msg = self.ts.deserialize_cdr(raw, msgtype)
            except Exception as exc:  # noqa: BLE001 - a damaged message: report it, keep going
                report.steps_dropped[f"{topic}: undecodable {msgtype} ({type(exc).__name__})"] += 1
                continue
            if role == "image":
                images.append((t, _stamp(msg), msg, msgtype))
            elif role == "state":
                try:
                    vec = np.array([float(get_field(msg, f)) for f in m.state_fields], np.float32)
                except (AttributeError, KeyError, TypeError) as exc:
                    raise ValueError(f"{bag}: {topic} ({msgtype}): state field {exc} does not exist") from None
                state = (t, vec, _stamp(msg))
            elif role == "privileged":
                priv = (t, np.asarray(msg.state, np.float32))
            elif role == "reward":
                reward = float(get_field(msg, m.reward_field))
            elif role == "gripper":
                if get_field(msg, m.gripper_close_field):
                    gripper = 1.0
                elif get_field(msg, m.gripper_open_field):
                    gripper = -1.0
            elif role == "episode":
                ev = int(msg.event)
                if ev == 0:  # START
                    if ep is not None:
                        finish(ep, None, "incomplete: a new episode started before its END event", t)
                    ep = _Open(str(bag), t, int(msg.episode_id), msg.task_id, msg.language_instruction, True)
                    seen_keys.clear()
                    phase = str(msg.phase)
                    reward = 0.0
                elif ev == 2:  # PHASE: with a phase filter, leaving a kept phase closes that stretch (it was done)
                    new_phase = str(msg.phase)
                    if phases is not None and ep is not None and phase in phases and new_phase not in phases:
                        out = finish(ep, True, None if ep.actions or pending else
                                     "no steps in the kept phases", t)
                        if out is not None:
                            yield out
                        ep = _Open(str(bag), t, ep.episode_id, ep.task, ep.instruction, True)
                    phase = new_phase
                elif ev == 1 and ep is not None:  # END
                    why = None
                    if phases is not None and not ep.actions and pending is None:
                        why = "no steps in the kept phases"
                    out = finish(ep, bool(msg.success), why, t)
                    if out is not None:
                        yield out
                    ep = None
            elif role == "action":
                if m.clock == "rate":
                    last_action = (t, msg)
                    continue
                key = None
                if m.step_key_fields:
                    try:
                        key = tuple(get_field(msg, f) for f in m.step_key_fields)
                    except AttributeError:
                        key = None
                if key is not None:
                    if key in seen_keys:
                        continue
                    seen_keys.add(key)
                try:
                    inter = bool(get_field(msg, m.intervention_field)) if m.intervention_field else \
                        m.intervention_default
                except AttributeError:
                    inter = m.intervention_default
                start_step(t, msg, inter)
            if m.clock == "rate" and last_action is not None:
                period = int(1e9 / m.rate_hz)
                next_tick = last_action[0] if next_tick is None else next_tick
                while next_tick <= t:
                    if (next_tick - last_action[0]) * 1e-9 <= m.max_age_s:
                        start_step(next_tick, last_action[1], m.intervention_default)
                    next_tick += period
            while yield_queue:
                yield yield_queue.pop(0)
        # end of the bag
        if ep is not None:
            if has_events:
                why = "incomplete: the bag ends before the episode's END event" + (
                    " (the bag is truncated)" if br.truncated else "")
                finish(ep, None, why, last_t or 0)
            else:
                out = finish(ep, None, None, last_t or 0)
                if out is not None:
                    yield out
        while yield_queue:
            yield yield_queue.pop(0)
        report.problems.extend(br.problems)
        report.messages += sum(br.messages.values())
        report.bag_bytes += br.bytes
        for name, role in (("image", m.image_topic), ("state", m.state_topic), ("action", m.action_topic)):
            if role and _norm(role) not in {_norm(k) for k in br.messages}:
                report.problems.append(f"{bag}: no messages on the {name} topic {role}")

    def _relabel(self, e: _Open, actions: np.ndarray) -> np.ndarray:
        out = actions.copy()
        for i, s in enumerate(e.states):
            img = e.raw_images[i] if e.raw_images else None
            out[i] = self.policy.act(s, img, e.privileged[i], gripper=float(actions[i, 6]))
        return out

    # -- all bags ----------------------------------------------------------------------------------------------
    def count_successes(self, bags: list[Path]) -> Counter:
        """Successful episodes per task from the episode events alone (for --balance)."""
        counts: Counter = Counter()
        topic = _norm(self.m.episode_topic)
        for bag in bags:
            for tp, mt, _t, raw in read_bag(bag):
                if _norm(tp) == topic:
                    msg = self.ts.deserialize_cdr(raw, mt)
                    if int(msg.event) == 1 and (msg.success or not self.o.success_only):
                        counts[msg.task_id or self.m.task] += 1
        return counts

    def run(self, inputs: list[str | Path], out_dir: str | Path, name: str) -> ConvertReport:
        from tqdm import tqdm

        t0 = time.monotonic()
        bags: list[Path] = []
        bag_phases: dict[Path, frozenset[str] | None] = {}
        for item in inputs:  # PATH or PATH@phase[,phase]: keep only those phases' steps from these bags
            path, _, ph = str(item).partition("@")
            for b in find_bags([path]):
                bags.append(b)
                bag_phases[b] = frozenset(p for p in ph.split(",") if p) or None
        report = ConvertReport(bags=len(bags))
        unlabelled = 0  # episodes without a language instruction
        cap = None
        if self.o.balance:
            counts = self.count_successes(bags)
            cap = min(counts.values()) if counts else 0
            report.problems.append(f"balance: {dict(counts)} -> at most {cap} episodes per task")
        if self.o.max_episodes > 0:
            cap = self.o.max_episodes if cap is None else min(cap, self.o.max_episodes)
        writer = RldsWriter(out_dir, name, (self.m.image_size, self.m.image_size, 3), len(self.m.state_fields),
                            shard_mb=self.o.shard_mb)
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
        if not report.episodes_written:
            report.problems.append("no episode was converted")
        if unlabelled:
            report.problems.append(f"{unlabelled} episode(s) carry no language instruction: a generalist fine-tuned "
                                   "on them is not conditioned on one (record with instruction:=, or give the "
                                   "mapping's instruction)")
        report.seconds = time.monotonic() - t0
        path = writer.close({"converted_by": "rldg convert", "relabel": self.o.relabel or None,
                             "mapping": asdict(self.m)})
        report.dataset = str(path)
        report.seconds = time.monotonic() - t0
        (path / "conversion_report.json").write_text(json.dumps(report.to_json(), indent=1, default=str))
        return report


def print_summary(report: ConvertReport) -> None:
    from rich.console import Console
    from rich.table import Table

    c = Console(stderr=True)
    t = Table(title=f"rldg convert -> {report.dataset}")
    t.add_column("what")
    t.add_column("value", justify="right")
    t.add_row("bags read", str(report.bags))
    t.add_row("bag data (MB)", f"{report.bag_bytes / 1e6:.1f}")
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
    for p in report.problems:
        c.print(f"  [yellow]{p}[/yellow]")
