"""Keepalive: a ping every ``ping_interval``; no pong within ``ping_timeout`` fails with 1011.

A client runs a keepalive task of its own; a server runs one task for all its
connections (see ``WebSocketServer._keepalive``), which asks each connection
whether a ping is due (:meth:`Keepalive._keepalive_claim`). When pings are
due is the engine's decision.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import anyio

from ._closing import Closing
from ._errors import ConnectionClosed

__all__ = ["Keepalive"]


class Keepalive(Closing):
    """The keepalive of a connection (a part of :class:`WebSocketConnection`)."""

    __slots__ = ()

    _ping_interval: float | None
    _ping_timeout: float | None

    if TYPE_CHECKING:  # in _connection.py

        async def ping(self, payload: bytes | None = None) -> None: ...

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
        """One keepalive ping: closes the connection with 1011 if its pong does not come."""
        assert self._ping_interval is not None
        engine = self._engine
        engine.keepalive_busy = True
        try:
            with anyio.fail_after(self._ping_timeout):
                await self.ping()
        except ConnectionClosed:
            pass
        except TimeoutError:
            # A peer that stops answering is gone (RFC 6455 §5.5.2 asks it to answer).
            await self._fail_connection(1011, "keepalive ping timeout")
        finally:
            engine.keepalive_busy = False
            engine.keepalive_next = time.monotonic() + self._ping_interval
