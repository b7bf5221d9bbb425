"""Test WebSocket code without sockets: in-memory byte streams and connection pairs.

:func:`open_websocket_pair` joins a client and a server
:class:`~wsproto.anyio.WebSocketConnection` through memory, optionally
running your server handler, so a test can drive either side::

    from wsproto.anyio.testing import open_websocket_pair

    async def test_echo():
        async with open_websocket_pair(echo_handler) as (client, server):
            await client.send_message("hi")
            assert await client.get_message() == "hi"

The pair is built from the public pieces: :func:`memory_stream_pair` (two
:class:`MemoryByteStream` objects, joined through bounded buffers), then
:func:`~wsproto.anyio.wrap_client_stream` and
:func:`~wsproto.anyio.wrap_server_stream` on top. Because the buffers are
bounded, back-pressure behaves as over TCP: a side that stops reading
eventually makes the other side's sends wait.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

import anyio
from anyio.abc import ByteStream
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from wsproto.typing import Headers

from ._client import wrap_client_stream
from ._compat import single_exception
from ._connection import WebSocketConnection
from ._errors import ConnectionClosed, ConnectionTimeout, HandshakeError
from ._limits import (
    CONN_TIMEOUT,
    MAX_FRAGMENTS,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    PING_INTERVAL,
    PING_TIMEOUT,
)
from ._server import WebSocketRequest, wrap_server_stream
from ._settings import Compression, DeflateOptions

__all__ = ["MemoryByteStream", "WebSocketPair", "memory_stream_pair", "open_websocket_pair"]

#: Bytes buffered in each direction of a :func:`memory_stream_pair` by default:
#: the order of a loopback socket's buffers, small enough that tests of
#: back-pressure fill it quickly.
DEFAULT_BUFFER_SIZE = 65536
#: Largest piece a buffer holds in one item; the buffer holds
#: ``buffer_size / piece`` items, so it is bounded in bytes, not just in items.
_PIECE_SIZE = 4096

Handler = Callable[[WebSocketRequest], Awaitable[None]]


class MemoryByteStream(ByteStream):
    """One end of an in-memory, bidirectional byte stream; see :func:`memory_stream_pair`.

    It behaves like a socket stream: :meth:`send` waits while the buffer
    towards the peer is full, :meth:`receive` returns at most ``max_bytes``
    of what the peer sent, and the end of the stream is reported the way
    anyio reports it for TCP:

    * after the peer's :meth:`send_eof` or :meth:`aclose`, :meth:`receive`
      returns what is still buffered, then raises :exc:`anyio.EndOfStream`;
    * after the peer's :meth:`aclose`, :meth:`send` raises
      :exc:`anyio.BrokenResourceError`;
    * after this end's own :meth:`aclose`, every operation raises
      :exc:`anyio.ClosedResourceError`, as does :meth:`send` after
      :meth:`send_eof`.
    """

    def __init__(
        self,
        send_stream: MemoryObjectSendStream[bytes],
        receive_stream: MemoryObjectReceiveStream[bytes],
        piece_size: int = _PIECE_SIZE,
    ) -> None:
        self._send_stream = send_stream
        self._receive_stream = receive_stream
        self._piece_size = piece_size
        self._leftover = b""  # the rest of a piece that a receive() could not take whole
        self._closed = False
        self._eof_sent = False

    async def send(self, item: bytes) -> None:
        """Send bytes to the peer, waiting while its buffer is full.

        Raises:
            anyio.ClosedResourceError: if this end was closed, or :meth:`send_eof` called.
            anyio.BrokenResourceError: if the peer closed its end.
        """
        if self._closed or self._eof_sent:
            raise anyio.ClosedResourceError
        data = bytes(item)
        step = self._piece_size
        # Like a socket, a send cancelled half-way may have delivered a prefix.
        for start in range(0, len(data), step):
            await self._send_stream.send(data[start : start + step])

    async def send_eof(self) -> None:
        """Tell the peer that nothing more will be sent (a TCP half-close)."""
        if self._closed:
            raise anyio.ClosedResourceError
        self._eof_sent = True
        self._send_stream.close()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Receive at most ``max_bytes`` bytes, waiting until some are there.

        Raises:
            anyio.EndOfStream: if the peer sent EOF or closed, and everything it sent was read.
            anyio.ClosedResourceError: if this end was closed.
        """
        if self._closed:
            raise anyio.ClosedResourceError
        if max_bytes < 1:
            raise ValueError("max_bytes must be at least 1")
        data = self._leftover
        taken = 0
        if not data:
            # EndOfStream once the peer's end is closed and all is read;
            # ClosedResourceError if this end is closed while we wait.
            data = await self._receive_stream.receive()
            taken = 1
        # Take what else is buffered, as a socket read would, but no more
        # than the buffer holds: each piece taken lets a waiting sender put
        # another in, and those belong to the next read.
        limit = self._receive_stream.statistics().max_buffer_size
        while len(data) < max_bytes and taken < limit:
            try:
                data += self._receive_stream.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                break
            taken += 1
        self._leftover = data[max_bytes:]
        return data[:max_bytes]

    async def aclose(self) -> None:
        """Close this end: the peer reads the end of the stream and can no longer send."""
        self._closed = True
        self._leftover = b""
        self._send_stream.close()
        self._receive_stream.close()
        await anyio.lowlevel.checkpoint()


