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
_RLDG_TYPES: dict | None = None


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


def _rldg_types() -> dict:
    global _RLDG_TYPES
    if _RLDG_TYPES is None:
        _RLDG_TYPES = {}
        for f in sorted(msg_dir().glob("*.msg")):
            _RLDG_TYPES.update(get_types_from_msg(f.read_text(), f"rldg_msgs/msg/{f.stem}"))
    return _RLDG_TYPES


def bag_typestore():
    """A new store of Kilted's standard types for one bag: the definitions the bag carries are registered in it as
    they come, so each bag decodes with its own (two versions of a vendor's messages, or a bag recorded before an
    rldg_msgs change); :func:`ensure_type` adds this package's definition of an rldg type the bag does not carry."""
    return get_typestore(Stores.ROS2_KILTED)


def ensure_type(ts, msgtype: str) -> None:
    """An rldg_msgs type the bag carried no definition of: this package's (with the rldg types it depends on)."""
    if msgtype not in ts.fielddefs and msgtype in _rldg_types():
        ts.register({k: v for k, v in _rldg_types().items() if k not in ts.fielddefs})


def typestore():
    """The shared store of Kilted's standard types plus rldg_msgs, for writing our own messages; readers never add
    to it (they use :func:`bag_typestore`)."""
    global _TYPESTORE
    if _TYPESTORE is None:
        _TYPESTORE = bag_typestore()
        _TYPESTORE.register(_rldg_types())
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
    bytes: int = 0  # message payload bytes (decompressed)
    file_bytes: int = 0  # the bag's files on disk
    problems: list[str] = field(default_factory=list)
    truncated: bool = False  # the bag ends torn: what its writer wrote last is lost
    # log-time ranges (ns) of messages in damaged chunks that were skipped, in the order met (the rest was read)
    damaged: list[tuple[int, int]] = field(default_factory=list)
    # this bag's type store: the standard types plus the definitions the bag carries (decode its messages with it)
    typestore: object = field(default=None, repr=False, compare=False)


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
    if report.typestore is None:
        report.typestore = bag_typestore()
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
        report.file_bytes += f.stat().st_size
        yield from _read_mcap(f, report)


def _count(report: BagReport, topic: str, n: int) -> None:
    report.messages[topic] = report.messages.get(topic, 0) + 1
    report.bytes += n


def _summary(fh):
    """The MCAP summary (schemas, channels, chunk index) if the file has an intact one, else None."""
    from mcap.reader import make_reader

    try:
        summary = make_reader(fh).get_summary()
    except Exception:  # noqa: BLE001 - no or a damaged footer/summary (a writer that died): stream instead
        return None
    return summary if summary is not None and summary.chunk_indexes else None


def _read_mcap(f: Path, report: BagReport) -> Iterator[tuple[str, str, int, bytes]]:
    with open(f, "rb") as fh:
        summary = _summary(fh)
    if summary is not None:
        yield from _read_mcap_indexed(f, summary, report)
    else:
        yield from _read_mcap_stream(f, report)


class _Channels:
    """MCAP channel id -> (topic, ROS type), registering each type's definition once; bad ones are reported."""

    def __init__(self, f: Path, report: BagReport) -> None:
        self.f, self.report, self.ts = f, report, report.typestore
        self.schemas: dict = {}
        self.channels: dict[int, tuple[str, str]] = {}
        self.bad_types: set[str] = set()

    def add(self, channel) -> None:
        schema = self.schemas.get(channel.schema_id)
        msgtype = schema.name if schema else ""
        text = schema.data.decode() if schema is not None and schema.data else ""
        if text.strip() and msgtype not in self.ts.fielddefs and msgtype not in self.bad_types:
            try:
                register_definition(self.ts, msgtype, text)
            except Exception as exc:  # noqa: BLE001 - report the type, keep the other topics
                ours = msgtype in _rldg_types()  # an rldg type: this package's definition stands in
                if not ours:
                    self.bad_types.add(msgtype)
                self.report.problems.append(f"{self.f}: topic {channel.topic}: cannot parse the definition of "
                                            f"{msgtype} ({exc}); " + ("decoded with this package's definition"
                                                                      if ours else "its messages are skipped"))
        ensure_type(self.ts, msgtype)
        self.channels[channel.id] = (channel.topic, msgtype)

    def message(self, rec) -> Iterator[tuple[str, str, int, bytes]]:
        """An MCAP Message record as ``(topic, msgtype, log_time_ns, cdr)``, counted; nothing for an unknown
        channel or a type whose definition could not be parsed."""
        topic, msgtype = self.channels.get(rec.channel_id, ("", ""))
        if topic and msgtype and msgtype not in self.bad_types:
            _count(self.report, topic, len(rec.data))
            yield topic, msgtype, int(rec.log_time), bytes(rec.data)


