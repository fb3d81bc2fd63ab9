"""Actor <-> learner transport pieces, ROS-free: the actor's outbox (keep every transition until the learner
acknowledges it, resend from the acknowledged seq) and chunked, checksummed parameter blobs."""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict


class Outbox:
    """Transitions numbered 1, 2, 3... kept until acknowledged. ``max_pending`` bounds memory: when full,
    :meth:`full` is True and the actor holds the robot instead of dropping data."""

    def __init__(self, max_pending: int, resend_after_s: float = 2.0) -> None:
        self.max_pending = int(max_pending)
        self.resend_after_s = float(resend_after_s)
        self.pending: OrderedDict[int, object] = OrderedDict()
        self.sent_at: dict[int, float] = {}
        self.seq = 0
        self.acked = 0

    def add(self, item: object) -> int:
        self.seq += 1
        self.pending[self.seq] = item
        return self.seq

    def mark_sent(self, seq: int, now: float | None = None) -> None:
        self.sent_at[seq] = time.monotonic() if now is None else now

    def ack(self, acked_seq: int) -> int:
        """Drop everything up to ``acked_seq``; -> how many were released."""
        released = 0
        while self.pending and next(iter(self.pending)) <= acked_seq:
            seq, _ = self.pending.popitem(last=False)
            self.sent_at.pop(seq, None)
            released += 1
        self.acked = max(self.acked, acked_seq)
        return released

    def due(self, now: float | None = None, limit: int = 200) -> list[tuple[int, object]]:
        """Pending items to (re)send now, oldest first: never sent, or unacknowledged for ``resend_after_s``.
        Resending restarts from the oldest unacknowledged (the learner takes seqs only in order)."""
        now = time.monotonic() if now is None else now
        out = []
        oldest = next(iter(self.pending), None)
        stale = oldest is not None and now - self.sent_at.get(oldest, -1e18) >= self.resend_after_s
        for seq, item in self.pending.items():
            if stale or seq not in self.sent_at:
                out.append((seq, item))
                if len(out) >= limit:
                    break
        return out

    def full(self) -> bool:
        return len(self.pending) >= self.max_pending

    def __len__(self) -> int:
        return len(self.pending)


def chunk_blob(data: bytes, chunk_size: int) -> tuple[str, list[bytes]]:
    digest = hashlib.sha256(data).hexdigest()
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]
    return digest, chunks


class BlobAssembler:
    """Collects the chunks of parameter versions; :meth:`add` returns the bytes once a version is complete and its
    sha256 matches (a version older than the newest applied is ignored)."""

    def __init__(self) -> None:
        self.parts: dict[int, dict[int, bytes]] = {}
        self.applied = -1
        self.rejected = 0

    def add(self, version: int, index: int, count: int, digest: str, data: bytes) -> bytes | None:
        if version <= self.applied or count == 0 or index >= count:
            return None
        got = self.parts.setdefault(version, {})
        got[index] = bytes(data)
        if len(got) < count:
            return None
        blob = b"".join(got[i] for i in range(count))
        del self.parts[version]
        for v in [v for v in self.parts if v < version]:
            del self.parts[v]
        if hashlib.sha256(blob).hexdigest() != digest:
            self.rejected += 1
            return None
        self.applied = version
        return blob