def memory_stream_pair(
    buffer_size: int = DEFAULT_BUFFER_SIZE,
) -> tuple[MemoryByteStream, MemoryByteStream]:
    """Two :class:`MemoryByteStream` ends joined to each other, like a connected socket pair.

    What one end sends, the other receives. Each direction buffers at most
    ``buffer_size`` bytes; beyond that a sender waits until the other end
    reads, which is what makes back-pressure observable in tests.

    Raises:
        ValueError: if ``buffer_size`` is less than 1.
    """
    if buffer_size < 1:
        raise ValueError("buffer_size must be at least 1")
    # The buffer holds whole items, so cut the data into pieces small enough
    # that the items allowed never add up to more than buffer_size bytes.
    items = math.ceil(buffer_size / _PIECE_SIZE)
    piece = buffer_size // items
    a_to_b, b_from_a = anyio.create_memory_object_stream[bytes](items)
    b_to_a, a_from_b = anyio.create_memory_object_stream[bytes](items)
    return MemoryByteStream(a_to_b, a_from_b, piece), MemoryByteStream(b_to_a, b_from_a, piece)


class WebSocketPair(NamedTuple):
    """A connected client and server, as yielded by :func:`open_websocket_pair`."""

    #: The client side.
    client: WebSocketConnection
    #: The server side (the connection the handler accepted, if there is a handler).
    server: WebSocketConnection


class _ServerSide:
    """Runs the server half of a pair: auto-accept, or the user's handler."""

    def __init__(self, handler: Handler | None, disconnect_timeout: float) -> None:
        self.handler = handler
        self.disconnect_timeout = disconnect_timeout
        self.connection: WebSocketConnection | None = None
        self.error: Exception | None = None
        self.done = anyio.Event()
        self.scope = anyio.CancelScope()

    async def run(self, start: Callable[[], Awaitable[WebSocketRequest]]) -> None:
        try:
            with self.scope:
                try:
                    request = await start()
                except ConnectionClosed:
                    return  # the client went away before its request arrived
                self.connection = request._connection
                if self.handler is None:
                    await request.accept()
                else:
                    await self._run_handler(request)
        finally:
            self.done.set()

    async def _run_handler(self, request: WebSocketRequest) -> None:
        # As a real server would (WebSocketServer), except that the handler's
        # exception is also kept, to be raised from the pair at the end.
        assert self.handler is not None
        connection = request._connection
        try:
            await self.handler(request)
        except anyio.get_cancelled_exc_class():
            with anyio.CancelScope(shield=True):
                await connection.aclose(1001, "test finished")
            raise
        except ConnectionClosed:
            pass  # the client went away: nothing to report
        except Exception as exc:
            self.error = exc
            with anyio.CancelScope(shield=True):
                if connection._handshake_decided():
                    await connection.aclose(1011, "internal error")
                else:
                    await request.reject(500, body=b"internal server error\n")
            return
        await connection.aclose()

    async def finish(self, client: WebSocketConnection) -> None:
        """Close the client, let the handler end (cancel it if it lingers), close the server."""
        await client.aclose()
        with anyio.move_on_after(self.disconnect_timeout):
            await self.done.wait()
        self.scope.cancel()
        await self.done.wait()
        if self.connection is not None:
            await self.connection.aclose()


