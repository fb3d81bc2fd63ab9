"""rosbag2 files without rosbag2: writing (the ``rosbags`` library) and fault-tolerant reading.

Writing: :class:`BagWriter` writes a rosbag2 bag (MCAP by default, sqlite3 optional) with a ``metadata.yaml`` that
``ros2 bag info`` / ``ros2 bag play`` accept, from raw CDR bytes (what an rclpy subscription with ``raw=True`` gets).

Reading: :func:`read_bag` yields ``(topic, msgtype, log_time_ns, cdr_bytes)`` in log-time order from

* an MCAP bag directory or a bare ``.mcap`` file, streamed record by record with the ``mcap`` library, so a bag
  whose writer died (no summary, no ``metadata.yaml``, a torn last chunk) yields every intact message and reports
  where it stopped instead of failing;
* a sqlite3 bag directory, through ``rosbags``' reader.

Message types are taken from the bag itself (the MCAP schema records or the sqlite3 connection definitions), so bags
from any rosbag2 writer decode, custom interfaces included; rldg_msgs and the standard types are known beforehand.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rosbags.typesys import Stores, get_types_from_msg, get_typestore

_TYPESTORE = None


def msg_dir() -> Path:
    """The rldg_msgs .msg files: the installed package share, else the source tree."""
    try:
        from ament_index_python.packages import get_package_share_directory

        d = Path(get_package_share_directory("rldg_msgs")) / "msg"
        if d.is_dir():
            return d
    except Exception:  # noqa: BLE001 - not installed / no ament index: use the sources
        pass
    return Path(__file__).resolve().parents[2] / "rldg_msgs" / "msg"


def typestore():
    """Kilted's standard types plus rldg_msgs (shared; bags may register more)."""
    global _TYPESTORE
    if _TYPESTORE is None:
        ts = get_typestore(Stores.ROS2_KILTED)
        types = {}
        for f in sorted(msg_dir().glob("*.msg")):
            types.update(get_types_from_msg(f.read_text(), f"rldg_msgs/msg/{f.stem}"))
        ts.register(types)
        _TYPESTORE = ts
    return _TYPESTORE


def register_definition(ts, msgtype: str, text: str) -> None:
    """Register a type from its ros2msg definition (the MCAP convention: dependencies after ``===`` lines)."""
    if msgtype in ts.fielddefs:
        return
    parts = re.split(r"^=+\s*$", text, flags=re.M)
    types = dict(get_types_from_msg(parts[0], msgtype))
    for part in parts[1:]:
        m = re.search(r"^MSG:\s*(\S+)\s*$", part, flags=re.M)
        if not m:
            continue
        name = m.group(1)
        if "/msg/" not in name:
            pkg, _, base = name.partition("/")
            name = f"{pkg}/msg/{base}"
        if name not in ts.fielddefs:
            body = part[m.end():]
            types.update(get_types_from_msg(body, name))
    ts.register({k: v for k, v in types.items() if k not in ts.fielddefs})


class BagWriter:
    """One rosbag2 bag: ``add(topic, msgtype)`` once per topic, then ``write(topic, t_ns, cdr)``; ``close()``."""

    def __init__(self, path: str | Path, storage: str = "mcap") -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        if storage not in ("mcap", "sqlite3"):
            raise ValueError(f"storage {storage!r}: use mcap or sqlite3")
        self.path = Path(path)
        plugin = StoragePlugin.MCAP if storage == "mcap" else StoragePlugin.SQLITE3
        self.writer = Writer(self.path, version=9, storage_plugin=plugin)
        self.writer.open()
        self.connections: dict[str, object] = {}
        self.messages = 0
        self.bytes = 0

    def add(self, topic: str, msgtype: str) -> None:
        if topic not in self.connections:
            if "/msg/" not in msgtype:
                pkg, _, base = msgtype.partition("/")
                msgtype = f"{pkg}/msg/{base}"
            self.connections[topic] = self.writer.add_connection(topic, msgtype, typestore=typestore())

    def write(self, topic: str, t_ns: int, data: bytes | memoryview) -> None:
        self.writer.write(self.connections[topic], int(t_ns), data)
        self.messages += 1
        self.bytes += len(data)

    def close(self) -> None:
        self.writer.close()


@dataclass
class BagReport:
    """What a read found: message counts per topic and anything it could not read."""

    path: str
    storage: str = ""
    messages: dict[str, int] = field(default_factory=dict)
    bytes: int = 0
    problems: list[str] = field(default_factory=list)
    truncated: bool = False


def _mcap_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(path.glob("*.mcap"))


