"""The server: serve_websocket, WebSocketServer, WebSocketRequest, wrap_server_stream."""

from __future__ import annotations

import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NoReturn

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskStatus
from anyio.streams.tls import TLSListener

from wsproto.events import Request

from . import _log
from ._compat import (
    KnowsTLS,
    TaskSpawner,
    TrioListenerLike,
    TrioStreamLike,
    as_byte_stream,
    as_listener,
    run_in,
    single_exception,
)
from ._connection import WebSocketConnection
from ._errors import ConnectionClosed, Endpoint
from ._limits import (
    CONN_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    MAX_CONNECTIONS,
    MAX_FRAGMENTS,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    PING_INTERVAL,
    PING_TIMEOUT,
)
from ._listening import peer_of, serve_listener, tcp_listeners
from ._request import WebSocketRequest
from ._settings import Compression, DeflateOptions, Settings
from ._transport import Restarter, on_asyncio

__all__ = ["WebSocketRequest", "WebSocketServer", "serve_websocket", "wrap_server_stream"]

Handler = Callable[["WebSocketRequest"], Awaitable[None]]


class WebSocketServer:
    """Serves WebSocket connections on one or more listeners.

    Usually made by :func:`serve_websocket`; build one directly to serve on
    listeners of your own (a Unix socket, several addresses, an existing anyio
    or trio listener). Each connection runs ``handler`` in a task of its own; a
    handler that raises closes its connection with 1011 and the server goes
    on. Cancelling :meth:`run` closes every open connection with 1001 (going
    away), waiting at most ``disconnect_timeout``.
    """

    def __init__(
        self,
        handler: Handler,
        listeners: Sequence[Listener[Any] | TrioListenerLike],
        *,
        handler_nursery: TaskSpawner | None = None,
        message_queue_size: int = MESSAGE_QUEUE_SIZE,
        max_message_size: int | None = MAX_MESSAGE_SIZE,
        receive_buffer_size: int | None = None,
        max_fragments: int | None = MAX_FRAGMENTS,
        compression: Compression = "deflate",
        deflate_options: DeflateOptions | None = None,
        ping_interval: float | None = PING_INTERVAL,
        ping_timeout: float | None = PING_TIMEOUT,
        connect_timeout: float | None = None,
        handshake_timeout: float = HANDSHAKE_TIMEOUT,
        disconnect_timeout: float = CONN_TIMEOUT,
        max_connections: int | None = MAX_CONNECTIONS,
    ) -> None:
        if not listeners:
            raise ValueError("a WebSocketServer needs at least one listener")
        self._handler = handler
        self._listeners = [as_listener(listener) for listener in listeners]
        self._handler_nursery = handler_nursery
        self._settings = Settings(
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
        # trio-websocket's connect_timeout bounds the server's handshake too.
        self._handshake_timeout = (
            connect_timeout if connect_timeout is not None else handshake_timeout
        )
        self._max_connections = max_connections
        self._connections: set[WebSocketConnection] = set()
        # Where handlers, and their connections' tasks, run.
        self._task_group: TaskSpawner | None = None
        self._restarter: Restarter | None = None

    @property
    def port(self) -> int:
        """The TCP port listened on (the same for every listener).

        Raises:
            RuntimeError: if the listeners are on different ports, or none is TCP.
        """
        ports = {endpoint.port for endpoint in self.listeners if isinstance(endpoint, Endpoint)}
        if len(ports) != 1:
            raise RuntimeError(f"the listeners are not on one TCP port: {self.listeners}")
        return ports.pop()

    @property
    def listeners(self) -> list[Endpoint | str]:
        """Where the server listens, an :class:`Endpoint` per TCP listener, a path per Unix one."""
        found: list[Endpoint | str] = []
        for listener in self._listeners:
            is_ssl = isinstance(listener, TLSListener) or (
                isinstance(listener, KnowsTLS) and listener.tls
            )
            inner = listener.listener if isinstance(listener, TLSListener) else listener
            address = inner.extra(SocketAttribute.local_address, None)
            if isinstance(address, tuple):
                found.append(Endpoint(str(address[0]), int(address[1]), is_ssl))
            elif isinstance(address, str):
                found.append(address)
            else:
                found.append(repr(listener))
        return found

    @property
    def connections(self) -> frozenset[WebSocketConnection]:
        """The connections whose handlers are running."""
        return frozenset(self._connections)

    async def run(
        self, *, task_status: TaskStatus[WebSocketServer] = anyio.TASK_STATUS_IGNORED
    ) -> NoReturn:
        """Serve until cancelled.

        With ``await task_group.start(server.run)`` it returns once listening.
        """
        # Parked connections (asyncio) have their readers started again by
        # this task; it outlives every handler and reader of the server's group.
        restarter = Restarter() if on_asyncio() and self._handler_nursery is None else None
        self._restarter = restarter
        restarter_scope = anyio.CancelScope(shield=True)
        try:
            async with anyio.create_task_group() as outer:
                if restarter is not None:
                    outer.start_soon(run_in, restarter_scope, restarter.run)
                try:
                    await self._serve(task_status)
                finally:
                    restarter_scope.cancel()
        except BaseExceptionGroup as group_error:
            # A listener that failed for good: its error, not a group.
            exc = single_exception(group_error)
            if exc is None or isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            raise exc from exc.__cause__
        finally:
            with anyio.CancelScope(shield=True):
                for listener in self._listeners:
                    await listener.aclose()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _serve(self, task_status: TaskStatus[WebSocketServer]) -> NoReturn:
        async with anyio.create_task_group() as group:
            spawner: Any = self._handler_nursery or group
            self._task_group = spawner
            if self._settings.ping_interval is not None:
                group.start_soon(self._keepalive, self._settings.ping_interval)
            for listener in self._listeners:
                group.start_soon(serve_listener, listener, self._handle_stream, spawner)
            task_status.started(self)
            await anyio.sleep_forever()
        raise AssertionError("unreachable")  # pragma: no cover

    async def _keepalive(self, interval: float) -> None:
        """Ping every open connection each ``interval``, from one task for them all.

        A task per connection costs more memory than the rest of an idle
        connection together (about 6 KiB with anyio, measured). Rounds come
        every quarter interval, so a ping is at most that late; each ping runs
        in a task of its own while it waits for its pong.
        """
        spawner = self._task_group
        assert spawner is not None
        while True:
            await anyio.sleep(interval / 4)
            now = time.monotonic()
            for connection in list(self._connections):
                if connection._keepalive_claim(now):
                    spawner.start_soon(connection._keepalive_once)

    async def _handle_stream(self, stream: ByteStream) -> None:
        log_id = _log.new_id()
        try:
            await self._serve_connection(stream, log_id)
        except Exception as exc:
            # Handler errors are dealt with inside; what is left is a bug,
            # logged: one broken connection must not take the server down.
            _log.connection_failed(log_id, peer_of(stream), exc)

    async def _serve_connection(self, stream: ByteStream, log_id: int) -> None:
        assert self._task_group is not None
        connection = self._settings.connection(stream, client=False, log_id=log_id)
        # The connection's tasks run in the server's group, shielded from its
        # cancellation: cancelled, the handler closes with 1001, and the
        # reader must live on to see the client's answer (or the disconnect
        # timeout) instead of dropping TCP under the close frame.
        connection._start(self._task_group, shielded=True, restarter=self._restarter)
        try:
            await self._run_handler(connection, log_id)
        finally:
            connection._stop_tasks()

    async def _run_handler(self, connection: WebSocketConnection, log_id: int) -> None:
        # This frame lasts as long as the connection: what only the opening
        # needs lives in _admit's, which ends before the handler runs.
        request = await self._admit(connection, log_id)
        if request is None:
            return
        self._connections.add(connection)
        try:
            await self._handler(request)
        except anyio.get_cancelled_exc_class():
            await connection._close_orderly(1001, "server shutting down")
            raise
        except ConnectionClosed:
            pass  # the peer went away: nothing to report
        except Exception as exc:
            remote, path = connection.remote, request.path
            if connection._handshake_decided():
                _log.handler_failed(log_id, remote, path, exc, "closing with 1011")
                await connection._close_orderly(1011, "internal error")
            else:
                _log.handler_failed(log_id, remote, path, exc, "answering 500")
                await connection._reject(500, None, b"internal server error\n")
            return
        finally:
            self._connections.discard(connection)
        await connection._close_orderly(1000, None)

    async def _admit(self, connection: WebSocketConnection, log_id: int) -> WebSocketRequest | None:
        """Wait for the upgrade request; ``None`` if there is none to hand to the handler."""
        remote = connection.remote
        logger = _log.server_logger
        event: Request | None = None  # if the timeout comes first
        try:
            with anyio.move_on_after(self._handshake_timeout) as waiting:
                event = await connection._wait_request()
        except anyio.get_cancelled_exc_class():
            await connection._close_orderly(1001, "server shutting down")
            raise
        if event is None:
            # Timed out, malformed, or gone: the reader answered what it could
            # (and logs a malformed request; the end of the connection too).
            if waiting.cancelled_caught:
                detail = "no upgrade request within %s s"
                timeout = self._handshake_timeout
                _log.limit(logger, log_id, remote, "handshake_timeout", detail, timeout)
            await connection._close_orderly(1000, None)
            return None
        _log.request_received(log_id, remote, event.target)
        if self._max_connections is not None and len(self._connections) >= self._max_connections:
            open_now = len(self._connections)
            detail = "%d connections open"
            _log.limit(logger, log_id, remote, "max_connections", detail, open_now, status=503)
            await connection._reject(503, [(b"Retry-After", b"1")], b"server at capacity\n")
            return None
        return WebSocketRequest(connection, event, self._settings.extensions, log_id=log_id)


async def serve_websocket(
    handler: Handler,
    host: str | Sequence[str] | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    *,
    handler_nursery: TaskSpawner | None = None,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    connect_timeout: float | None = None,
    handshake_timeout: float = HANDSHAKE_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
    max_connections: int | None = MAX_CONNECTIONS,
    task_status: TaskStatus[WebSocketServer] = anyio.TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve WebSockets over TCP (TLS with ``ssl_context``) until cancelled.

    ``server = await task_group.start(serve_websocket, handler, "127.0.0.1", 0, None)``
    returns the :class:`WebSocketServer` once it listens (``server.port`` is
    the port it got). ``handler(request)`` runs for each upgrade request and
    calls :meth:`WebSocketRequest.accept` or :meth:`WebSocketRequest.reject`.

    Args:
        host: An address, several, or ``None`` for every interface.
        handshake_timeout: Seconds a client has to send its upgrade request.
        connect_timeout: trio-websocket's name for ``handshake_timeout``;
            overrides it when given.
        max_connections: Open connections served at once; more get 503.
    """
    timeout = connect_timeout if connect_timeout is not None else handshake_timeout
    listeners = await tcp_listeners(host, port, ssl_context, timeout)
    server = WebSocketServer(
        handler,
        listeners,
        handler_nursery=handler_nursery,
        message_queue_size=message_queue_size,
        max_message_size=max_message_size,
        receive_buffer_size=receive_buffer_size,
        max_fragments=max_fragments,
        compression=compression,
        deflate_options=deflate_options,
        ping_interval=ping_interval,
        ping_timeout=ping_timeout,
        connect_timeout=connect_timeout,
        handshake_timeout=handshake_timeout,
        disconnect_timeout=disconnect_timeout,
        max_connections=max_connections,
    )
    await server.run(task_status=task_status)


async def wrap_server_stream(
    nursery: TaskSpawner,
    stream: ByteStream | TrioStreamLike,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    max_message_size: int | None = MAX_MESSAGE_SIZE,
    receive_buffer_size: int | None = None,
    *,
    max_fragments: int | None = MAX_FRAGMENTS,
    compression: Compression = "deflate",
    deflate_options: DeflateOptions | None = None,
    ping_interval: float | None = PING_INTERVAL,
    ping_timeout: float | None = PING_TIMEOUT,
    disconnect_timeout: float = CONN_TIMEOUT,
) -> WebSocketRequest:
    """Read a client's upgrade request from an existing byte stream.

    The connection's tasks run in ``nursery``; answer the returned request
    with :meth:`WebSocketRequest.accept` or :meth:`WebSocketRequest.reject`.

    Raises:
        ConnectionClosed: if the stream ended before a valid request arrived.
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
    log_id = _log.new_id()
    connection = settings.connection(as_byte_stream(stream), client=False, log_id=log_id)
    connection._start(nursery)
    try:
        event = await connection._wait_request()
    except BaseException:
        # Cancelled while waiting: nobody will ever close this connection.
        await connection._close_orderly(1006, None)
        raise
    if event is None:
        await connection._close_orderly(1000, None)
        raise ConnectionClosed(connection.closed)
    _log.request_received(log_id, connection.remote, event.target)
    return WebSocketRequest(connection, event, settings.extensions, log_id=log_id)
