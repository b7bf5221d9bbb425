"""A cheaper TCP/TLS byte stream for the asyncio backend.

anyio's own asyncio ``SocketStream`` pauses and resumes reading around every
``receive()`` and yields to the event loop on every ``send()``; measured here,
that alone costs about twice the server CPU per round trip of plain asyncio
streams, more than the whole websockets server. This stream is an
``asyncio.Protocol`` that keeps reading into a bounded buffer (pausing the
transport only when the bound is reached, so back-pressure still reaches the
peer through TCP) and writes straight to the transport, waiting only when the
transport asks for it. TLS is asyncio's own (``ssl=`` on the transport).

It implements anyio's ``ByteStream``, so the layer above stays one code path;
on trio, and for any stream a user passes in, the layer uses anyio's streams.
With ``_transport_protocol.py`` (its protocol), the only modules of the layer
that touch asyncio, by design.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskGroup
from anyio.streams.tls import TLSAttribute

from . import _log
from ._errors import Endpoint
from ._transport_protocol import READ_LOW_WATER, FutureWaiter, Protocol, Restarter, on_asyncio

__all__ = ["AsyncioStream", "AsyncioTCPListener", "Restarter", "connect", "on_asyncio"]


class AsyncioStream(ByteStream):
    """An anyio byte stream over an asyncio transport (TCP, optionally TLS).

    It implements ``_fastpath.FastStream``: the layer drives it from its data
    callback. A send hands all its bytes to the transport or none, so a send
    cancelled while waiting for the transport to drain leaves the connection
    intact.
    """

    def __init__(self, transport: asyncio.Transport, protocol: Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self._closed = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        protocol = self._protocol
        chunks = protocol.chunks
        if not chunks:
            if self._closed:
                raise anyio.ClosedResourceError
            if protocol.eof:
                if protocol.error is not None:
                    raise anyio.BrokenResourceError from protocol.error
                raise anyio.EndOfStream
            waiter = protocol.read_waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                protocol.read_waiter = None
            if not chunks:
                if self._closed:
                    raise anyio.ClosedResourceError
                if protocol.error is not None:
                    raise anyio.BrokenResourceError from protocol.error
                raise anyio.EndOfStream
        data = chunks.pop(0)
        if len(data) > max_bytes:
            chunks.insert(0, data[max_bytes:])
            data = data[:max_bytes]
        elif chunks and len(data) + len(chunks[0]) <= max_bytes:
            # Several small reads queued up: hand them over in one piece.
            parts = [data]
            total = len(data)
            while chunks and total + len(chunks[0]) <= max_bytes:
                total += len(chunks[0])
                parts.append(chunks.pop(0))
            data = b"".join(parts)
        protocol.size -= len(data)
        if protocol.reading_paused and protocol.size <= READ_LOW_WATER:
            protocol.reading_paused = False
            self._transport.resume_reading()
        return data

    async def receive_or_push(
        self, handler: Callable[[bytes], bool], max_bytes: int = 65536
    ) -> bytes | None:
        """Like :meth:`receive`, but bytes that arrive while it waits go to ``handler``.

        ``handler(data)`` runs inside the transport's callback, as the bytes
        arrive, and must not raise. While it returns True it has dealt with
        them and the wait goes on; once it returns False, this returns None:
        the handler has left work for the caller to do (whatever cannot be
        done without waiting). Bytes already buffered are returned as by
        :meth:`receive`, without calling ``handler``.

        The layer's reader parses and queues messages in the handler, so a
        message reaches the consumer without a task switch to the reader.
        """
        if not self._start_push(handler, max_bytes):
            return await self.receive(max_bytes)
        protocol = self._protocol
        try:
            waiter = protocol.read_waiter = asyncio.get_running_loop().create_future()
            try:
                await waiter
            finally:
                protocol.read_waiter = None
        finally:
            protocol.push = None
        if protocol.pushed_back:
            protocol.pushed_back = False
            return None
        return await self.receive(max_bytes)

    def park(
        self, handler: Callable[[bytes], bool], unpark: Callable[[], object], max_bytes: int
    ) -> bool:
        """Have ``handler`` take arriving bytes with no reader waiting at all.

        As :meth:`receive_or_push`, but nobody waits: the reader task can
        end, and an idle connection costs no task. ``unpark()`` is called
        once, from the transport's callback, when a reader is needed again:
        the handler returned False, the peer closed, or the stream was
        closed. False (and nothing changes) if bytes or the end are
        already there to be received.
        """
        if not self._start_push(handler, max_bytes):
            return False
        self._protocol.unpark = unpark
        return True

    def _start_push(self, handler: Callable[[bytes], bool], max_bytes: int) -> bool:
        """Hand arriving bytes to ``handler``; False if bytes or the end are already there."""
        protocol = self._protocol
        if protocol.chunks or protocol.eof or self._closed:
            return False
        protocol.push = handler
        protocol.push_size = max_bytes
        protocol.pushed_back = False
        return True

    def new_waiter(self) -> FutureWaiter:
        """A one-shot wake-up on a bare future, which the data callback may set."""
        return FutureWaiter()

    def call_on_data(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once, right after waking the reader, when data (or the end) arrives.

        The layer's consumer waits for the reader to hand it a message; woken
        by the arrival of the bytes too, it is scheduled in the same event-loop
        iteration as the reader instead of the next one, finds the message the
        reader has just queued, and a round trip costs one loop iteration less.
        """
        self._protocol.on_data = callback

    async def send(self, item: bytes) -> None:
        self.send_nowait(item)
        if self._protocol.writing_paused:
            await self._drain()

    async def _drain(self) -> None:
        protocol = self._protocol
        waiter = protocol.drain_waiter = asyncio.get_running_loop().create_future()
        try:
            await waiter
        finally:
            protocol.drain_waiter = None
        if protocol.error is not None:
            raise anyio.BrokenResourceError from protocol.error

    async def send_parts(self, items: list[bytes]) -> None:
        """Send ``items`` in order without joining them; all or none, like :meth:`send`."""
        for item in items:
            if item:
                self.send_nowait(item)
        protocol = self._protocol
        if protocol.writing_paused:
            await self._drain()

    def send_nowait(self, item: bytes) -> None:
        """Write ``item`` now (the next :meth:`send` waits if the transport is full)."""
        if self._closed:
            raise anyio.ClosedResourceError
        protocol = self._protocol
        if protocol.eof and protocol.error is not None:
            raise anyio.BrokenResourceError from protocol.error
        if self._transport.is_closing():
            raise anyio.BrokenResourceError
        self._transport.write(item)

    async def send_eof(self) -> None:
        if self._transport.can_write_eof():
            self._transport.write_eof()

    async def aclose(self) -> None:
        self.close_nowait()

    def close_nowait(self) -> None:
        """Close the transport now (what :meth:`aclose` does, without awaiting)."""
        if self._closed:
            return
        self._closed = True
        self._transport.close()
        self._protocol._wake_reader()
        self._protocol._wake_writer()

    def abort(self) -> None:
        """Close the transport now, dropping what it has not sent (a write was cut short)."""
        if not self._closed:
            self._transport.abort()
        self.close_nowait()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        transport = self._transport
        sock: socket.socket | None = transport.get_extra_info("socket")
        attributes: dict[Any, Callable[[], Any]] = {}
        if sock is not None:
            attributes[SocketAttribute.family] = lambda: sock.family
            attributes[SocketAttribute.local_address] = lambda: transport.get_extra_info("sockname")
            attributes[SocketAttribute.raw_socket] = lambda: sock
            peer = transport.get_extra_info("peername")
            if peer is not None:
                attributes[SocketAttribute.remote_address] = lambda: peer
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            attributes[TLSAttribute.ssl_object] = lambda: ssl_object
        return attributes