def is_bag(path: Path) -> bool:
    path = Path(path)
    if path.is_file():
        return path.suffix == ".mcap"
    return path.is_dir() and (bool(_mcap_files(path)) or any(path.glob("*.db3")))


def find_bags(paths: list[str | Path]) -> list[Path]:
    """Bag directories / .mcap files named directly, or found one level below a named directory."""
    out: list[Path] = []
    for p in map(Path, paths):
        if not p.exists():
            raise FileNotFoundError(f"{p}: no such bag or directory")
        if is_bag(p):
            out.append(p)
        else:
            found = sorted(c for c in p.iterdir() if is_bag(c))
            if not found:
                raise FileNotFoundError(f"{p}: neither a rosbag2 bag nor a directory of bags")
            out.extend(found)
    return out


def read_bag(path: str | Path, report: BagReport | None = None) -> Iterator[tuple[str, str, int, bytes]]:
    """Messages of one bag as ``(topic, msgtype, log_time_ns, cdr)``; problems go to ``report.problems``."""
    path = Path(path)
    report = report if report is not None else BagReport(str(path))
    if path.is_dir() and any(path.glob("*.db3")) and not _mcap_files(path):
        report.storage = "sqlite3"
        yield from _read_sqlite(path, report)
        return
    report.storage = "mcap"
    files = _mcap_files(path)
    if not files:
        report.problems.append(f"{path}: no .mcap or .db3 files")
        return
    for f in files:
        yield from _read_mcap(f, report)


def _count(report: BagReport, topic: str, n: int) -> None:
    report.messages[topic] = report.messages.get(topic, 0) + 1
    report.bytes += n


def _read_mcap(f: Path, report: BagReport) -> Iterator[tuple[str, str, int, bytes]]:
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader

    ts = typestore()
    schemas: dict[int, Schema] = {}
    channels: dict[int, tuple[str, str]] = {}
    bad_types: set[str] = set()
    with open(f, "rb") as fh:
        reader = StreamReader(fh, skip_magic=False, emit_chunks=False, validate_crcs=True)
        records = reader.records
        n_before = sum(report.messages.values())
        while True:
            try:
                rec = next(records)
            except StopIteration:
                break
            except Exception as exc:  # noqa: BLE001 - any decoding failure ends this file: keep what came before
                report.truncated = True
                got = sum(report.messages.values()) - n_before
                report.problems.append(f"{f}: unreadable after {got} messages at byte ~{fh.tell()} "
                                       f"({type(exc).__name__}: {exc or 'end of data'}); the rest of the file is lost")
                return
            if isinstance(rec, Schema):
                schemas[rec.id] = rec
            elif isinstance(rec, Channel):
                schema = schemas.get(rec.schema_id)
                msgtype = schema.name if schema else ""
                if schema is not None and msgtype not in ts.fielddefs:
                    try:
                        register_definition(ts, msgtype, schema.data.decode())
                    except Exception as exc:  # noqa: BLE001 - report the type, keep the other topics
                        bad_types.add(msgtype)
                        report.problems.append(f"{f}: topic {rec.topic}: cannot parse the definition of "
                                               f"{msgtype} ({exc}); its messages are skipped")
                channels[rec.id] = (rec.topic, msgtype)
            elif isinstance(rec, Message):
                topic, msgtype = channels.get(rec.channel_id, ("", ""))
                if not topic or msgtype in bad_types or not msgtype:
                    continue
                _count(report, topic, len(rec.data))
                yield topic, msgtype, int(rec.log_time), bytes(rec.data)


def _read_sqlite(path: Path, report: BagReport) -> Iterator[tuple[str, str, int, bytes]]:
    from rosbags.rosbag2 import Reader

    if not (path / "metadata.yaml").exists():
        report.problems.append(f"{path}: sqlite3 bag without metadata.yaml (cannot be read; reindex it with "
                               "'ros2 bag reindex')")
        report.truncated = True
        return
    ts = typestore()
    try:
        with Reader(path) as reader:
            for c in reader.connections:
                if c.msgtype not in ts.fielddefs and c.msgdef and c.msgdef.data:
                    register_definition(ts, c.msgtype, c.msgdef.data)
            for conn, t, data in reader.messages():
                _count(report, conn.topic, len(data))
                yield conn.topic, conn.msgtype, int(t), bytes(data)
    except Exception as exc:  # noqa: BLE001 - a damaged database: keep what came before
        report.truncated = True
        report.problems.append(f"{path}: sqlite3 read failed after {sum(report.messages.values())} messages "
                               f"({type(exc).__name__}: {exc})")
