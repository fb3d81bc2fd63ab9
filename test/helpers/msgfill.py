"""Fill any ROS 2 message with random values of the right types (from the rosidl slot types)."""

from __future__ import annotations

import importlib
import random

import numpy as np
from rosidl_parser.definition import (
    AbstractNestedType,
    AbstractSequence,
    AbstractString,
    Array,
    BasicType,
    BoundedSequence,
    NamespacedType,
)

_INT_RANGES = {
    "int8": (-128, 127), "uint8": (0, 255), "int16": (-2**15, 2**15 - 1), "uint16": (0, 2**16 - 1),
    "int32": (-2**31, 2**31 - 1), "uint32": (0, 2**32 - 1), "int64": (-2**63, 2**63 - 1), "uint64": (0, 2**64 - 1),
}


def _msg_class(t: NamespacedType):
    return getattr(importlib.import_module(".".join(t.namespaces)), t.name)


def _basic(t: BasicType, rng: random.Random):
    name = t.typename
    if name == "boolean":
        return rng.random() < 0.5
    if name in ("octet", "byte"):
        return bytes([rng.randrange(256)])
    if name == "char":
        return chr(rng.randrange(32, 127))
    if name in ("float", "double"):
        return float(np.float32(rng.uniform(-100, 100)))
    lo, hi = _INT_RANGES[name]
    return rng.randint(lo, hi)


def _value(t, rng: random.Random, n: int | None = None):
    if isinstance(t, BasicType):
        return _basic(t, rng)
    if isinstance(t, AbstractString):
        return "".join(rng.choice("abcxyz/_ 0123") for _ in range(rng.randint(0, 12)))
    if isinstance(t, NamespacedType):
        return fill(_msg_class(t)(), rng)
    if isinstance(t, AbstractNestedType):
        if isinstance(t, Array):
            count = t.size
        elif isinstance(t, BoundedSequence):
            count = rng.randint(0, t.maximum_size)
        else:
            count = rng.randint(1, 5) if n is None else n
        return [_value(t.value_type, rng) for _ in range(count)]
    raise TypeError(f"unsupported slot type {t!r}")


def fill(msg, rng: random.Random | None = None):
    """Set every field of ``msg`` (recursively) to a random valid value; returns ``msg``."""
    rng = rng or random.Random(0)
    for field, slot in zip(msg.get_fields_and_field_types(), msg.SLOT_TYPES, strict=True):
        value = _value(slot, rng)
        if isinstance(slot, AbstractSequence) and isinstance(slot.value_type, BasicType) \
                and slot.value_type.typename in ("octet", "byte"):
            value = [bytes(v) for v in value]
        setattr(msg, field, value)
    return msg


def all_types(module_name: str) -> list[type]:
    """Every message (or service) class of an interface module, e.g. ``rldg_msgs.msg``."""
    mod = importlib.import_module(module_name)
    out = []
    for name in sorted(dir(mod)):
        cls = getattr(mod, name)
        if name.startswith("_") or not isinstance(cls, type):
            continue
        if module_name.endswith(".srv"):
            if hasattr(cls, "Request") and hasattr(cls, "Response"):
                out.append(cls)
        elif hasattr(cls, "get_fields_and_field_types"):
            out.append(cls)
    return out
