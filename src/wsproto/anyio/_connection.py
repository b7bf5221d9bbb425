"""WebSocketConnection: one WebSocket over any anyio byte stream.

The public class, made of one part per concern, each in its own module:

* the engine (``_engine.py``): every decision, synchronous and I/O-free;
* writing (``_writer.py``), closing (``_closing.py``), the opening handshake
  (``_opening.py``), reading and its drivers (``_reader.py``), keepalive
  (``_keepalive.py``): what moves bytes and wakes tasks;
* the inbox (``_inbox.py``): the bounded queue of received messages, so a
  slow consumer slows the peer down through TCP instead of growing memory.

docs/architecture.md draws how they fit.
"""

from __future__ import annotations

from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Iterable,
    Mapping,
)
from collections.abc import Set as AbstractSet
from types import TracebackType

import anyio
from anyio.abc import ByteStream
from anyio.lowlevel import checkpoint

from wsproto import WSConnection
from wsproto.events import BytesMessage, Pong, TextMessage
from wsproto.extensions import Extension
from wsproto.typing import Headers

from ._compat import TaskSpawner, run_in
from ._engine import Engine
from ._errors import CloseReason, ConnectionClosed, Endpoint
from ._fastpath import FastStream, Restarts
from ._handshake import Handshake
from ._inbox import Inbox
from ._keepalive import Keepalive
from ._malloc import prime_allocator
from ._opening import Opening
from ._reader import Reading
from ._sync import Flag, Mutex

__all__ = ["DEFAULT_RECEIVE_SIZE", "WebSocketConnection"]

#: Bytes asked of the transport per read when the caller does not choose.
DEFAULT_RECEIVE_SIZE = 65536


