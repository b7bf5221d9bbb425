"""Helpers for the layer's tests: in-memory byte streams, a hand-driven core peer, servers.

The peer (:class:`RawPeer`) is the protocol core driven by hand over a byte
stream, so a test controls exactly what reaches the layer and sees exactly
what the layer put on the wire (each frame, each close code), and can
misbehave on purpose: stop reading, never answer a ping, drop TCP mid-frame.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, Literal, TypeVar

import anyio
from anyio.abc import ByteStream, SocketAttribute, SocketListener
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import (
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
    wrap_client_stream,
)
from wsproto.connection import ConnectionState
from wsproto.events import AcceptConnection, CloseConnection, Event, Message, Request
from wsproto.extensions import Extension
from wsproto.typing import Headers

E = TypeVar("E", bound=Event)

Transport = Literal["tcp", "memory"]

#: Errors a byte stream raises when the other end is gone.
GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class MemoryByteStream(ByteStream):
    """One end of an in-memory byte pipe (see :func:`memory_stream_pair`).

    Each ``send()`` is one item of a memory-object stream; with a buffer of 0
    it returns only once the other end's ``receive()`` took it, which is what
    lets tests see exactly when a writer is held up.
    """

    def __init__(
        self,
        send_items: MemoryObjectSendStream[bytes],
        receive_items: MemoryObjectReceiveStream[bytes],
    ) -> None:
        self._send_items = send_items
        self._receive_items = receive_items
        self._pending = b""
        self.bytes_sent = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._pending:
            self._pending = await self._receive_items.receive()
        data, self._pending = self._pending[:max_bytes], self._pending[max_bytes:]
        return data

    async def send(self, item: bytes) -> None:
        await self._send_items.send(bytes(item))
        self.bytes_sent += len(item)

    async def send_eof(self) -> None:
        self._send_items.close()

    async def aclose(self) -> None:
        self._send_items.close()
        self._receive_items.close()
        await anyio.lowlevel.checkpoint()

    @property
    def extra_attributes(self) -> dict[Any, Callable[[], Any]]:
        return {}


def memory_stream_pair(buffer: int = 0) -> tuple[MemoryByteStream, MemoryByteStream]:
    """Two byte streams joined to each other, each direction holding ``buffer`` writes."""
    a_send, b_receive = anyio.create_memory_object_stream[bytes](buffer)
    b_send, a_receive = anyio.create_memory_object_stream[bytes](buffer)
    return MemoryByteStream(a_send, a_receive), MemoryByteStream(b_send, b_receive)


class PeerGone(Exception):
    """The raw peer's transport ended and every event was consumed."""


class RawPeer:
    """A WebSocket endpoint made of the core and a byte stream, driven by the test."""

    def __init__(self, stream: ByteStream, ws: WSConnection) -> None:
        self.stream = stream
        self.ws = ws
        self.eof = False
        self.bytes_received = 0
        self.received_close: CloseConnection | None = None
        self._events: deque[Event] = deque()

    @classmethod
    async def accept(
        cls,
        stream: ByteStream,
        *,
        subprotocol: str | None = None,
        extensions: Sequence[Extension] = (),
        extra_headers: Headers | None = None,
    ) -> tuple[RawPeer, Request]:
        """Read a client's upgrade request from ``stream`` and accept it."""
        peer = cls(stream, WSConnection(ConnectionType.SERVER))
        request = await peer.expect(Request)
        await peer.send(
            AcceptConnection(
                subprotocol=subprotocol,
                extensions=list(extensions),
                extra_headers=list(extra_headers or []),
            )
        )
        return peer, request

    async def send(self, *events: Event) -> None:
        """Serialize ``events`` and write them in one piece."""
        await self.stream.send(b"".join(self.ws.send(event) for event in events))

    async def next_event(self) -> Event:
        """The next event from the other side, reading as needed.

        When the transport ends the core reports a ``CloseConnection`` (1006
        unless a close frame came first); after that this raises :class:`PeerGone`.
        """
        while not self._events:
            if self.eof:
                raise PeerGone
            data: bytes | None
            try:
                data = await self.stream.receive()
            except GONE:
                data = None
                self.eof = True
            else:
                self.bytes_received += len(data)
            closed_before = self.received_close is not None or any(
                isinstance(event, CloseConnection) for event in self._events
            )
            self.ws.receive_data(data)
            for event in self.ws.events():
                # The core reports every end of the transport as a 1006 (as
                # wsproto 1.x does), even after the closing handshake: here
                # only the first close counts.
                if data is None and closed_before and isinstance(event, CloseConnection):
                    continue
                self._events.append(event)
        event = self._events.popleft()
        if isinstance(event, CloseConnection):
            self.received_close = event
        return event

    async def expect(self, cls: type[E]) -> E:
        """The next event, which must be a ``cls``."""
        event = await self.next_event()
        assert isinstance(event, cls), f"expected {cls.__name__}, got {event!r}"
        return event

    async def receive_message(self) -> tuple[str | bytes, int]:
        """The next data message, joined, and the number of frames it came in."""
        pieces: list[Any] = []
        frames = 0
        while True:
            event = await self.expect(Message)
            pieces.append(event.data)
            frames += event.frame_finished
            if event.message_finished:
                break
        joined = "".join(pieces) if isinstance(pieces[0], str) else b"".join(pieces)
        return joined, frames

    async def drain(self) -> list[Event]:
        """Every event until the transport ends."""
        events: list[Event] = []
        while True:
            try:
                events.append(await self.next_event())
            except PeerGone:
                return events

    async def finish(self) -> None:
        """Complete the closing handshake, whoever started it, then close the transport."""
        waiting = (ConnectionState.OPEN, ConnectionState.LOCAL_CLOSING)
        try:
            with anyio.move_on_after(10):
                while self.ws.state in waiting:
                    if isinstance(await self.next_event(), CloseConnection):
                        break
                if self.ws.state is ConnectionState.REMOTE_CLOSING:
                    assert self.received_close is not None
                    await self.send(self.received_close.response())
        except (PeerGone, *GONE):
            pass
        finally:
            await self.stream.aclose()


