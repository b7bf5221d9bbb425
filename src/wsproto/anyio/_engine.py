"""The engine: every decision one connection makes, synchronous and I/O-free.

The drivers (``_reader.py``) feed it what the transport reads and ask it, one
step at a time, what to do: a message item to put in the inbox, an event a
task has to act on (the handshake's, the peer's close), and the bytes to write
back (pongs, a close frame). The rest of the connection asks it what a message
looks like on the wire, how closing stands (:attr:`Engine.close_reason`) and
when a keepalive ping is due. It never waits, never writes and never starts a
task; the only thing it wakes is a ping's sender when the pong comes, and what
it says goes to the ``wsproto.anyio.connection`` logger (``_log.py``). So
whichever driver runs a connection (a reader task, the asyncio data callback,
a parked connection), the decisions are the same.

It also gathers the pieces of a message that arrives over several reads (see
``_inbox.py`` for how they are handed over) and enforces ``max_fragments``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

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

from . import _log
from ._errors import CloseReason, ConnectionClosed, Endpoint
from ._handshake import Handshake
from ._inbox import Fragment, Item
from ._pings import Pings

__all__ = ["HANDOVER_SIZE", "REJECTED", "Engine", "Failure"]

#: A message arriving over several reads is handed to get_message() in pieces
#: of about this size (chunks() gets each read's share at once).
HANDOVER_SIZE = 1024 * 1024

_OPEN = ConnectionState.OPEN
_REMOTE_CLOSING = ConnectionState.REMOTE_CLOSING
# Close codes of a peer closing on purpose, rather than of a failure.
_ORDERLY_CLOSES = frozenset({1000, 1001, 1005})


class Failure:
    """A local limit failed the connection: end the inbox, then write ``frame``."""

    __slots__ = ("frame",)

    def __init__(self, frame: bytes) -> None:
        self.frame = frame


class _Rejected:
    """The server's rejection is complete (its status, headers and body are in)."""

    __slots__ = ()


#: What :meth:`Engine.next` returns once a rejection is complete.
REJECTED = _Rejected()

Step = Item | Request | AcceptConnection | CloseConnection | Failure | _Rejected


