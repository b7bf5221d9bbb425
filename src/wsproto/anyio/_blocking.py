"""The blocking connection shared by ``wsproto.sync``'s client and server.

A :class:`Connection` wraps a :class:`~wsproto.anyio.WebSocketConnection`
that lives in an event loop running in another thread; each method hands its
work to that loop through anyio's blocking portal and waits for the result.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from types import TracebackType
from typing import Self, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from . import CloseReason, ConnectionClosed, Endpoint, WebSocketConnection

T = TypeVar("T")


class Connection:
    """A blocking WebSocket connection: the methods of both :class:`ClientConnection` and
    :class:`ServerConnection`.

    Threading rules:

    * Every method may be called from any thread, except from code running
      inside the connection's own event loop (there, use the
      :class:`~wsproto.anyio.WebSocketConnection` itself).
    * Several threads may call :meth:`send` at once: each message goes out
      whole, in the order in which the calls reach the event loop.
    * Several threads may call :meth:`recv` (or iterate) at once: each
      message goes to exactly one of them. Usually one thread receives.
    * :meth:`ping` may run alongside :meth:`send` and :meth:`recv`.
    * :meth:`close` may be called from any thread, and more than once (later
      calls do nothing). A :meth:`recv`, :meth:`send` or :meth:`ping`
      blocked in another thread then raises
      :class:`~wsproto.anyio.ConnectionClosed`.
    """

    def __init__(self, portal: BlockingPortal, ws: WebSocketConnection) -> None:
        self._portal = portal
        self._ws = ws
        # False once the event loop is gone (a client's close() stops it).
        self._running = True

    # Properties: read from any thread.

    @property
    def subprotocol(self) -> str | None:
        """The subprotocol the server chose, or ``None``."""
        return self._ws.subprotocol

    @property
    def local(self) -> Endpoint | str | None:
        """This end of the connection."""
        return self._ws.local

    @property
    def remote(self) -> Endpoint | str | None:
        """The server's end of the connection."""
        return self._ws.remote

    @property
    def path(self) -> str | None:
        """The resource requested, the URL's path and query."""
        return self._ws.path

    @property
    def handshake_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The headers of the server's handshake response."""
        return self._ws.handshake_headers

    @property
    def closed(self) -> CloseReason | None:
        """How the connection closed (code and reason), or ``None`` while it is open."""
        return self._ws.closed

    @property
    def close_code(self) -> int | None:
        """The close code, or ``None`` while the connection is open."""
        reason = self._ws.closed
        return None if reason is None else reason.code

    @property
    def close_reason(self) -> str | None:
        """The close reason text, or ``None`` while open or when none was given."""
        reason = self._ws.closed
        return None if reason is None else reason.reason

    # Operations: each runs in the event loop's thread; this thread waits.

    def _call(self, func: Callable[..., Awaitable[T]], *args: object) -> T:
        if not self._running:
            raise ConnectionClosed(self._ws.closed)
        try:
            return self._portal.call(func, *args)
        except RuntimeError:
            # The portal stopped under us: close() ran in another thread.
            if not self._running:
                raise ConnectionClosed(self._ws.closed) from None
            raise

    def send(self, message: str | bytes) -> None:
        """Send a message: ``str`` as a text message, ``bytes`` as a binary one.

        Returns once the message is written to the connection.

        Raises:
            wsproto.anyio.ConnectionClosed: if the connection is closed or closing.
        """
        self._call(self._ws.send_message, message)

    def recv(self, timeout: float | None = None) -> str | bytes:
        """Receive the next message: ``str`` for text, ``bytes`` for binary.

        Blocks until a message arrives, for at most ``timeout`` seconds when
        given. A timeout loses nothing: a message partly received then is
        returned whole by the next call.

        Raises:
            TimeoutError: if no message arrived within ``timeout`` seconds.
            wsproto.anyio.ConnectionClosed: once the connection is closed and
                every message received before the close has been returned.
        """
        return self._call(self._recv, timeout)

    async def _recv(self, timeout: float | None) -> str | bytes:
        with anyio.fail_after(timeout):
            return await self._ws.get_message()

    def __iter__(self) -> Iterator[str | bytes]:
        """Iterate over the messages received, until the connection closes.

        The iteration ends when the connection closes normally (1000 or
        1001); any other close raises :class:`~wsproto.anyio.ConnectionClosed`.
        """
        while True:
            try:
                yield self.recv()
            except ConnectionClosed as exc:
                if exc.reason is not None and exc.reason.code in (1000, 1001):
                    return
                raise

    def ping(self, payload: bytes | None = None, *, timeout: float | None = None) -> float:
        """Send a ping, wait for its pong, and return the round-trip time in seconds.

        Args:
            payload: The ping's payload (unique among pings in flight);
                ``None`` picks a random one.
            timeout: Seconds to wait for the pong at most.

        Raises:
            TimeoutError: if no pong arrived within ``timeout`` seconds.
            wsproto.anyio.ConnectionClosed: if the connection closes first.
        """
        return self._call(self._ping, payload, timeout)

    async def _ping(self, payload: bytes | None, timeout: float | None) -> float:
        started = time.monotonic()
        with anyio.fail_after(timeout):
            await self._ws.ping(payload)
        return time.monotonic() - started

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection with ``code`` and ``reason``.

        Runs the closing handshake (bounded by ``disconnect_timeout``).
        Closing a closed connection does nothing.
        """
        if self._running:
            self._portal.call(self._ws.aclose, code, reason or None)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "open" if self._ws.closed is None else f"closed {self._ws.closed.code}"
        return f"<{type(self).__name__} {self._ws.path!r} {state}>"