@asynccontextmanager
async def tcp_listener(host: str = "127.0.0.1") -> AsyncIterator[tuple[SocketListener, int]]:
    """A plain TCP listener on a free loopback port, and the port."""
    multi = await anyio.create_tcp_listener(local_host=host, local_port=0)
    listener = multi.listeners[0]
    assert isinstance(listener, SocketListener)
    try:
        yield listener, listener.extra(SocketAttribute.local_port)
    finally:
        await multi.aclose()


async def _accept_peer(
    connect: Callable[[], Awaitable[ByteStream]],
    accepted: list[tuple[RawPeer, Request]],
    ready: anyio.Event,
    accept_options: dict[str, Any],
) -> None:
    stream = await connect()
    accepted.append(await RawPeer.accept(stream, **accept_options))
    ready.set()


@asynccontextmanager
async def client_with_peer(
    transport: Transport = "tcp",
    path: str = "/",
    *,
    buffer: int = 64,
    accept_options: dict[str, Any] | None = None,
    **client_options: Any,
) -> AsyncIterator[tuple[WebSocketConnection, RawPeer, Request]]:
    """Our client connected to a :class:`RawPeer` server, over TCP or in memory.

    Keepalive is off unless asked for, so the peer sees only what the test
    sends; leaving the block closes the client while the peer answers the close.
    In memory, each direction holds ``buffer`` writes (0: a write waits for
    the reader).
    """
    client_options.setdefault("ping_interval", None)
    client_options.setdefault("disconnect_timeout", 5)
    accepted: list[tuple[RawPeer, Request]] = []
    ready = anyio.Event()
    options = accept_options or {}
    if transport == "tcp":
        async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
            group.start_soon(_accept_peer, listener.accept, accepted, ready, options)
            async with open_websocket_url(f"ws://127.0.0.1:{port}{path}", **client_options) as ws:
                await ready.wait()
                peer, request = accepted[0]
                try:
                    yield ws, peer, request
                finally:
                    group.start_soon(peer.finish)
        return
    client_stream, server_stream = memory_stream_pair(buffer)

    async def connect() -> ByteStream:
        return server_stream

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_accept_peer, connect, accepted, ready, options)
            ws = await wrap_client_stream(group, client_stream, "localhost", path, **client_options)
            await ready.wait()
            peer, request = accepted[0]
            try:
                yield ws, peer, request
            finally:
                group.start_soon(peer.finish)
                await ws.aclose()
    finally:
        await client_stream.aclose()
        await server_stream.aclose()


@asynccontextmanager
async def running_server(
    handler: Callable[[WebSocketRequest], Awaitable[None]], **options: Any
) -> AsyncIterator[WebSocketServer]:
    """``serve_websocket`` on a free loopback port for the duration of the block."""
    async with anyio.create_task_group() as group:
        serve = partial(serve_websocket, handler, "127.0.0.1", 0, None, **options)
        server = await group.start(serve)
        yield server
        group.cancel_scope.cancel()


async def echo(request: WebSocketRequest) -> None:
    """A handler that sends every message back."""
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)