class Engine:
    """The state and the decisions of one connection (see the module's docstring)."""

    # An idle server holds one per connection: slots, and nothing per message.
    __slots__ = (
        "_clock",
        "_discarding",
        "_ended",
        "_events",
        "_frames",
        "_max_fragments",
        "_parts",
        "_parts_size",
        "_streaming",
        "close_reason",
        "handshake",
        "handshake_headers",
        "keepalive_busy",
        "keepalive_next",
        "log_id",
        "path",
        "pings",
        "remote",
        "subprotocol",
        "ws",
    )

    def __init__(
        self,
        ws: WSConnection,
        handshake: Handshake,
        *,
        path: str | None,
        max_fragments: int | None,
        clock: Callable[[], float] = time.monotonic,
        log_id: int = 0,
        remote: Endpoint | str | None = None,
    ) -> None:
        self.ws = ws
        #: Who the connection's records name (see _log.py).
        self.log_id = log_id
        self.remote = remote
        self._ended = False
        #: Until the connection is open; then dropped (see _handshake.py).
        self.handshake: Handshake | None = handshake
        #: The request target: the client's own, or the one a server received.
        self.path = path
        self.subprotocol: str | None = None
        #: The other side's handshake headers (see WebSocketConnection.handshake_headers).
        self.handshake_headers: tuple[tuple[bytes, bytes], ...] = ()
        #: Why the connection closed (or is closing), or None while it is open.
        self.close_reason: CloseReason | None = None
        self.pings = Pings()
        self.keepalive_next: float | None = None  # when the next keepalive ping is due
        self.keepalive_busy = False  # a keepalive ping is in flight
        self._clock = clock
        self._events: Iterator[Event] | None = None
        self._discarding = False  # a local limit failed the connection: drop messages
        self._max_fragments = max_fragments
        # The message being gathered over several reads.
        self._parts: list[str | bytes] = []
        self._parts_size = 0
        self._frames = 0
        self._streaming = False  # part of it went to the inbox already

    @property
    def client(self) -> bool:
        return self.ws.client

    # Reading

    def feed(self, data: bytes | None) -> None:
        """Take bytes read from the transport (``None``: its end).

        Raises:
            RemoteProtocolError: the peer broke the opening handshake (see
                :meth:`handshake_failed`).
        """
        self.ws.receive_data(data)
        self._events = iter(self.ws.events())

    def next(self, out: list[bytes]) -> Step | None:
        """Handle what was fed until something needs the driver, and return it.

        ``str``, ``bytes`` or a :class:`Fragment`: an item for the inbox. A
        ``Request`` or ``AcceptConnection``: the handshake's news. A
        ``CloseConnection``: the peer's close (or a violation the core found),
        for :meth:`wants_grace` and :meth:`answer_close`. A :class:`Failure`
        or :data:`REJECTED`: the connection is over. ``None``: nothing is left.
        Bytes to write back (pongs, a failure's close frame) go to ``out``.
        """
        events = self._events
        if events is None:
            return None
        ws = self.ws
        for event in events:
            cls = type(event)
            if cls is BytesMessage or cls is TextMessage:
                if self._discarding:
                    continue
                assert isinstance(event, Message)
                item = self._gather(event)
                if item is not None:
                    return item
            elif cls is Ping:
                assert isinstance(event, Ping)
                _log.ping_received(self.log_id, self.remote, event.payload)
                if ws.state is _OPEN:
                    out.append(ws.send(event.response()))
            elif cls is Pong:
                assert isinstance(event, Pong)
                latency = self.pings.answer(event.payload, self._clock())
                _log.pong_received(self.log_id, self.remote, event.payload, latency)
            elif cls is CloseConnection:
                assert isinstance(event, CloseConnection)
                self._log_close(event)
                if ws.state is not _OPEN:
                    # A close frame: the peer's word counts from now on, so
                    # a send refused from here on reports it (not 1006). A
                    # violation the core found (state still OPEN) is decided
                    # only after the grace period: see wants_grace.
                    self._take_peer_reason(event)
                return event
            elif cls is Request or cls is AcceptConnection:
                assert isinstance(event, Request | AcceptConnection)
                self._opened(event)
                return event
            else:
                assert self.handshake is not None  # a rejection comes before the connection is open
                if self.handshake.add_rejection(event):
                    return REJECTED
        self._events = None
        return None

    def unfinished(self, wanted: bool) -> Fragment | None:
        """After a read: the gathered part of an unfinished message, if it should go over now.

        It should when the application waits for pieces (``wanted``: chunks()
        runs), or once HANDOVER_SIZE has gathered (each handover costs a task
        switch, or several).
        """
        parts = self._parts
        if not parts or not (wanted or self._parts_size >= HANDOVER_SIZE):
            return None
        data = _join(parts)
        parts.clear()
        self._parts_size = 0
        self._streaming = True
        return Fragment(data, False)

    def _gather(self, event: Message[Any]) -> Item | Failure | None:
        parts = self._parts
        data: str | bytes = event.data
        if event.message_finished and not parts and not self._streaming:
            return data
        parts.append(data)
        self._parts_size += len(data)
        if event.frame_finished and self._max_fragments is not None:
            self._frames += 1
            if self._frames > self._max_fragments:
                detail = "more than %d frames in one message"
                self.log_limit("max_fragments", detail, self._max_fragments, close_code=1009)
                parts.clear()
                self._parts_size = 0
                return self.fail(1009, "too many fragments in one message")
        if not event.message_finished:
            return None
        data = _join(parts)
        parts.clear()
        self._parts_size = 0
        self._frames = 0
        if self._streaming:
            self._streaming = False
            return Fragment(data, True)
        return data

    # The opening handshake

    def _opened(self, event: Request | AcceptConnection) -> None:
        handshake = self.handshake
        assert handshake is not None  # these events come before the connection is open
        if isinstance(event, Request):
            handshake.request = event
            self.path = event.target
        else:
            self.subprotocol = event.subprotocol
        self.handshake_headers = tuple(event.extra_headers)

    def handshake_failed(self, exc: RemoteProtocolError) -> bytes | None:
        """The peer broke the opening handshake; the answer to send (a server's 400), if any."""
        if self.handshake is not None:
            self.handshake.failed(exc)
        if not self.ws.client:  # a client's caller gets the error (and _client logs it)
            hint = exc.event_hint
            if isinstance(hint, RejectConnection) and hint.status_code == 431:
                detail = "the opening handshake is over its size limit"
                self.log_limit("handshake_size", detail, status=431, logger=_log.server_logger)
            else:
                _log.handshake_failed(_log.server_logger, self.log_id, self.remote, exc)
        if exc.event_hint is None or self.ws.client:
            return None
        try:
            return self.ws.send(exc.event_hint)
        except LocalProtocolError:
            return None

    def accept(
        self, subprotocol: str | None, extra_headers: Headers | None, extensions: list[Extension]
    ) -> bytes:
        """A server's handler accepts: the response to write. Raises LocalProtocolError."""
        event = AcceptConnection(
            subprotocol=subprotocol, extensions=extensions, extra_headers=extra_headers or []
        )
        data = self.ws.send(event)  # raises LocalProtocolError for a bad subprotocol
        self.subprotocol = subprotocol
        return data

    def reject(self, status_code: int, extra_headers: Headers | None, body: bytes | None) -> bytes:
        """A server's handler rejects: the response to write. Raises LocalProtocolError."""
        headers = list(extra_headers or [])
        if body:
            headers.append((b"Content-Length", str(len(body)).encode()))
        data = self.ws.send(RejectConnection(status_code, headers, has_body=bool(body)))
        if body:
            data += self.ws.send(RejectData(body))
        self.close_reason = CloseReason(1006, "rejected")
        return data

    def drop_handshake(self) -> Handshake | None:
        """The connection is open (or over): nothing of the handshake is needed any more."""
        handshake, self.handshake = self.handshake, None
        return handshake

    # Sending

    def serialize(self, event: Event, *, split: bool = False) -> bytes | list[bytes]:
        """The bytes of ``event``; ``split``: a large message's header and payload apart.

        Raises:
            ConnectionClosed: the connection is closing or closed.
        """
        try:
            if split:
                parts = self.ws.send_with_data_passthrough(event)
                return parts[0] if len(parts) == 1 else parts
            return self.ws.send(event)
        except LocalProtocolError:
            raise ConnectionClosed(self.close_reason or CloseReason(1006, None)) from None

    def close_frame(self, event: CloseConnection) -> bytes | None:
        """The bytes of a close frame, or ``None`` if one went out already."""
        try:
            frame = self.ws.send(event)
        except LocalProtocolError:
            return None
        _log.close_sent(self.log_id, self.remote, event.code, event.reason)
        return frame

    # Closing

    @property
    def open(self) -> bool:
        return self.ws.state is _OPEN

    @property
    def closing_locally(self) -> bool:
        """Whether our close frame went out and the peer's has not come yet."""
        return self.ws.state is ConnectionState.LOCAL_CLOSING

    @property
    def connecting(self) -> bool:
        return self.ws.state is ConnectionState.CONNECTING

    def start_close(self, code: int, reason: str | None) -> CloseConnection | None:
        """The application closes: the close frame to send, if the connection is still open."""
        if self.close_reason is not None:
            return None
        self.close_reason = CloseReason(code, reason)
        return CloseConnection(code, reason) if self.ws.state is _OPEN else None

    def fail(self, code: int, reason: str) -> Failure:
        """A local limit fails the connection: messages from now on are dropped."""
        self._discarding = True
        if self.close_reason is None:
            self.close_reason = CloseReason(code, reason)
        return Failure(self.close_frame(CloseConnection(code, reason)) or b"")

    def wants_grace(self, event: CloseConnection) -> bool:
        """Whether the application may answer what came before ``event`` before it is answered.

        When a frame fails the connection (1002, 1007, 1009 ...) the core
        leaves the state OPEN, the peer is still reading, and RFC 6455 §5.5.1
        lets us finish sending first. After an orderly close from the peer
        there is no point: it discards what we send once it has sent its
        close (§1.4).
        """
        return self.ws.state is _OPEN and event.code not in _ORDERLY_CLOSES

    def answer_close(self, event: CloseConnection) -> CloseConnection | None:
        """After the peer's close (and any grace): the reply to send, if one is due."""
        state = self.ws.state
        # OPEN: the core reported a peer's protocol violation, which leaves
        # the state alone until it is answered (as wsproto 1.x does).
        self._take_peer_reason(event)
        if state is _REMOTE_CLOSING or state is _OPEN:
            return event.response()
        return None

    def _take_peer_reason(self, event: CloseConnection) -> None:
        # The peer's word is final, whoever started the close. (1006 is never
        # sent, RFC 6455 §7.4.1: it is the core reporting the end of the
        # transport, which changes nothing once the reason is known.)
        reason = self.close_reason
        if reason is None or (reason.code != event.code and event.code != 1006):
            self.close_reason = CloseReason(event.code, event.reason or None)

    def closed_error(self) -> ConnectionClosed:
        """What the application's calls raise once the connection is over."""
        return ConnectionClosed(self.close_reason)

    def ended(self) -> CloseReason:
        """The transport is gone: the connection is over (1006 unless the reason is known)."""
        if self.close_reason is None:
            self.close_reason = CloseReason(1006, None)
        if not self._ended:  # once: the teardown and the reader's end both come here
            self._ended = True
            reason = self.close_reason
            _log.closed(self.log_id, self.remote, reason.code, reason.reason)
        return self.close_reason

    def _log_close(self, event: CloseConnection) -> None:
        if self.ws.state is _OPEN:
            # The core failed the connection: the peer broke the protocol, or
            # a message grew past max_message_size (the core's only 1009).
            if event.code == 1009:
                self.log_limit("max_message_size", "%s", event.reason, close_code=1009)
            else:
                _log.protocol_error(self.log_id, self.remote, event.code, event.reason)
        elif event.code != 1006:  # 1006: the transport ended, never a frame's code
            _log.close_received(self.log_id, self.remote, event.code, event.reason)

    def log_limit(
        self,
        name: str,
        detail: str,
        *args: object,
        close_code: int | None = None,
        status: int | None = None,
        logger: logging.Logger = _log.connection_logger,
    ) -> None:
        """Log that the limit ``name`` fired on this connection (see ``_log.limit``)."""
        _log.limit(
            logger,
            self.log_id,
            self.remote,
            name,
            detail,
            *args,
            close_code=close_code,
            status=status,
        )

    # Keepalive

    def keepalive_due(self, now: float, interval: float) -> bool:
        """Whether a keepalive ping should go out now.

        Due ``interval`` after the connection was first seen open, then after
        each ping's answer; never while a keepalive ping is in flight.
        """
        if self.keepalive_busy or self.ws.state is not _OPEN:
            return False
        if self.keepalive_next is None:
            self.keepalive_next = now + interval
        return now >= self.keepalive_next


def _join(parts: list[str | bytes]) -> str | bytes:
    return "".join(parts) if isinstance(parts[0], str) else b"".join(parts)  # type: ignore[arg-type]
