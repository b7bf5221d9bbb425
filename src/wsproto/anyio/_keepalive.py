"""Keepalive: a ping every ``ping_interval``; no pong within ``ping_timeout`` fails with 1011.

A client runs a keepalive task of its own; a server runs one task for all its
connections (see ``WebSocketServer._keepalive``), which asks each connection
whether a ping is due (:meth:`Keepalive._keepalive_claim`). When pings are
due is the engine's decision.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio

from wsproto.events import Ping

from . import _log
from ._closing import Closing
from ._errors import ConnectionClosed

__all__ = ["Keepalive"]


class Keepalive(Closing):
    """The keepalive of a connection (a part of :class:`WebSocketConnection`)."""

    __slots__ = ()

    _ping_interval: float | None
    _ping_timeout: float | None

    async def _keepalive(self) -> None:
        """A client's keepalive task."""
        assert self._ping_interval is not None
        handshake = self._engine.handshake
        if handshake is not None:
            await handshake.done.wait()
        while self._engine.close_reason is None:
            await anyio.sleep(self._ping_interval)
            await self._keepalive_once()

    def _keepalive_claim(self, now: float) -> bool:
        """Whether a server's keepalive round should ping this connection now; if so, it will."""
        interval = self._ping_interval
        if interval is None or not self._engine.keepalive_due(now, interval):
            return False
        self._engine.keepalive_busy = True
        return True

    async def _keepalive_once(self) -> None:
        """One keepalive ping: closes the connection with 1011 if its pong does not come.

        The time without an answer counts only while the connection reads:
        when the application is behind and the inbox is full, nothing is read,
        and the pong may be waiting, unread, behind the messages. Blaming the
        peer for that would fail a healthy connection (and drop what was
        queued) because of our own consumer.
        """
        assert self._ping_interval is not None
        engine = self._engine
        engine.keepalive_busy = True
        try:
            async with self._ping_in_flight(None) as (_, answered):
                while True:
                    with anyio.move_on_after(self._ping_timeout):
                        await answered.wait()
                    if answered.is_set() or engine.close_reason is not None:
                        return
                    if not self._inbox.backed_up:
                        # A peer that stops answering is gone (RFC 6455 §5.5.2
                        # asks it to answer).
                        detail = "no pong within %s s"
                        engine.log_limit(
                            "ping_timeout", detail, self._ping_timeout, close_code=1011
                        )
                        await self._fail_connection(1011, "keepalive ping timeout")
                        return
        except ConnectionClosed:
            pass
        finally:
            engine.keepalive_busy = False
            engine.keepalive_next = time.monotonic() + self._ping_interval

    @asynccontextmanager
    async def _ping_in_flight(
        self, payload: bytes | None
    ) -> AsyncIterator[tuple[bytes, anyio.Event]]:
        """Send a ping (``None``: a payload of its own); give its payload and its answer's event.

        The ping is tracked until the block ends: the event is set when its
        pong (or a later one) comes, or when the connection ends.
        """
        pings = self._engine.pings
        if payload is None:
            payload = pings.new_payload()
        answered = anyio.Event()
        pings.start(payload, answered, time.monotonic())
        try:
            await self._send(Ping(payload))
            _log.ping_sent(self._engine.log_id, self._engine.remote, payload)
            yield payload, answered
        finally:
            pings.forget(payload)
