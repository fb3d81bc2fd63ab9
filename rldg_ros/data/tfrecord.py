"""TFRecord files of ``tf.train.Example`` records, without TensorFlow.

The framing (https://www.tensorflow.org/tutorials/load_data/tfrecord): each record is ``uint64 length``,
``uint32 masked_crc32c(length)``, ``data``, ``uint32 masked_crc32c(data)``, little endian; the mask is
``((crc >> 15) | (crc << 17)) + 0xa282ead8``. ``tf.train.Example`` (tensorflow/core/example/example.proto and
feature.proto) is declared here from its public schema and compiled at import by the protobuf runtime, so records
written here are byte-compatible with what TensorFlow and TFDS write and read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import google_crc32c
import numpy as np
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory


def _example_classes():
    fd = descriptor_pb2.FileDescriptorProto(name="rldg_tf_example.proto", package="tensorflow", syntax="proto3")
    f = descriptor_pb2.FieldDescriptorProto
    rep, opt = f.LABEL_REPEATED, f.LABEL_OPTIONAL

    def msg(name, fields, nested=()):
        m = fd.message_type.add(name=name)
        for fname, number, ftype, label, type_name, oneof in fields:
            fld = m.field.add(name=fname, number=number, type=ftype, label=label)
            if type_name:
                fld.type_name = type_name
            if oneof is not None:
                fld.oneof_index = oneof
        for n in nested:
            m.nested_type.append(n)
        return m

    msg("BytesList", [("value", 1, f.TYPE_BYTES, rep, "", None)])
    fl = msg("FloatList", [("value", 1, f.TYPE_FLOAT, rep, "", None)])
    fl.field[0].options.packed = True
    il = msg("Int64List", [("value", 1, f.TYPE_INT64, rep, "", None)])
    il.field[0].options.packed = True
    feat = msg("Feature", [("bytes_list", 1, f.TYPE_MESSAGE, opt, ".tensorflow.BytesList", 0),
                           ("float_list", 2, f.TYPE_MESSAGE, opt, ".tensorflow.FloatList", 0),
                           ("int64_list", 3, f.TYPE_MESSAGE, opt, ".tensorflow.Int64List", 0)])
    feat.oneof_decl.add(name="kind")
    entry = descriptor_pb2.DescriptorProto(name="FeatureEntry")
    entry.field.add(name="key", number=1, type=f.TYPE_STRING, label=opt)
    entry.field.add(name="value", number=2, type=f.TYPE_MESSAGE, label=opt, type_name=".tensorflow.Feature")
    entry.options.map_entry = True
    msg("Features", [("feature", 1, f.TYPE_MESSAGE, rep, ".tensorflow.Features.FeatureEntry", None)], (entry,))
    msg("Example", [("features", 1, f.TYPE_MESSAGE, opt, ".tensorflow.Features", None)])
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fd)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("tensorflow.Example"))


Example = _example_classes()


def _masked_crc(data: bytes | memoryview) -> int:
    crc = google_crc32c.value(bytes(data))
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def encode_example(features: dict[str, list[bytes] | np.ndarray]) -> bytes:
    """``{key: bytes list | float array | int/bool array}`` -> a serialized ``tf.train.Example``."""
    ex = Example()
    fmap = ex.features.feature
    for key, value in features.items():
        if isinstance(value, (list, tuple)) and (not value or isinstance(value[0], (bytes, bytearray))):
            fmap[key].bytes_list.value.extend(value)
            continue
        arr = np.asarray(value)
        if arr.dtype.kind == "f":
            fmap[key].float_list.value.extend(arr.astype(np.float32).ravel().tolist())
        elif arr.dtype.kind in "iub":
            fmap[key].int64_list.value.extend(arr.astype(np.int64).ravel().tolist())
        else:
            raise TypeError(f"feature {key!r}: unsupported dtype {arr.dtype}")
    return ex.SerializeToString()


def decode_example(data: bytes) -> dict[str, list[bytes] | np.ndarray]:
    """A serialized ``tf.train.Example`` -> ``{key: bytes list | float32 array | int64 array}``."""
    ex = Example.FromString(data)
    out: dict[str, list[bytes] | np.ndarray] = {}
    for key, feat in ex.features.feature.items():
        kind = feat.WhichOneof("kind")
        if kind == "bytes_list":
            out[key] = list(feat.bytes_list.value)
        elif kind == "float_list":
            out[key] = np.array(feat.float_list.value, np.float32)
        elif kind == "int64_list":
            out[key] = np.array(feat.int64_list.value, np.int64)
        else:
            out[key] = np.zeros(0, np.float32)
    return out


class TFRecordWriter:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.f = open(self.path, "wb")  # noqa: SIM115 - closed in close()
        self.bytes = 0
        self.records = 0

    def write(self, data: bytes) -> None:
        length = struct.pack("<Q", len(data))
        self.f.write(length + struct.pack("<I", _masked_crc(length)) + data + struct.pack("<I", _masked_crc(data)))
        self.bytes += len(data) + 16
        self.records += 1

    def close(self) -> None:
        self.f.close()

    def __enter__(self) -> TFRecordWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class TFRecordError(ValueError):
    pass


def read_records(path: str | Path, verify: bool = True) -> Iterator[bytes]:
    """Records of a TFRecord file; a corrupt or truncated record raises :class:`TFRecordError` naming the offset."""
    path = Path(path)
    with open(path, "rb") as f:
        offset = 0
        while True:
            head = f.read(12)
            if not head:
                return
            if len(head) < 12:
                raise TFRecordError(f"{path}: truncated record header at byte {offset}")
            (length,), (crc,) = struct.unpack("<Q", head[:8]), struct.unpack("<I", head[8:])
            if verify and crc != _masked_crc(head[:8]):
                raise TFRecordError(f"{path}: corrupt record length at byte {offset}")
            data = f.read(length)
            tail = f.read(4)
            if len(data) < length or len(tail) < 4:
                raise TFRecordError(f"{path}: truncated record at byte {offset}")
            if verify and struct.unpack("<I", tail)[0] != _masked_crc(data):
                raise TFRecordError(f"{path}: record at byte {offset} fails its checksum")
            offset += 16 + length
            yield data