def _read_mcap_indexed(f: Path, summary, report: BagReport) -> Iterator[tuple[str, str, int, bytes]]:
    """Chunk by chunk through the summary's chunk index: a damaged chunk (bad CRC, undecompressable, torn) is
    skipped and reported with the log-time range of its messages, and reading goes on with the next one."""
    import io
    import struct

    from mcap.data_stream import ReadDataStream
    from mcap.opcode import Opcode
    from mcap.records import Chunk, Message
    from mcap.stream_reader import breakup_chunk

    chans = _Channels(f, report)
    chans.schemas = dict(summary.schemas)
    for ch in summary.channels.values():
        chans.add(ch)
    size = f.stat().st_size
    with open(f, "rb") as fh:
        for k, ci in enumerate(sorted(summary.chunk_indexes, key=lambda c: c.chunk_start_offset)):
            got = []
            try:
                if ci.chunk_start_offset + ci.chunk_length > size:
                    raise EOFError("the chunk runs past the end of the file")
                fh.seek(ci.chunk_start_offset)
                data = fh.read(ci.chunk_length)
                if data[0] != Opcode.CHUNK:
                    raise ValueError(f"no chunk record at this offset (opcode {data[0]:#x})")
                (length,) = struct.unpack_from("<Q", data, 1)
                chunk = Chunk.read(ReadDataStream(io.BytesIO(data[9:9 + length])))
                got = [r for r in breakup_chunk(chunk, validate_crc=True) if isinstance(r, Message)]
            except Exception as exc:  # noqa: BLE001 - this chunk is damaged: skip it, keep the others
                report.damaged.append((int(ci.message_start_time), int(ci.message_end_time)))
                report.problems.append(
                    f"{f}: chunk {k + 1}/{len(summary.chunk_indexes)} (bytes {ci.chunk_start_offset}-"
                    f"{ci.chunk_start_offset + ci.chunk_length}, messages logged {ci.message_start_time * 1e-9:.3f}-"
                    f"{ci.message_end_time * 1e-9:.3f} s) is damaged ({type(exc).__name__}: {exc}); skipped, "
                    "the other chunks are read")
                continue
            for rec in got:  # in the order written (a clock that jumps back stays visible)
                yield from chans.message(rec)


def _read_mcap_stream(f: Path, report: BagReport) -> Iterator[tuple[str, str, int, bytes]]:
    """Record by record from the start, for files without an intact summary: everything before a tear."""
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader

    chans = _Channels(f, report)
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
                chans.schemas[rec.id] = rec
            elif isinstance(rec, Channel):
                chans.add(rec)
            elif isinstance(rec, Message):
                yield from chans.message(rec)


def _read_sqlite(path: Path, report: BagReport) -> Iterator[tuple[str, str, int, bytes]]:
    from rosbags.rosbag2 import Reader

    if not (path / "metadata.yaml").exists():
        report.problems.append(f"{path}: sqlite3 bag without metadata.yaml (cannot be read; reindex it with "
                               "'ros2 bag reindex')")
        report.truncated = True
        return
    ts = report.typestore
    report.file_bytes += sum(p.stat().st_size for p in path.glob("*.db3"))
    try:
        with Reader(path) as reader:
            for c in reader.connections:
                if c.msgtype not in ts.fielddefs and c.msgdef and c.msgdef.data:
                    try:
                        register_definition(ts, c.msgtype, c.msgdef.data)
                    except Exception as exc:  # noqa: BLE001 - this package's definition, or none, instead
                        report.problems.append(f"{path}: cannot parse the definition of {c.msgtype} ({exc})")
                ensure_type(ts, c.msgtype)
            for conn, t, data in reader.messages():
                _count(report, conn.topic, len(data))
                yield conn.topic, conn.msgtype, int(t), bytes(data)
    except Exception as exc:  # noqa: BLE001 - a damaged database: keep what came before
        report.truncated = True
        report.problems.append(f"{path}: sqlite3 read failed after {sum(report.messages.values())} messages "
                               f"({type(exc).__name__}: {exc})")
