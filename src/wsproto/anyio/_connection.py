"""WebSocketConnection: one WebSocket over any anyio byte stream.

One reader per connection reads the transport, feeds the core, writes what
the core answers (pongs, the close reply) and hands received messages to the
connection's inbox (``_inbox.py``): a bounded queue, so a slow consumer slows
the peer down through TCP instead of growing memory. The core enforces
``max_message_size`` as data arrives, so a too-big message fails with 1009
before it is buffered.

The reader is a task, except on our asyncio transport: there its work runs
in the transport's data callback (``_on_push``) for as long as nothing has to
wait, which spares a task switch per message; whatever must wait goes to a
reader task as a coroutine (``_pending``). A server's connection even ends
that task while idle (``_park``) and starts one again when needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterable,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from collections.abc import Set as AbstractSet
from contextlib import aclosing
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import ByteStream
from anyio.lowlevel import checkpoint

from wsproto import WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension
from wsproto.typing import Headers
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

from ._compat import TaskSpawner
from ._errors import CloseReason, ConnectionClosed, Endpoint
from ._fastpath import FastStream, Restarts
from ._handshake import Handshake
from ._inbox import Inbox, Item, TooManyFragments
from ._malloc import prime_allocator
from ._pings import Pings
from ._sync import Flag, Mutex

__all__ = ["WebSocketConnection"]

logger = logging.getLogger("wsproto.anyio")

_OPEN = ConnectionState.OPEN
_REMOTE_CLOSING = ConnectionState.REMOTE_CLOSING

#: Messages this large go out as a frame header and the payload as it is,
#: written one after the other, instead of one buffer that copies both.
_SPLIT_SIZE = 65536
#: Bytes asked of the transport per read when the caller does not choose.
DEFAULT_RECEIVE_SIZE = 65536
# Close codes of a peer closing on purpose, rather than of a failure.
_ORDERLY_CLOSES = frozenset({1000, 1001, 1005})
#: Longest wait, in seconds, for the application to finish with the messages
#: received before the peer's close, before the close is answered.
CLOSE_GRACE = 1.0


_Aborted = (anyio.BrokenResourceError, anyio.ClosedResourceError, anyio.EndOfStream, OSError)


class WebSocketConnection:
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
        "_close_reason",
        "_discarding",
        "_disconnect_timeout",
        "_fast",
        "_handshake",
        "_handshake_headers",
        "_inbox",
        "_keepalive_busy",
        "_keepalive_next",
        "_keepalive_scope",
        "_local",
        "_message_lock",
        "_path",
        "_pending",
        "_ping_interval",
        "_ping_timeout",
        "_pings",
        "_reader_done",
        "_reader_scope",
        "_receive_size",
        "_remote",
        "_restarter",
        "_send_lock",
        "_send_parts",
        "_spawner",
        "_stream",
        "_subprotocol",
        "_ws",
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
    ) -> None:
        prime_allocator()
        self._stream = stream
        # The stream's declared fast path, if it has one (checked once, here).
        fast = self._fast = stream if isinstance(stream, FastStream) else None
        self._ws = ws
        self._path = path
        # Dropped once the connection is open (see _handshake.py).
        self._handshake: Handshake | None = Handshake(
            host,
            list(client_subprotocols or ()),
            list(client_extra_headers or ()),
            list(client_extensions or ()),
        )
        self._inbox = Inbox(
            message_queue_size,
            max_fragments,
            self._ended,
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
        self._remote = remote
        # Writers take _send_lock per write; a message being sent holds
        # _message_lock throughout, so pings can still go out between fragments.
        self._send_lock = Mutex()
        # Our asyncio transport writes several pieces at once: see _send.
        self._message_lock = Mutex()
        self._close_reason: CloseReason | None = None
        self._reader_done = Flag()
        self._subprotocol: str | None = None
        self._handshake_headers: tuple[tuple[bytes, bytes], ...] = ()
        self._pings = Pings()
        self._keepalive_scope: anyio.CancelScope | None = None
        self._reader_scope: anyio.CancelScope | None = None
        self._spawner: TaskSpawner | None = None  # see _park
        self._restarter: Restarts | None = None  # see _park
        self._keepalive_next: float | None = None  # server: when the next ping is due
        self._keepalive_busy = False
        self._discarding = False  # a local limit failed the connection: drop data
        self._pending: Coroutine[Any, Any, bool] | None = None  # see _on_push

    # Properties

    @property
    def closed(self) -> CloseReason | None:
        """Why the connection closed, or ``None`` while it is open."""
        return self._close_reason

    @property
    def is_client(self) -> bool:
        """Whether this is the client side."""
        return self._ws.client

    @property
    def is_server(self) -> bool:
        """Whether this is the server side."""
        return not self._ws.client

    @property
    def local(self) -> Endpoint | str | None:
        """The local end, an :class:`~wsproto.anyio.Endpoint` (or a Unix socket path)."""
        return self._local

    @property
    def remote(self) -> Endpoint | str | None:
        """The remote end, an :class:`~wsproto.anyio.Endpoint` (or a Unix socket path)."""
        return self._remote

    @property
    def path(self) -> str | None:
        """The request target (path and query) of the opening handshake."""
        return self._path

    @property
    def subprotocol(self) -> str | None:
        """The negotiated subprotocol, or ``None``."""
        return self._subprotocol

    @property
    def handshake_headers(self) -> tuple[tuple[bytes, bytes], ...]:
        """The other side's handshake headers, in wire order.

        On a client, the extra headers of the server's response; on a server,
        the client's request headers.
        """
        return self._handshake_headers

    @property
    def latency(self) -> float | None:
        """Seconds between the last answered ping and its pong, or ``None``."""
        return self._pings.latency

    def __repr__(self) -> str:
        role = "client" if self._ws.client else "server"
        state = "open" if self._close_reason is None else f"closed {self._close_reason.code}"
        return f"<WebSocketConnection {role} {self._path!r} {state}>"

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

    def _ended(self) -> ConnectionClosed:
        return ConnectionClosed(self._close_reason)

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
        if self._close_reason is not None:
            raise ConnectionClosed(self._close_reason)
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
        lock = self._message_lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            await self._send(event, split=len(event.data) >= _SPLIT_SIZE)
        finally:
            lock.release()

    async def _send_fragments(
        self, pieces: Iterable[str | bytes] | AsyncIterable[str | bytes]
    ) -> None:
        lock = self._message_lock
        await lock.acquire()
        started = False  # the core has framed part of the message, not yet all of it
        try:
            kind: type | None = None
            pending: str | bytes | None = None
            async with aclosing(_aiter(pieces)) as iterator:
                async for piece in iterator:
                    if not isinstance(piece, str | bytes | bytearray | memoryview):
                        raise TypeError(
                            f"message pieces must be str or bytes, not {type(piece).__name__}"
                        )
                    piece = piece if isinstance(piece, str) else bytes(piece)
                    if kind is None:
                        kind = type(piece)
                    elif type(piece) is not kind:
                        raise TypeError("a message's pieces must be all str or all bytes")
                    if pending is not None:
                        started = True
                        await self._send(_message_event(pending, False))
                    pending = piece
            if pending is None:
                return  # nothing to send: no message
            await self._send(_message_event(pending, True))
            started = False
        except BaseException:
            if started:
                # The message is cut short: whatever we sent next would be
                # taken for its continuation. Fail the connection, as websockets does.
                await self._fail_connection(1011, "a fragmented message was left unfinished")
            raise
        finally:
            lock.release()

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
        if self._close_reason is not None:
            raise ConnectionClosed(self._close_reason)
        pings = self._pings
        if payload is None:
            payload = pings.new_payload()
        answered = anyio.Event()
        pings.start(payload, answered, time.monotonic())
        try:
            await self._send(Ping(payload))
            await answered.wait()
            if pings.in_flight(payload):
                # A pong takes its ping (and earlier ones) out; this one was
                # woken by the connection closing instead.
                raise ConnectionClosed(self._close_reason)
        finally:
            pings.forget(payload)

    async def pong(self, payload: bytes | None = None) -> None:
        """Send an unsolicited pong (a one-way heartbeat).

        Raises:
            ConnectionClosed: if the connection is closed.
        """
        await checkpoint()
        if self._close_reason is not None:
            raise ConnectionClosed(self._close_reason)
        await self._send(Pong(payload or b""))

    async def _send(self, event: Event, *, split: bool = False) -> None:
        """Serialize ``event`` and write it; the order of writes is the order of send().

        ``split`` (a large message): where the transport can write pieces,
        the frame's payload goes out as it is, not copied behind its header.
        """
        lock = self._send_lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            try:
                data: bytes | list[bytes]
                if split and self._fast is not None:
                    data = self._ws.send_with_data_passthrough(event)
                    if len(data) == 1:
                        data = data[0]
                else:
                    data = self._ws.send(event)
            except LocalProtocolError:
                raise ConnectionClosed(self._close_reason or CloseReason(1006, None)) from None
            await self._write_locked(data)
        finally:
            lock.release()

    async def _write_locked(self, data: bytes | list[bytes]) -> None:
        try:
            if isinstance(data, list):
                assert self._fast is not None
                await self._fast.send_parts(data)
            else:
                await self._stream.send(data)
        except _Aborted:
            await self._teardown()
            raise ConnectionClosed(self._close_reason) from None
        except BaseException:
            # Cancelled mid-write. A transport that takes all bytes or none
            # (a FastStream) is still in step; otherwise part of a frame may be
            # on the wire, nothing may follow it, and the connection is done.
            if self._fast is None:
                with anyio.CancelScope(shield=True):
                    await self._teardown()
            raise

    async def _write(self, data: bytes) -> None:
        lock = self._send_lock
        await lock.acquire()
        try:
            await self._write_locked(data)
        finally:
            lock.release()

    # Closing

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the connection: send a close frame and wait for the peer's.

        Waits at most ``disconnect_timeout``, shielded from cancellation, so
        leaving a cancelled task group never hangs. Idempotent: closing a
        closed connection does nothing. Messages not yet received are
        discarded.
        """
        await self._close(code, reason)

    async def _close(self, code: int, reason: str | None) -> bool:
        """Close; return whether the closing handshake finished within the timeout."""
        with anyio.CancelScope(shield=True):
            with anyio.move_on_after(self._disconnect_timeout) as scope:
                self._inbox.discard()  # a local close drops messages not yet received
                if self._close_reason is None:
                    self._close_reason = CloseReason(code, reason)
                    if self._ws.state is _OPEN:
                        try:
                            await self._write_close(CloseConnection(code, reason))
                        except ConnectionClosed:
                            pass
                # Wait for the reader to see the peer's close (or the end of
                # the transport), whoever started closing. During the opening
                # handshake there is nothing to wait for.
                if self._ws.state is not ConnectionState.CONNECTING:
                    await self._reader_done.wait()
            await self._teardown()
        return not scope.cancelled_caught

    async def _write_close(self, event: CloseConnection) -> None:
        lock = self._send_lock
        await lock.acquire()
        try:
            try:
                data = self._ws.send(event)
            except LocalProtocolError:
                return  # a close already went out (state changed under us)
            await self._write_locked(data)
        finally:
            lock.release()

    async def _teardown(self) -> None:
        """The one teardown: close the transport now; the connection is over (1006 unless known).

        Every way a connection ends comes here, after the closing handshake
        (:meth:`_close`, :meth:`_remote_close` via the reader's end), instead
        of it (:meth:`_fail_connection`, a rejection, a failed write), or
        when the reader stops (:meth:`_reader_finished`). Idempotent.
        Messages received before stay there to be taken (a local close
        discards them itself: see :meth:`_close`).
        """
        if self._close_reason is None:
            self._close_reason = CloseReason(1006, None)
        self._inbox.end()
        self._pings.wake_all()
        if self._keepalive_scope is not None:
            self._keepalive_scope.cancel()
        await self._stream.aclose()

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
        one task for all its connections (:meth:`_keepalive_due`). Each task
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
            task_group.start_soon(self._reader, name=f"wsproto reader {self._path}")
        if self._ping_interval is not None and not shielded:
            self._keepalive_scope = anyio.CancelScope()
            task_group.start_soon(
                self._run_in,
                self._keepalive_scope,
                self._keepalive,
                name=f"wsproto keepalive {self._path}",
            )

    def _start_reader(self) -> None:
        """Start a shielded reader task in ``_spawner`` (a server's connection)."""
        assert self._spawner is not None
        self._reader_scope = anyio.CancelScope(shield=True)
        self._spawner.start_soon(
            self._run_contained,
            self._reader_scope,
            self._reader,
            name=f"wsproto reader {self._path}",
        )

    def _park(self) -> bool:
        """End the reader task, leaving the transport's callback to do its work.

        A server's connection on our asyncio transport (see
        ``AsyncioStream.park``): an idle connection then costs no reader task,
        about 4 KiB with anyio. The callback starts a reader again whenever it
        has to wait for something (:meth:`_unpark`). False if the reader has
        to go on (bytes already buffered).
        """
        if self._restarter is None or self._fast is None:
            return False
        if not self._fast.park(self._on_push, self._unpark, self._receive_size):
            return False
        self._reader_scope = None  # its task is ending (a scope is 650 bytes)
        return True

    def _unpark(self) -> None:
        # Called in the transport's data callback, outside any task: only
        # queue the start (see _transport.Restarter).
        assert self._restarter is not None
        self._restarter.request(self._start_reader)

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending.close()  # never to run: no "never awaited" warning
            self._pending = None

    def _stop_tasks(self) -> None:
        """Cancel the connection's tasks (the handler is done with it)."""
        if self._reader_scope is not None:
            self._reader_scope.cancel()
        if self._keepalive_scope is not None:
            self._keepalive_scope.cancel()

    @staticmethod
    async def _run_in(scope: anyio.CancelScope, task: Callable[[], Awaitable[None]]) -> None:
        with scope:
            await task()

    @staticmethod
    async def _run_contained(scope: anyio.CancelScope, task: Callable[[], Awaitable[None]]) -> None:
        with scope:
            try:
                await task()
            except Exception:
                logger.exception("WebSocket connection task %s failed", task.__name__)

    async def _open_client(self) -> None:
        """Send the upgrade request and wait for the answer (client side)."""
        handshake = self._handshake
        assert handshake is not None
        assert self._path is not None
        await self._write(self._ws.send(handshake.client_request(self._path)))
        await handshake.done.wait()
        if handshake.error is not None:
            with anyio.CancelScope(shield=True):
                await self._teardown()
            raise handshake.error
        self._handshake = None  # open: nothing of it is needed any more

    async def _wait_request(self) -> Request | None:
        """Wait for the client's upgrade request (server side); ``None`` if it never came."""
        handshake = self._handshake
        assert handshake is not None
        await handshake.done.wait()
        return handshake.request

    def _handshake_decided(self) -> bool:
        """Whether a server's handler accepted or rejected the request."""
        return self._handshake is None or self._handshake.decided.is_set()

    async def _accept(
        self, subprotocol: str | None, extra_headers: Headers | None, extensions: list[Extension]
    ) -> None:
        event = AcceptConnection(
            subprotocol=subprotocol, extensions=extensions, extra_headers=extra_headers or []
        )
        data = self._ws.send(event)  # raises LocalProtocolError for a bad subprotocol
        self._subprotocol = subprotocol
        handshake, self._handshake = self._handshake, None  # open: dropped
        if handshake is not None:
            handshake.decided.set()  # the reader goes on reading
        await self._write(data)

    async def _reject(
        self, status_code: int, extra_headers: Headers | None, body: bytes | None
    ) -> None:
        handshake = self._handshake
        headers = list(extra_headers or [])
        if body:
            headers.append((b"Content-Length", str(len(body)).encode()))
        try:
            data = self._ws.send(RejectConnection(status_code, headers, has_body=bool(body)))
            if body:
                data += self._ws.send(RejectData(body))
        except BaseException:
            # Not rejected after all (e.g. already accepted): the connection
            # keeps its state, so a handler error still closes it with 1011.
            if handshake is not None:
                handshake.decided.set()
            raise
        self._close_reason = CloseReason(1006, "rejected")
        try:
            await self._write(data)
        finally:
            # Only now: once decided, the reader closes the transport, which
            # could cut the response off if it were still being written.
            if handshake is not None:
                handshake.decided.set()
            self._inbox.discard()
            await self._teardown()

    # The reader task

    async def _reader(self) -> None:
        ws = self._ws
        receive = self._stream.receive
        # Our asyncio transport can run the reader's work right in its data
        # callback (see _on_push and _park); other streams are read here.
        receive_or_push = self._fast.receive_or_push if self._fast is not None else None
        size = self._receive_size
        parked = False
        try:
            while True:
                try:
                    pending, self._pending = self._pending, None
                    if pending is not None:
                        # Work the data callback could not finish without waiting.
                        if not await pending:
                            return
                        continue
                    if receive_or_push is not None and ws.state is _OPEN:
                        if self._inbox.empty and self._park():
                            parked = True
                            return
                        data = await receive_or_push(self._on_push, size)
                        if data is None:
                            continue  # the callback left work in _pending
                    else:
                        data = await receive(size)
                except _Aborted:
                    data = None
                try:
                    ws.receive_data(data)
                except RemoteProtocolError as exc:
                    await self._handshake_failed(exc)
                    return
                if not await self._dispatch(iter(ws.events()), []):
                    return
                if data is None:
                    return
        finally:
            if not parked:
                with anyio.CancelScope(shield=True):
                    await self._reader_finished()

    def _on_push(self, data: bytes) -> bool:
        """Handle bytes in the transport's callback; False leaves ``_pending`` to the reader.

        Messages go to the inbox while it has room and pongs are written while
        nobody else is writing; anything that has to wait (a full inbox, the
        peer's close ...) is left to the reader task as a coroutine.
        """
        out: list[bytes] = []
        try:
            ws = self._ws
            ws.receive_data(data)
            events = iter(ws.events())
            held = self._handle_now(events, out)
            if held is None:
                unfinished = self._inbox.take_unfinished()
                if unfinished is not None and not self._inbox.deliver_nowait(unfinished):
                    held = unfinished
                elif not out or self._write_now(out):
                    return True
        except Exception as exc:  # never into the event loop's callback
            self._pending = self._reraise(exc)
            return False
        self._pending = self._dispatch(events, out, held)
        return False

    @staticmethod
    async def _reraise(exc: Exception) -> bool:
        raise exc

    def _write_now(self, out: list[bytes]) -> bool:
        """Write ``out`` without waiting, if nobody else is writing; whether it did."""
        lock = self._send_lock
        if not lock.try_acquire():
            return False
        try:
            # Raising (the transport is gone), it goes to the reader: see _on_push.
            assert self._fast is not None  # only its callback gets here
            self._fast.send_nowait(b"".join(out))
        finally:
            lock.release()
        out.clear()
        return True

    async def _reader_finished(self) -> None:
        self._drop_pending()  # if the reader stopped before it took it
        if self._handshake is not None:
            self._handshake.ended(self._close_reason or CloseReason(1006, None))
        await self._teardown()
        self._reader_done.set()

    async def _dispatch(
        self, events: Iterator[Event], out: list[bytes], held: Event | Item | None = None
    ) -> bool:
        """Handle the events of one read; False once the reader should stop.

        ``held``: an event or item :meth:`_handle_now` left to handle first;
        ``out``: bytes to write once the events are handled.
        """
        inbox = self._inbox
        while True:
            if held is None:
                held = self._handle_now(events, out)
                if held is None:
                    break
            if not await self._handle_later(held, out):
                return False
            held = None
        unfinished = inbox.take_unfinished()
        if unfinished is not None:
            await inbox.deliver(unfinished)
        if out:
            try:
                await self._write(b"".join(out))
            except ConnectionClosed:
                pass  # the transport is gone: the next read reports it
        return True

    def _handle_now(self, events: Iterator[Event], out: list[bytes]) -> Event | Item | None:
        """Handle events until one needs waiting for; return it (or the item to deliver)."""
        inbox = self._inbox
        ws = self._ws
        for event in events:
            cls = type(event)
            if cls is BytesMessage or cls is TextMessage:
                assert isinstance(event, Message)
                if self._discarding:
                    continue
                try:
                    item = inbox.add(event)
                except TooManyFragments:
                    out.append(self._fail(1009, "too many fragments in one message"))
                    continue
                if item is not None and not inbox.deliver_nowait(item):
                    return item
            elif cls is Ping:
                assert isinstance(event, Ping)
                if ws.state is _OPEN:
                    out.append(ws.send(event.response()))
            elif cls is Pong:
                assert isinstance(event, Pong)
                self._pings.answer(event.payload, time.monotonic())
            else:
                return event
        return None

    async def _handle_later(self, held: Event | Item, out: list[bytes]) -> bool:
        """Handle what :meth:`_handle_now` could not; False once the reader should stop."""
        if not isinstance(held, Event):
            await self._inbox.deliver(held)
            return True
        cls = type(held)
        ws = self._ws
        if cls is CloseConnection:
            assert isinstance(held, CloseConnection)
            if out:
                await self._write(b"".join(out))
                out.clear()
            await self._remote_close(held)
            return False
        handshake = self._handshake
        assert handshake is not None  # the events below come before the connection is open
        if cls is Request:
            assert isinstance(held, Request)
            handshake.request = held
            self._path = held.target
            self._handshake_headers = tuple(held.extra_headers)
            handshake.done.set()
            await handshake.decided.wait()
            # Accepted (the handler may have sent and started closing already),
            # or rejected (then there is nothing more to read).
            return ws.state is _OPEN or ws.state is ConnectionState.LOCAL_CLOSING
        if cls is AcceptConnection:
            assert isinstance(held, AcceptConnection)
            self._subprotocol = held.subprotocol
            self._handshake_headers = tuple(held.extra_headers)
            handshake.done.set()
        elif cls is RejectConnection:
            assert isinstance(held, RejectConnection)
            handshake.reject_status = held.status_code
            handshake.reject_headers = list(held.headers)
            if not held.has_body:
                handshake.rejected()
                return False
        elif cls is RejectData:
            assert isinstance(held, RejectData)
            handshake.add_reject_body(held.data)
            if held.body_finished:
                handshake.rejected()
                return False
        return True

    def _fail(self, code: int, reason: str) -> bytes:
        """Start closing because of a local limit; return the close frame."""
        self._discarding = True
        if self._close_reason is None:
            self._close_reason = CloseReason(code, reason)
        self._inbox.end()
        try:
            return self._ws.send(CloseConnection(code, reason))
        except LocalProtocolError:
            return b""

    async def _remote_close(self, event: CloseConnection) -> None:
        ws = self._ws
        # OPEN here: the core reported a peer's protocol violation, which
        # leaves the state alone until it is answered (as wsproto 1.x does).
        answer = ws.state is _REMOTE_CLOSING or ws.state is _OPEN
        # Only a violation (state OPEN) leaves room for replies: after a close
        # frame (REMOTE_CLOSING) the core refuses new messages, as wsproto 1.x
        # does, and the peer would discard them (RFC 6455 §1.4).
        if ws.state is _OPEN and event.code not in _ORDERLY_CLOSES:
            await self._let_consumer_finish()
        if self._close_reason is None or (
            self._close_reason.code != event.code and event.code != 1006
        ):
            # The peer's word is final, whoever started the close. (1006 is
            # never sent, RFC 6455 §7.4.1: it is the core reporting the end of
            # the transport, which changes nothing once the reason is known.)
            # Noted before the reply goes out: a peer that hangs up right after
            # its close frame makes the reply fail, which must not turn its
            # code into 1006.
            self._close_reason = CloseReason(event.code, event.reason or None)
        if answer:
            try:
                # The peer may hang up right after its close (RFC 6455 §7.1.1
                # lets a server): what it sent before stays receivable (the
                # teardown of a failed write keeps the inbox).
                await self._write_close(event.response())
            except ConnectionClosed:
                pass
        self._inbox.end()
        if self.is_client:
            # RFC 6455 §7.1.1: the server closes TCP first; give it a moment.
            with anyio.move_on_after(self._disconnect_timeout):
                try:
                    while await self._stream.receive(self._receive_size):
                        pass
                except _Aborted:
                    pass

    async def _let_consumer_finish(self) -> None:
        """Before failing the connection, let the application answer what came first.

        When a frame fails the connection (1002, 1007, 1009 ...), the messages
        received before it may want a reply, the peer is still reading, and
        RFC 6455 §5.5.1 lets us finish sending before the close goes out. Wait,
        briefly, until the consumer has taken every queued message and is
        waiting for the next one, i.e. has done with the last. (After an
        orderly close from the peer there is no point: it discards what we
        send once it has sent its close, §1.4.)
        """
        await self._inbox.wait_consumer_idle(min(CLOSE_GRACE, self._disconnect_timeout))

    async def _handshake_failed(self, exc: RemoteProtocolError) -> None:
        if self._handshake is not None:
            self._handshake.failed(exc)
        if exc.event_hint is not None and not self._ws.client:
            try:
                await self._write(self._ws.send(exc.event_hint))
            except (ConnectionClosed, LocalProtocolError):
                pass

    async def _keepalive(self) -> None:
        assert self._ping_interval is not None
        if self._handshake is not None:
            await self._handshake.done.wait()
        while self._close_reason is None:
            await anyio.sleep(self._ping_interval)
            await self._keepalive_once()

    def _keepalive_due(self, now: float) -> bool:
        """Whether a server's keepalive round should ping this connection now.

        Due ``ping_interval`` after it was first seen open, then after each
        ping's answer; never while a keepalive ping is in flight.
        """
        if self._keepalive_busy or self._ping_interval is None or self._ws.state is not _OPEN:
            return False
        if self._keepalive_next is None:
            self._keepalive_next = now + self._ping_interval
        return now >= self._keepalive_next

    async def _keepalive_once(self) -> None:
        """One keepalive ping: closes the connection with 1011 if its pong does not come."""
        assert self._ping_interval is not None
        self._keepalive_busy = True
        try:
            with anyio.fail_after(self._ping_timeout):
                await self.ping()
        except ConnectionClosed:
            pass
        except TimeoutError:
            # A peer that stops answering is gone (RFC 6455 §5.5.2 asks it to answer).
            await self._keepalive_timed_out()
        finally:
            self._keepalive_busy = False
            self._keepalive_next = time.monotonic() + self._ping_interval

    async def _keepalive_timed_out(self) -> None:
        await self._fail_connection(1011, "keepalive ping timeout")

    async def _fail_connection(self, code: int, reason: str) -> None:
        """Close now: send a close frame (waiting a second at most), then drop the transport."""
        with anyio.CancelScope(shield=True):
            if self._close_reason is None:
                self._close_reason = CloseReason(code, reason)
                self._inbox.end()
                with anyio.move_on_after(1):
                    try:
                        await self._write_close(CloseConnection(code, reason))
                    except ConnectionClosed:
                        pass
            await self._teardown()


def _message_event(data: str | bytes, last: bool) -> Event:
    if isinstance(data, str):
        return TextMessage(data, message_finished=last)
    return BytesMessage(data, message_finished=last)


async def _aiter(
    pieces: Iterable[str | bytes] | AsyncIterable[str | bytes],
) -> AsyncGenerator[str | bytes, None]:
    if isinstance(pieces, AsyncIterable):
        async for piece in pieces:
            yield piece
    else:
        for piece in pieces:
            yield piece