async def connect(
    host: str, port: int, ssl_context: ssl.SSLContext | None, server_hostname: str | None = None
) -> AsyncioStream:
    """Open a TCP (or TLS) connection on asyncio."""
    loop = asyncio.get_running_loop()
    transport, protocol = await loop.create_connection(
        Protocol,
        host,
        port,
        ssl=ssl_context,
        server_hostname=(server_hostname or host) if ssl_context is not None else None,
    )
    _no_delay(transport)
    assert isinstance(transport, asyncio.Transport)
    return AsyncioStream(transport, protocol)


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class AsyncioTCPListener(Listener[AsyncioStream]):
    """Accepts TCP connections on an anyio listener's socket, as :class:`AsyncioStream`s.

    The TLS handshake (if any) runs in each connection's own task, so a slow
    client never holds up the accept loop.
    """

    def __init__(
        self,
        listener: Listener[Any],
        ssl_context: ssl.SSLContext | None,
        tls_handshake_timeout: float | None = None,
    ) -> None:
        self._listener = listener
        self._ssl_context = ssl_context
        self._tls_handshake_timeout = tls_handshake_timeout

    async def serve(
        self, handler: Callable[[AsyncioStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        raw: socket.socket = self._listener.extra(SocketAttribute.raw_socket)
        async with anyio.create_task_group() as own:
            group = task_group or own
            while True:
                client, address = await loop.sock_accept(raw)
                group.start_soon(self._start, client, address, handler)

    async def _start(
        self, client: socket.socket, address: Any, handler: Callable[[AsyncioStream], Any]
    ) -> None:
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.connect_accepted_socket(
                Protocol,
                client,
                ssl=self._ssl_context,
                ssl_handshake_timeout=(
                    self._tls_handshake_timeout if self._ssl_context is not None else None
                ),
            )
        except OSError as exc:  # ssl.SSLError too
            # A failed TLS handshake concerns only this client: DEBUG, as on
            # other backends (see _listening.QuietTLSListener).
            if self._ssl_context is not None:
                _log.tls_failed(_peer(address), exc)
            client.close()
            return
        _no_delay(transport)
        assert isinstance(transport, asyncio.Transport)
        await handler(AsyncioStream(transport, protocol))

    async def aclose(self) -> None:
        await self._listener.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        inner = self._listener
        return {
            SocketAttribute.local_address: lambda: inner.extra(SocketAttribute.local_address),
            SocketAttribute.raw_socket: lambda: inner.extra(SocketAttribute.raw_socket),
            SocketAttribute.family: lambda: inner.extra(SocketAttribute.family),
        }

    @property
    def tls(self) -> bool:
        """Whether accepted connections use TLS."""
        return self._ssl_context is not None


def _peer(address: Any) -> Endpoint | None:
    """A TCP client's address as ``accept()`` gave it, as an Endpoint."""
    if isinstance(address, tuple):
        return Endpoint(str(address[0]), int(address[1]), True)
    return None
