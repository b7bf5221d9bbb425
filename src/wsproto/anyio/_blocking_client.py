"""The blocking client (``wsproto.sync.connect``): the anyio client, driven from ordinary threads.

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
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from typing import Literal, TypedDict, TypeVar, Unpack

from anyio.from_thread import BlockingPortal, start_blocking_portal

from . import WebSocketConnection, open_websocket_url
from ._blocking import Connection

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


class ClientConnection(Connection):
    """A blocking WebSocket client connection; :func:`connect` makes one.

    It follows the threading rules of :class:`Connection`; :meth:`close`
    also ends the connection's event loop and its thread.
    """

    def __init__(
        self,
        portal_cm: AbstractContextManager[BlockingPortal],
        portal: BlockingPortal,
        ws_cm: AbstractContextManager[WebSocketConnection],
        ws: WebSocketConnection,
    ) -> None:
        super().__init__(portal, ws)
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = portal_cm
        self._ws_cm = ws_cm
        self._close_lock = threading.Lock()

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
                    super().close(code, reason)
                finally:
                    self._ws_cm.__exit__(None, None, None)
            finally:
                self._running = False
                portal_cm.__exit__(None, None, None)
