"""The actor's end of the actor -> learner link: transitions go out on ``rldg/transitions`` and stay in an
:class:`rldg_ros.rl.transport.Outbox` until the learner acknowledges them (``rldg/transitions/ack``, per actor id);
unacknowledged ones are resent, from the acknowledged seq on when a learner restarts."""

from __future__ import annotations

from rldg_msgs.msg import Transition, TransitionAck
from rldg_ros import topics
from rldg_ros.qos import RELIABLE_10, RELIABLE_DEEP
from rldg_ros.rl.transport import Outbox


class TransitionSender:
    """Owned by a node; every method runs under ``node.lock``, as the ack callback does."""

    def __init__(self, node, actor_id: str, max_pending: int, resend_after_s: float, callback_group) -> None:
        self.node, self.actor_id = node, actor_id
        self.outbox = Outbox(max_pending, resend_after_s)
        self.pub = node.create_publisher(Transition, topics.TRANSITIONS.name, RELIABLE_DEEP)
        node.create_subscription(TransitionAck, topics.TRANSITION_ACK.name, self._on_ack, RELIABLE_10,
                                 callback_group=callback_group)

    def send(self, t: Transition) -> None:
        t.actor_id = self.actor_id
        t.seq = self.outbox.add(t)
        self.pump()

    def pump(self) -> None:
        """Publish what is due: new transitions, and unacknowledged ones whose resend time came."""
        for seq, msg in self.outbox.due():
            self.pub.publish(msg)
            self.outbox.mark_sent(seq)

    def _on_ack(self, msg: TransitionAck) -> None:
        if msg.actor_id != self.actor_id:
            return
        with self.node.lock:
            self.outbox.ack(int(msg.acked_seq))
            if msg.acked_seq < self.outbox.seq:
                self.pump()

    def full(self) -> bool:
        return self.outbox.full()

    def __len__(self) -> int:
        """Transitions not yet acknowledged."""
        return len(self.outbox)

    def stats(self) -> dict:
        return {"transitions": self.outbox.seq, "acked": self.outbox.acked, "unacked": len(self.outbox.pending)}
