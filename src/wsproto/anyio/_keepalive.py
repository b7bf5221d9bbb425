"""Keepalive: a ping every ``ping_interval``; no pong within ``ping_timeout`` fails with 1011.

A client runs a keepalive task of its own; a server runs one task for all its
connections (see ``WebSocketServer._keepalive``), which asks each connection
whether a ping is due (:meth:`Keepalive._keepalive_claim`). When pings are
due is the engine's decision.
"""

from __future__ import annotations

import time

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
        pings = engine.pings
        payload = pings.new_payload()
        answered = anyio.Event()
        pings.start(payload, answered, time.monotonic())
        try:
            await self._send(Ping(payload))
            _log.ping_sent(engine.log_id, self._engine.remote, payload)
            while True:
                with anyio.move_on_after(self._ping_timeout):
                    await answered.wait()
                if answered.is_set() or self._engine.close_reason is not None:
                    return
                if not self._inbox.backed_up:
                    # A peer that stops answering is gone (RFC 6455 §5.5.2
                    # asks it to answer).
                    _log.limit(
                        _log.connection_logger,
                        engine.log_id,
                        self._engine.remote,
                        "ping_timeout",
                        "no pong within %s s",
                        self._ping_timeout,
                        close_code=1011,
                    )
                    await self._fail_connection(1011, "keepalive ping timeout")
                    return
        except ConnectionClosed:
            pass
        finally:
            pings.forget(payload)
            engine.keepalive_busy = False
            engine.keepalive_next = time.monotonic() + self._ping_interval
