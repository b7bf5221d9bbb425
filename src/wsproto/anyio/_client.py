"""The client: open_websocket, open_websocket_url, connect_websocket, wrap_client_stream."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

import anyio
from anyio.abc import ByteStream

from wsproto.typing import Headers

from . import _log
from ._compat import (
    TaskSpawner,
    TrioStreamLike,
    as_byte_stream,
    shielded_task_group,
    single_exception,
)
from ._connection import WebSocketConnection
from ._dialing import dial, parse_url
from ._errors import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
)
from ._limits import (
    CONN_TIMEOUT,
    MAX_FRAGMENTS,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    PING_INTERVAL,
    PING_TIMEOUT,
)
from ._settings import Compression, DeflateOptions, Settings

__all__ = [
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "wrap_client_stream",
]


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
    settings = Settings(
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
    return await _wrap_client(
        nursery, as_byte_stream(stream), host, resource, subprotocols, extra_headers, settings
    )


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
    settings = Settings(
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
    return await _connect(
        nursery, host, port, resource, use_ssl, subprotocols, extra_headers, settings
    )


def open_websocket(
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
) -> AbstractAsyncContextManager[WebSocketConnection]:
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
    settings = Settings(
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
    return _open(
        host, port, resource, use_ssl, subprotocols, extra_headers, settings, connect_timeout
    )


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
    host, port, resource, use_ssl = parse_url(url, ssl_context)
    settings = Settings(
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
    return _open(
        host, port, resource, use_ssl, subprotocols, extra_headers, settings, connect_timeout
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
    host, port, resource, use_ssl = parse_url(url, ssl_context)
    settings = Settings(
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
    return await _connect(
        nursery, host, port, resource, use_ssl, subprotocols, extra_headers, settings
    )


async def _wrap_client(
    nursery: TaskSpawner,
    stream: ByteStream,
    host: str,
    resource: str,
    subprotocols: Iterable[str] | None,
    extra_headers: Headers | None,
    settings: Settings,
) -> WebSocketConnection:
    log_id = _log.new_id()
    connection = settings.connection(
        stream,
        client=True,
        log_id=log_id,
        host=host,
        path=resource,
        subprotocols=list(subprotocols or ()),
        extra_headers=extra_headers,
    )
    remote = connection.remote
    connection._start(nursery)
    _log.handshake_sent(log_id, remote, resource)
    try:
        await connection._open_client()
    except BaseException as exc:
        # Rejected, failed or cancelled: nobody will ever close this connection.
        if isinstance(exc, ConnectionRejected):
            _log.handshake_rejected(_log.client_logger, log_id, remote, exc.status_code)
        elif isinstance(exc, anyio.get_cancelled_exc_class()):
            _log.handshake_failed(_log.client_logger, log_id, remote, "cancelled")
        elif isinstance(exc, ConnectionClosed):
            _log.handshake_failed(_log.client_logger, log_id, remote, "the connection closed")
        elif isinstance(exc, Exception):
            # A HandshakeError's cause is the core's error, which says what was wrong.
            _log.handshake_failed(_log.client_logger, log_id, remote, exc.__cause__ or exc)
        await connection._close_orderly(1006, None)
        raise
    _log.handshake_accepted(_log.client_logger, log_id, remote, resource, connection.subprotocol)
    return connection


async def _connect(
    nursery: TaskSpawner,
    host: str,
    port: int,
    resource: str,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None,
    extra_headers: Headers | None,
    settings: Settings,
) -> WebSocketConnection:
    stream, header = await dial(host, port, use_ssl)
    try:
        return await _wrap_client(
            nursery, stream, header, resource, subprotocols, extra_headers, settings
        )
    except BaseException:
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        raise


@asynccontextmanager
async def _open(
    host: str,
    port: int,
    resource: str,
    use_ssl: bool | ssl.SSLContext,
    subprotocols: Iterable[str] | None,
    extra_headers: Headers | None,
    settings: Settings,
    connect_timeout: float,
) -> AsyncIterator[WebSocketConnection]:
    error: Exception | None = None  # the caller's, from the block
    inner: BaseException | None = None  # what a task group wrapped
    try:
        async with anyio.create_task_group() as group:
            # The connection's tasks run shielded: if the block is cancelled,
            # the reader must live on to see the server's answer to our close.
            tasks_scope = anyio.CancelScope(shield=True)
            tasks = await group.start(shielded_task_group, tasks_scope)
            try:
                try:
                    with anyio.fail_after(connect_timeout):
                        connection = await _connect(
                            tasks,
                            host,
                            port,
                            resource,
                            use_ssl,
                            subprotocols,
                            extra_headers,
                            settings,
                        )
                except TimeoutError:
                    raise ConnectionTimeout(
                        f"connecting to {host}:{port} took longer than {connect_timeout} s"
                    ) from None
                try:
                    yield connection
                except Exception as exc:
                    # Kept out of the task group, which would wrap it in an
                    # exception group and replace its __context__; raised
                    # again, as itself, once the group is done.
                    error = exc
                finally:
                    with anyio.CancelScope(shield=True):
                        closed_in_time = await connection._close_orderly(1000, None)
            finally:
                tasks_scope.cancel()
    except BaseExceptionGroup as group_error:
        inner = single_exception(group_error)
        if inner is None:
            raise
    # Raised here, outside any except clause, so that nothing replaces the
    # exception's own context.
    if error is not None:
        if inner is not None and not isinstance(inner, anyio.get_cancelled_exc_class()):
            # The connection's own tasks failed too (a bug, not the peer).
            if isinstance(error, ConnectionClosed):
                raise inner  # the caller's error is only its consequence
            error.add_note(f"(the connection's tasks failed as well: {inner!r})")
        raise error
    if inner is not None:
        raise inner
    if not closed_in_time:
        raise DisconnectionTimeout(f"closing took longer than {settings.disconnect_timeout} s")
