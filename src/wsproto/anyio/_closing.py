"""Closing: the four ways a connection ends, and the one teardown they share.

* :meth:`Closing._close_orderly` — we start the closing handshake (``aclose()``,
  a server's handler returning or being cancelled): send our close frame, wait
  for the peer's.
* :meth:`Closing._answer_close` — the peer started it, or the core found a
  violation: answer it, then let the transport go.
* :meth:`Closing._fail_connection` — a local failure (keepalive timeout, a
  fragmented message cut short): a close frame, a second at most, then drop.
* :meth:`Closing._teardown` — the transport goes now. Each of the above ends
  here, and so does every failed write and the reader's end.

The close code each path reports is the engine's decision (``_engine.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import anyio

from wsproto.events import CloseConnection

from ._errors import ConnectionClosed
from ._inbox import Inbox
from ._sync import Flag
from ._writer import ABORTED, Writing

__all__ = ["CLOSE_GRACE", "Closing"]

#: Longest wait, in seconds, for the application to finish with the messages
#: received before the peer's failing frame, before the close is answered.
CLOSE_GRACE = 1.0


class Closing(Writing):
    """The closing half of a connection (a part of :class:`WebSocketConnection`)."""

    __slots__ = ()

    _inbox: Inbox
    _reader_done: Flag
    _keepalive_scope: anyio.CancelScope | None
    _disconnect_timeout: float
    _receive_size: int

    if TYPE_CHECKING:

        @property
        def is_client(self) -> bool: ...

    async def _close_orderly(self, code: int, reason: str | None) -> bool:
        """Close; return whether the closing handshake finished within the timeout.

        Shielded, and ``disconnect_timeout`` at most, so leaving a cancelled
        task group never hangs. A local close drops the messages not yet
        received.
        """
        engine = self._engine
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(self._disconnect_timeout) as scope:
                self._inbox.discard()
                frame = engine.start_close(code, reason)
                if frame is not None:
                    try:
                        await self._send_close(frame)
                    except ConnectionClosed:
                        pass
                # Wait for the reader to see the peer's close (or the end of
                # the transport), whoever started closing. During the opening
                # handshake there is nothing to wait for.
                if not engine.connecting:
                    await self._reader_done.wait()
            if scope.cancelled_caught:
                detail = "the closing handshake took longer than %s s"
                engine.log_limit("disconnect_timeout", detail, self._disconnect_timeout)
            await self._teardown()
        return not scope.cancelled_caught

    async def _answer_close(self, event: CloseConnection) -> None:
        """The peer's close frame (or a violation the core reported) arrived: answer it."""
        engine = self._engine
        if engine.wants_grace(event):
            await self._inbox.wait_consumer_idle(min(CLOSE_GRACE, self._disconnect_timeout))
        reply = engine.answer_close(event)
        if reply is not None:
            try:
                # The peer may hang up right after its close (RFC 6455 §7.1.1
                # lets a server): what it sent before stays receivable (the
                # teardown of a failed write keeps the inbox).
                await self._send_close(reply)
            except ConnectionClosed:
                pass
        self._inbox.end()
        if self.is_client:
            # RFC 6455 §7.1.1: the server closes TCP first; give it a moment.
            with anyio.move_on_after(self._disconnect_timeout):
                try:
                    while await self._stream.receive(self._receive_size):
                        pass
                except ABORTED:
                    pass

    async def _fail_connection(self, code: int, reason: str) -> None:
        """Close now: send a close frame (waiting a second at most), then drop the transport."""
        with anyio.CancelScope(shield=True):
            if self._engine.close_reason is None:
                failure = self._engine.fail(code, reason)
                self._inbox.end()
                if failure.frame:
                    with anyio.move_on_after(1):
                        try:
                            await self._write(failure.frame)
                        except ConnectionClosed:
                            pass
            await self._teardown()

    async def _teardown(self, *, abort: bool = False) -> None:
        """The transport goes now; the connection is over (1006 unless the reason is known).

        Idempotent. Messages received before stay there to be taken (a local
        close discards them itself). ``abort``: bytes not yet sent are dropped
        where the transport can tell (a write was cut short).
        """
        self._engine.ended()
        self._inbox.end()
        self._engine.pings.wake_all()
        if self._keepalive_scope is not None:
            self._keepalive_scope.cancel()
        if abort and self._fast is not None:
            self._fast.abort()
        else:
            await self._stream.aclose()