@asynccontextmanager
async def open_websocket_pair(
    handler: Handler | None = None,
    *,
    resource: str = "/",
    host: str = "localhost",
    subprotocols: Iterable[str] | None = None,
    extra_headers: Headers | None = None,
    buffer_size: int = DEFAULT_BUFFER_SIZE,
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
) -> AsyncIterator[WebSocketPair]:
    """Open a client and a server connection joined in memory, for tests.

    ``async with open_websocket_pair() as (client, server):`` yields two open
    connections; the server side accepted the client's request as it was.
    With a ``handler`` (the function you would give to
    :func:`~wsproto.anyio.serve_websocket`), the handler runs on the server
    side as it would in a server, and ``server`` is the connection it
    accepted; a handler that rejects the request makes entering the block
    raise :class:`~wsproto.anyio.ConnectionRejected`.

    Leaving the block closes the client, waits up to ``disconnect_timeout``
    for the handler to return (then cancels it, which closes its connection
    with 1001), and closes the server side.

    A handler that raises closes its connection with 1011 (or, before
    accepting, rejects the request with 500), as a server does; the client
    sees that. The pair then raises the handler's exception itself when the
    block ends, in place of the :class:`~wsproto.anyio.ConnectionClosed` or
    :class:`~wsproto.anyio.HandshakeError` it caused. Any other error from
    the block wins, with a note naming the handler's. Errors are never
    wrapped in an exception group.

    Args:
        handler: The server's handler; ``None`` to accept and hand over the
            server connection.
        resource: The request target the client asks for.
        host: The Host header the client sends.
        subprotocols: Subprotocols the client proposes.
        extra_headers: Extra headers the client sends.
        buffer_size: Bytes buffered in each direction between the two ends.
        connect_timeout: Seconds allowed for the opening handshake; past it,
            :class:`~wsproto.anyio.ConnectionTimeout` is raised.

    The other arguments are the connection settings of
    :func:`~wsproto.anyio.open_websocket`, applied to both sides.
    """
    client_stream, server_stream = memory_stream_pair(buffer_size)
    settings: dict[str, Any] = {
        "message_queue_size": message_queue_size,
        "max_message_size": max_message_size,
        "receive_buffer_size": receive_buffer_size,
        "max_fragments": max_fragments,
        "compression": compression,
        "deflate_options": deflate_options,
        "ping_interval": ping_interval,
        "ping_timeout": ping_timeout,
        "disconnect_timeout": disconnect_timeout,
    }
    server_side = _ServerSide(handler, disconnect_timeout)
    failure: BaseException | None = None
    try:
        async with anyio.create_task_group() as group:

            async def start_server() -> WebSocketRequest:
                return await wrap_server_stream(group, server_stream, **settings)

            group.start_soon(server_side.run, start_server)
            try:
                with anyio.fail_after(connect_timeout):
                    client = await wrap_client_stream(
                        group,
                        client_stream,
                        host,
                        resource,
                        subprotocols=subprotocols,
                        extra_headers=extra_headers,
                        **settings,
                    )
            except TimeoutError:
                raise ConnectionTimeout(
                    f"the opening handshake took longer than {connect_timeout} s"
                ) from None
            except HandshakeError:
                # Let a failing handler finish its rejection and record its error.
                with anyio.CancelScope(shield=True), anyio.move_on_after(disconnect_timeout):
                    await server_side.done.wait()
                raise
            assert server_side.connection is not None  # set before the request was answered
            try:
                yield WebSocketPair(client, server_side.connection)
            finally:
                with anyio.CancelScope(shield=True):
                    await server_side.finish(client)
                group.cancel_scope.cancel()
    except BaseException as exc:
        failure = exc
        if isinstance(exc, BaseExceptionGroup):
            failure = single_exception(exc) or exc
    handler_error = server_side.error
    if handler_error is not None:
        if failure is None or isinstance(failure, ConnectionClosed | HandshakeError):
            if failure is not None:
                handler_error.add_note(f"(the client saw {failure!r})")
            raise handler_error
        if isinstance(failure, Exception):
            failure.add_note(f"(the server handler raised {handler_error!r} as well)")
    if failure is not None:
        # Raised outside any except clause: its own context and cause stay.
        raise failure
