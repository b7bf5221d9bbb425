"""Ping bookkeeping: the pings in flight, which pong answers which, the latency.

Synchronous and clock-free (the caller passes the time), so every driver
makes the same decisions: RFC 6455 §5.5.3 lets a peer answer only the latest
of several pings, so a pong answers its own ping and every ping sent before it.
"""

from __future__ import annotations

import os

from ._sync import Waiter

__all__ = ["Pings"]

#: Bytes of a ping payload the layer picks itself.
PAYLOAD_SIZE = 4


class Pings:
    """The pings a connection has in flight, in the order they were sent."""

    __slots__ = ("_in_flight", "latency")

    def __init__(self) -> None:
        # Insertion order is sending order: a pong answers a prefix of it.
        self._in_flight: dict[bytes, tuple[Waiter, float]] = {}
        #: Seconds between the last answered ping and its pong, or None.
        self.latency: float | None = None

    def new_payload(self) -> bytes:
        """A random payload no ping in flight uses."""
        payload = os.urandom(PAYLOAD_SIZE)
        while payload in self._in_flight:
            payload = os.urandom(PAYLOAD_SIZE)
        return payload

    def start(self, payload: bytes, answered: Waiter, now: float) -> None:
        """Record a ping sent at ``now``; ``answered`` is set when its pong (or the end) comes.

        Raises:
            ValueError: if a ping with this payload is already in flight.
        """
        if payload in self._in_flight:
            raise ValueError(f"a ping with payload {payload!r} is already in flight")
        self._in_flight[payload] = (answered, now)

    def in_flight(self, payload: bytes) -> bool:
        """Whether the ping is still unanswered."""
        return payload in self._in_flight

    def forget(self, payload: bytes) -> None:
        """Stop tracking a ping (its sender gave up waiting)."""
        self._in_flight.pop(payload, None)

    def answer(self, payload: bytes, now: float) -> float | None:
        """A pong arrived at ``now``: it answers its ping and every earlier one.

        Returns its ping's latency (for the logs), or ``None`` if it answered none.
        """
        if payload not in self._in_flight:
            return None  # unsolicited, or for a ping nobody waits for any more
        for key in list(self._in_flight):
            answered, sent = self._in_flight.pop(key)
            answered.set()
            if key == payload:
                self.latency = now - sent
                break
        return self.latency

    def wake_all(self) -> None:
        """The connection is over: wake every ping's sender (their pings stay unanswered)."""
        for answered, _ in self._in_flight.values():
            answered.set()
