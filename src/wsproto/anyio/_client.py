"""The client: open_websocket, open_websocket_url, connect_websocket, wrap_client_stream."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Literal
from urllib.parse import urlsplit

import anyio
from anyio.abc import ByteStream, SocketAttribute
from anyio.streams.tls import TLSAttribute

from wsproto import ConnectionType, WSConnection
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.typing import Headers

from . import _transport
from ._compat import TrioStreamLike, as_byte_stream, shielded_task_group, single_exception
from ._connection import TaskSpawner, WebSocketConnection
from ._errors import ConnectionTimeout, DisconnectionTimeout, Endpoint
from ._limits import (
    CONN_TIMEOUT,
    MAX_FRAGMENTS,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    PING_INTERVAL,
    PING_TIMEOUT,
)
from ._transport import on_asyncio

__all__ = [
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "wrap_client_stream",
]

Compression = Literal["deflate"] | None
DeflateOptions = Mapping[str, "int | bool | None"]


def make_extensions(compression: Compression, options: DeflateOptions | None) -> list[Extension]:
    """The extensions to offer or accept for a ``compression`` setting."""
    if compression is None:
        return []
    if compression != "deflate":
        raise ValueError(f"unknown compression {compression!r}; use 'deflate' or None")
    return [PerMessageDeflate(**dict(options or {}))]  # type: ignore[arg-type]


def endpoints(stream: ByteStream) -> tuple[Endpoint | str | None, Endpoint | str | None]:
    """The local and remote ends of a socket stream, if it is one."""
    is_ssl = stream.extra(TLSAttribute.ssl_object, None) is not None or getattr(
        stream, "tls", False
    )

    def endpoint(address: object) -> Endpoint | str | None:
        if isinstance(address, tuple):
            return Endpoint(str(address[0]), int(address[1]), is_ssl)
        if isinstance(address, str):
            return address  # a Unix socket path
        return None

    return (
        endpoint(stream.extra(SocketAttribute.local_address, None)),
        endpoint(stream.extra(SocketAttribute.remote_address, None)),
    )


def _host_header(host: str, port: int, secure: bool) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if port == (443 if secure else 80):
        return shown
    return f"{shown}:{port}"


async def wrap_client_stream(
    nursery: TaskSpawner,
    stream: ByteStream | TrioStreamLike,
    host: str,
    resource: str,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: Headers | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> WebSocketConnection:
    """Run the client handshake over an existing byte stream.

    The connection's tasks run in ``nursery`` (an anyio task group or a trio
    nursery); close the connection with :meth:`WebSocketConnection.aclose`.
    ``host`` is the Host header value.

    Raises:
        ConnectionRejected: if the server answered with an HTTP error.
        HandshakeError: if the server's answer is not a valid upgrade.
        ConnectionClosed: if the transport closed during the handshake.
    """
    byte_stream = as_byte_stream(stream)
    local, remote = endpoints(byte_stream)
    connection = WebSocketConnection(
        byte_stream,
        WSConnection(ConnectionType.CLIENT, max_message_size=max_message_size),
        host=host,
        path=resource,
        client_subprotocols=subprotocols,
        client_extra_headers=extra_headers,
        client_extensions=make_extensions(compression, deflate_options),
        message_queue_size=message_queue_size,
        max_fragments=max_fragments,
        receive_buffer_size=receive_buffer_size,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        disconnect_timeout=disconnect_timeout,
        local=local,
        remote=remote,
    )
    connection._start(nursery)
    try:
        await connection._open_client()
    except BaseException:
        # Rejected, failed or cancelled: nobody will ever close this connection.
        await connection._close(1006, None)
        raise
    return connection


async def connect_websocket(
    nursery: TaskSpawner,
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None = None,
    extra_headers: Headers | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> WebSocketConnection:
    """Connect to ``host:port`` and open a WebSocket to ``resource``.

    The connection's tasks run in ``nursery``; the caller closes it. Most
    programs want :func:`open_websocket` instead.

    Args:
        use_ssl: ``True`` for TLS with default settings, an
            :class:`ssl.SSLContext` for TLS with those, ``False`` for none.

    Raises:
        OSError: if the TCP (or TLS) connection fails.
        ConnectionRejected: if the server refused the upgrade.
        HandshakeError: if the handshake failed otherwise.
    """
    context: ssl.SSLContext | None
    if use_ssl is True:
        context = ssl.create_default_context()
    elif use_ssl is False:
        context = None
    else:
        context = use_ssl
    stream: ByteStream
    if on_asyncio():
        stream = await _transport.connect(host, port, context)
    elif context is None:
        stream = _transport.RawSocketStream(await anyio.connect_tcp(host, port))
    else:
        # Not "standard compatible": many servers drop TCP without a TLS
        # close_notify once the WebSocket is closed; that is not an error here.
        stream = await anyio.connect_tcp(
            host, port, ssl_context=context, tls_standard_compatible=False
        )
    try:
        return await wrap_client_stream(
            nursery,
            stream,
            _host_header(host, port, context is not None),
            resource,
            subprotocols=subprotocols,
            extra_headers=extra_headers,
            message_queue_size=message_queue_size,
            max_message_size=max_message_size,
            receive_buffer_size=receive_buffer_size,
            max_fragments=max_fragments,
            compression=compression,
            deflate_options=deflate_options,
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
            disconnect_timeout=disconnect_timeout,
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        raise


@asynccontextmanager
async def open_websocket(
    host: str,
    port: int,
    resource: str,
    *,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None = None,
    extra_headers: Headers | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> AsyncIterator[WebSocketConnection]:
    """Open a WebSocket client connection for the duration of an ``async with`` block.

    ``async with open_websocket("example.com", 443, "/chat", use_ssl=True) as ws:``
    connects, runs the opening handshake and yields the
    :class:`WebSocketConnection`; leaving the block closes it (shielded from
    cancellation and bounded by ``disconnect_timeout``). Errors come out as
    themselves, never wrapped in an exception group.

    Raises:
        OSError: if the TCP (or TLS) connection fails.
        ConnectionTimeout: if connecting and the handshake take longer than
            ``connect_timeout``.
        ConnectionRejected: if the server refused the upgrade.
        HandshakeError: if the handshake failed otherwise.
        DisconnectionTimeout: if the closing handshake took longer than
            ``disconnect_timeout``.
    """
    try:
        async with anyio.create_task_group() as group:
            # The connection's tasks run shielded: if the block is cancelled,
            # the reader must live on to see the server's answer to our close.
            tasks_scope = anyio.CancelScope(shield=True)
            tasks = await group.start(shielded_task_group, tasks_scope)
            try:
                try:
                    with anyio.fail_after(connect_timeout):
                        connection = await connect_websocket(
                            tasks,
                            host,
                            port,
                            resource,
                            use_ssl=use_ssl,
                            subprotocols=subprotocols,
                            extra_headers=extra_headers,
                            message_queue_size=message_queue_size,
                            max_message_size=max_message_size,
                            receive_buffer_size=receive_buffer_size,
                            max_fragments=max_fragments,
                            compression=compression,
                            deflate_options=deflate_options,
                            ping_interval=ping_interval,
                            ping_timeout=ping_timeout,
                            disconnect_timeout=disconnect_timeout,
                        )
                except TimeoutError:
                    raise ConnectionTimeout(
                        f"connecting to {host}:{port} took longer than {connect_timeout} s"
                    ) from None
                try:
                    yield connection
                finally:
                    with anyio.CancelScope(shield=True):
                        closed_in_time = await connection._close(1000, None)
            finally:
                tasks_scope.cancel()
        if not closed_in_time:
            raise DisconnectionTimeout(f"closing took longer than {disconnect_timeout} s")
    except BaseExceptionGroup as group_error:
        exc = single_exception(group_error)
        if exc is None:
            raise
        raise exc from exc.__cause__


def _parse_url(
    url: str, ssl_context: ssl.SSLContext | None
) -> tuple[str, int, str, bool | ssl.SSLContext]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"WebSocket URL scheme must be ws or wss, not {parts.scheme!r}: {url}")
    if not parts.hostname:
        raise ValueError(f"WebSocket URL has no host: {url}")
    secure = parts.scheme == "wss"
    if not secure and ssl_context is not None:
        raise ValueError("an ssl_context was given for a ws:// URL; use wss://")
    port = parts.port or (443 if secure else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    use_ssl: bool | ssl.SSLContext = (ssl_context or True) if secure else False
    return parts.hostname, port, resource, use_ssl


def open_websocket_url(
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: Headers | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    connect_timeout: float = CONN_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> AbstractAsyncContextManager[WebSocketConnection]:
    """Like :func:`open_websocket`, for a ``ws://`` or ``wss://`` URL.

    The URL may carry a port, a path and a query; IPv6 hosts are written in
    brackets (``ws://[::1]:8000/``). For ``wss://`` the default TLS settings
    apply unless ``ssl_context`` is given.
    """
    host, port, resource, use_ssl = _parse_url(url, ssl_context)
    return open_websocket(
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        max_fragments=max_fragments,
        compression=compression,
        deflate_options=deflate_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        connect_timeout=connect_timeout,
        disconnect_timeout=disconnect_timeout,
    )


async def connect_websocket_url(
    nursery: TaskSpawner,
    url: str,
    ssl_context: ssl.SSLContext | None = None,
    *,
    subprotocols: Iterable[str] | None = None,
    extra_headers: Headers | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> WebSocketConnection:
    """Like :func:`connect_websocket`, for a ``ws://`` or ``wss://`` URL."""
    host, port, resource, use_ssl = _parse_url(url, ssl_context)
    return await connect_websocket(
        nursery,
        host,
        port,
        resource,
        use_ssl=use_ssl,
        subprotocols=subprotocols,
        extra_headers=extra_headers,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        max_fragments=max_fragments,
        compression=compression,
        deflate_options=deflate_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        disconnect_timeout=disconnect_timeout,
    )
