"""The blocking client (``wsproto.sync``): the anyio client, driven from ordinary threads.

:func:`connect` starts an event loop in a background thread with anyio's
blocking portal, opens the connection there with
:func:`~wsproto.anyio.open_websocket_url`, and returns a
:class:`ClientConnection` whose methods hand each operation to that loop and
wait for its result. Nothing about the protocol happens here: framing,
compression, keepalive, limits and the closing handshake are the layer's.
"""

from __future__ import annotations

import ssl
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Literal, TypedDict, TypeVar, Unpack

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from . import CloseReason, ConnectionClosed, Endpoint, WebSocketConnection, open_websocket_url

T = TypeVar("T")

HeadersLike = Mapping[str, str] | Iterable[tuple[str | bytes, str | bytes]]


class ConnectOptions(TypedDict, total=False):
    """The keyword arguments :func:`connect` passes on to :func:`~wsproto.anyio.open_websocket_url`.

    Each has the meaning and the default documented there.
    """

    subprotocols: Iterable[str] | None
    message_queue_size: int
    max_message_size: int | None
    receive_buffer_size: int | None
    max_fragments: int | None
    compression: Literal["deflate"] | None
    deflate_options: Mapping[str, int | bool | None] | None
    ping_interval: float | None
    ping_timeout: float | None
    connect_timeout: float
    disconnect_timeout: float


def _encode(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


def _headers(headers: HeadersLike | None) -> list[tuple[bytes, bytes]]:
    if headers is None:
        return []
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    return [(_encode(name), _encode(value)) for name, value in pairs]


def connect(
    url: str,
    *,
    backend: str = "asyncio",
    ssl_context: ssl.SSLContext | None = None,
    extra_headers: HeadersLike | None = None,
    **options: Unpack[ConnectOptions],
) -> ClientConnection:
    """Open a WebSocket client connection to ``url`` and return it once open.

    ``with connect("ws://127.0.0.1:8000/") as ws:`` closes the connection at
    the end of the block; without ``with``, call :meth:`ClientConnection.close`.
    The connection runs in an event loop of its own, in a background thread
    that ends when the connection is closed.

    Args:
        url: A ``ws://`` or ``wss://`` URL.
        backend: The event loop to run the connection on: ``"asyncio"`` or
            ``"trio"`` (trio must be installed).
        ssl_context: TLS settings for ``wss://`` (default: the system's).
        extra_headers: Headers to add to the opening handshake, as a mapping
            or as ``(name, value)`` pairs.
        **options: Passed on to :func:`~wsproto.anyio.open_websocket_url`:
            ``subprotocols``, ``max_message_size``, ``compression``,
            ``ping_interval``, ``connect_timeout`` and the others listed in
            :class:`ConnectOptions`.

    Raises:
        OSError: if the TCP (or TLS) connection fails.
        wsproto.anyio.ConnectionRejected: if the server refused the upgrade.
        wsproto.anyio.HandshakeError: if the handshake failed otherwise
            (:class:`~wsproto.anyio.ConnectionTimeout`: it took too long).
        ValueError: if the URL is not a WebSocket URL.
    """
    headers = _headers(extra_headers)
    portal_cm = start_blocking_portal(backend)
    portal = portal_cm.__enter__()
    try:
        ws_cm = portal.wrap_async_context_manager(
            open_websocket_url(url, ssl_context, extra_headers=headers, **options)
        )
        ws = ws_cm.__enter__()
    except BaseException as exc:
        # Stops the loop and joins its thread; the error goes on as it is.
        portal_cm.__exit__(type(exc), exc, exc.__traceback__)
        raise
    return ClientConnection(portal_cm, portal, ws_cm, ws)


class ClientConnection:
    """A blocking WebSocket client connection; :func:`connect` makes one.

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
      :class:`~wsproto.anyio.ConnectionClosed`. When :meth:`close`
      returns, the background thread has ended.
    """

    def __init__(
        self,
        portal_cm: AbstractContextManager[BlockingPortal],
        portal: BlockingPortal,
        ws_cm: AbstractContextManager[WebSocketConnection],
        ws: WebSocketConnection,
    ) -> None:
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = portal_cm
        self._portal = portal
        self._ws_cm = ws_cm
        self._ws = ws
        self._close_lock = threading.Lock()

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
        if self._portal_cm is None:
            raise ConnectionClosed(self._ws.closed)
        try:
            return self._portal.call(func, *args)
        except RuntimeError:
            # The portal stopped under us: close() ran in another thread.
            if self._portal_cm is None:
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
        """Close the connection with ``code`` and ``reason``, and stop its thread.

        Runs the closing handshake (bounded by ``disconnect_timeout``), then
        ends the background event loop and waits for its thread. Closing a
        closed connection does nothing.

        Raises:
            wsproto.anyio.DisconnectionTimeout: if the closing handshake took
                longer than ``disconnect_timeout`` (the connection is closed
                anyway).
        """
        with self._close_lock:
            portal_cm, self._portal_cm = self._portal_cm, None
            if portal_cm is None:
                return
            try:
                try:
                    self._portal.call(self._ws.aclose, code, reason or None)
                finally:
                    self._ws_cm.__exit__(None, None, None)
            finally:
                portal_cm.__exit__(None, None, None)

    def __enter__(self) -> ClientConnection:
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
        return f"<ClientConnection {self._ws.path!r} {state}>"