class WebSocketConnection(Reading, Opening, Keepalive):
    """A WebSocket connection, client or server side.

    Get one from :func:`~wsproto.anyio.open_websocket` (client) or from
    :meth:`WebSocketRequest.accept <wsproto.anyio.WebSocketRequest.accept>`
    (server). Receive with :meth:`get_message` or ``async for message in ws``;
    send with :meth:`send_message`; close with :meth:`aclose`. Every operation
    raises :class:`~wsproto.anyio.ConnectionClosed` once the connection is
    closed.
    """

    # Slots: an idle server holds one of these per connection, and the
    # instance dict of this many attributes alone was 1.5 KiB.
    __slots__ = (
        "__weakref__",
        "_disconnect_timeout",
        "_engine",
        "_fast",
        "_inbox",
        "_keepalive_scope",
        "_local",
        "_message_lock",
        "_ping_interval",
        "_ping_timeout",
        "_reader_done",
        "_receive_size",
        "_restarter",
        "_send_lock",
        "_spawner",
        "_stream",
    )

    def __init__(
        self,
        stream: ByteStream,
        ws: WSConnection,
        *,
        host: str | None = None,
        path: str | None = None,
        client_subprotocols: Iterable[str] | None = None,
        client_extra_headers: Headers | None = None,
        client_extensions: Iterable[Extension] | None = None,
        message_queue_size: int = 1,
        max_fragments: int | None = None,
        receive_buffer_size: int | None = None,
        ping_interval: float | None = None,
        ping_timeout: float | None = None,
        disconnect_timeout: float = 60,
        local: Endpoint | str | None = None,
        remote: Endpoint | str | None = None,
        log_id: int = 0,
    ) -> None:
        prime_allocator()
        self._stream = stream
        # The stream's declared fast path, if it has one (checked once, here).
        fast = self._fast = stream if isinstance(stream, FastStream) else None
        self._engine = Engine(
            ws,
            Handshake(
                host,
                list(client_subprotocols or ()),
                list(client_extra_headers or ()),
                list(client_extensions or ()),
            ),
            path=path,
            max_fragments=max_fragments,
            log_id=log_id,
            remote=remote,
        )
        self._inbox = Inbox(
            message_queue_size,
            # Not a method of ours: the inbox must not hold the connection
            # (a cycle, freed only by the garbage collector).
            self._engine.closed_error,
            # Our asyncio transport can also wake a waiting consumer when bytes
            # arrive: one event-loop iteration less per message.
            fast.call_on_data if fast is not None else None,
            fast.new_waiter if fast is not None else None,
        )
        self._receive_size = receive_buffer_size or DEFAULT_RECEIVE_SIZE
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._disconnect_timeout = disconnect_timeout
        self._local = local
        # Writers take _send_lock per write; a message being sent holds
        # _message_lock throughout, so pings can still go out between fragments.
        self._send_lock = Mutex()
        # Our asyncio transport writes several pieces at once: see _send.
        self._message_lock = Mutex()
        self._reader_done = Flag()
        self._keepalive_scope: anyio.CancelScope | None = None
        self._reader_scope = None  # see _reader.py
        self._spawner: TaskSpawner | None = None  # see _park
        self._restarter: Restarts | None = None  # see _park
        self._pending = None

    # Properties

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection closed, or ``None`` while it is open."""
        return self._engine.close_reason

    @property
    def is_client(self) -> bool:
        """Whether this is the client side."""
        return self._engine.client

    @property
    def is_server(self) -> bool:
        """Whether this is the server side."""
        return not self._engine.client

    @property
    def local(self) -> Endpoint | str | None:
        """The local end, an :class:`~wsproto.anyio.Endpoint` (or a Unix socket path)."""
        return self._local

    @property
    def remote(self) -> Endpoint | str | None:
        """The remote end, an :class:`~wsproto.anyio.Endpoint` (or a Unix socket path)."""
        return self._engine.remote

    @property
    def path(self) -> str | None:
        """The request target (path and query) of the opening handshake."""
        return self._engine.path

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or ``None``."""
        return self._engine.subprotocol

    @property
    def handshake_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The other side's handshake headers, in wire order.

        On a client, the extra headers of the server's response; on a server,
        the client's request headers.
        """
        return self._engine.handshake_headers

    @property
    def latency(self) -> float | None:
        """Seconds between the last answered ping and its pong, or ``None``."""
        return self._engine.pings.latency

    def __repr__(self) -> str:
        engine = self._engine
        role = "client" if engine.client else "server"
        reason = engine.close_reason
        state = "open" if reason is None else f"closed {reason.code}"
        return f"<WebSocketConnection {role} {engine.path!r} {state}>"

    # Receiving

    async def get_message(self) -> str | bytes:
        """Receive the next message: ``str`` for text, ``bytes`` for binary.

        Messages the peer sent before closing can still be received; after
        them, and at once after a local :meth:`aclose`, this raises
        :class:`~wsproto.anyio.ConnectionClosed`. Cancelling it loses nothing:
        a message partly received is completed by the next call.
        """
        return await self._inbox.get_message()

    def message_chunks(self) -> AsyncGenerator[str | bytes, None]:
        """Receive the next message as it arrives, piece by piece.

        ``async for chunk in ws.message_chunks(): ...`` yields ``str`` (text)
        or ``bytes`` (binary) pieces of one message, so a large message need
        not be held whole. Stop early and the rest of the message is dropped;
        to stop early, iterate inside ``async with contextlib.aclosing(ws.message_chunks())``
        so that the generator is closed at once (trio warns otherwise).
        """
        return self._inbox.chunks()

    def __aiter__(self) -> WebSocketConnection:
        return self

    async def __anext__(self) -> str | bytes:
        """The next message; iteration ends on a normal close (1000/1001), other closes raise.

        A plain iterator rather than an async generator: leaving ``async for``
        early (``break``, an error) must not leave an unfinished generator
        behind, which trio reports as a ResourceWarning.
        """
        try:
            return await self.get_message()
        except ConnectionClosed as exc:
            if exc.reason is not None and exc.reason.code in (1000, 1001):
                raise StopAsyncIteration from None
            raise

    # Sending

    async def send_message(
        self,
        message: str
        | bytes
        | bytearray
        | memoryview
        | Iterable[str | bytes]
        | AsyncIterable[str | bytes],
    ) -> None:
        """Send a message: ``str`` as text, ``bytes`` as binary.

        An iterable or async iterable of ``str`` (or of ``bytes``) pieces is
        sent as one fragmented message, a frame per piece, so a large message
        need not be held whole.

        Like every async method of the connection, it is a checkpoint: in a
        cancelled scope it raises the cancellation and sends nothing.

        Raises:
            ConnectionClosed: if the connection is closed or closing.
            ValueError: if ``message`` is none of these (as trio-websocket).
            TypeError: if a message mixes text and binary pieces.
        """
        await checkpoint()
        if self._engine.close_reason is not None:
            raise ConnectionClosed(self._engine.close_reason)
        if isinstance(message, str):
            event: TextMessage | BytesMessage = TextMessage(message)
        elif isinstance(message, bytes | bytearray | memoryview):
            event = BytesMessage(bytes(message))
        else:
            given: object = message  # what a caller passes is not always what it says
            if isinstance(given, Mapping | AbstractSet) or not isinstance(
                given, Iterable | AsyncIterable
            ):
                # trio-websocket's error for a message of the wrong type.
                raise ValueError(
                    "message must be str or bytes (or an iterable of str or of bytes pieces),"
                    f" not {type(given).__name__}"
                )
            await self._send_fragments(message)
            return
        await self._send_message(event)

    async def ping(self, payload: bytes | None = None) -> None:
        """Send a ping and wait for the matching pong.

        Each ping in flight needs a unique payload; ``None`` picks a random
        one. A pong also answers every ping sent before its own (RFC 6455
        §5.5.3 lets a peer answer only the latest).

        Raises:
            ConnectionClosed: if the connection closes first.
            ValueError: if a ping with this payload is already in flight.
        """
        await checkpoint()
        if self._engine.close_reason is not None:
            raise ConnectionClosed(self._engine.close_reason)
        async with self._ping_in_flight(payload) as (payload, answered):
            await answered.wait()
            if self._engine.pings.in_flight(payload):
                # A pong takes its ping (and earlier ones) out; this one was
                # woken by the connection closing instead.
                raise ConnectionClosed(self._engine.close_reason)

    async def pong(self, payload: bytes | None = None) -> None:
        """Send an unsolicited pong (a one-way heartbeat).

        Raises:
            ConnectionClosed: if the connection is closed.
        """
        await checkpoint()
        if self._engine.close_reason is not None:
            raise ConnectionClosed(self._engine.close_reason)
        await self._send(Pong(payload or b""))

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection: send a close frame and wait for the peer's.

        Waits at most ``disconnect_timeout``, shielded from cancellation, so
        leaving a cancelled task group never hangs. Idempotent: closing a
        closed connection does nothing. Messages not yet received are
        discarded. Like every async method it is a checkpoint: in a cancelled
        scope it closes all the same, then raises the cancellation (as trio's
        streams do).
        """
        await self._close_orderly(code, reason)
        await checkpoint()

    async def __aenter__(self) -> WebSocketConnection:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # Starting

    def _start(
        self, task_group: TaskSpawner, *, shielded: bool = False, restarter: Restarts | None = None
    ) -> None:
        """Start the reader (and keepalive) tasks in ``task_group``.

        ``shielded`` (a server's connection): the reader runs shielded from
        the group's cancellation until :meth:`_stop_tasks`, and logs a failure
        instead of raising it (the group is the server's, whose shutdown
        closes each connection through its handler, and which one broken
        connection must not bring down); keepalive is left to the server's
        one task for all its connections (:meth:`_keepalive_claim`). Each task
        costs about 4 KiB and a task group 5 KiB per idle connection (anyio
        on asyncio, measured), hence neither a group nor a keepalive task per
        server connection. ``restarter``: the server's, which lets an idle
        connection park (see :meth:`_park`).
        """
        if shielded:
            self._spawner = task_group
            self._restarter = restarter
            self._start_reader()
        else:
            task_group.start_soon(self._reader, name=f"wsproto reader {self._engine.path}")
        if self._ping_interval is not None and not shielded:
            self._keepalive_scope = anyio.CancelScope()
            task_group.start_soon(
                run_in,
                self._keepalive_scope,
                self._keepalive,
                name=f"wsproto keepalive {self._engine.path}",
            )

    def _stop_tasks(self) -> None:
        """Cancel the connection's tasks (the handler is done with it)."""
        if self._reader_scope is not None:
            self._reader_scope.cancel()
        if self._keepalive_scope is not None:
            self._keepalive_scope.cancel()
