"""The invariants the fuzzers check, shared by the stateful tests and the atheris targets.

:class:`CheckedConnection` and :class:`CheckedHandshake` wrap a core object;
every call through them asserts what the manual and DESIGN.md promise:

* only documented exceptions escape: :class:`LocalProtocolError` for local
  misuse, :class:`RemoteProtocolError` from the opening handshake, nothing from
  ``receive_data`` of a connection that is not yet ``CLOSED``;
* every state change is one the tables below allow;
* a ``CloseConnection`` is the last event a connection yields, and the
  application may always answer it with ``send(event.response())``;
* what the core holds stays bounded: the unparsed receive buffer between
  reads, each event's data, each message against ``max_message_size``.

The tables allow both the current behaviour and wsproto 1.x's where they
differ (after a protocol violation 1.x keeps the state until the
application answers; ``receive_data`` after ``CLOSED`` raises
:class:`LocalProtocolError` there), so the checks hold for either.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from wsproto import WSConnection
from wsproto._deflate import INFLATE_CHUNK_SIZE
from wsproto.connection import Connection, ConnectionState
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
from wsproto.handshake import MAX_HANDSHAKE_SIZE
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

S = ConnectionState
Operation = Literal["send_data", "send_control", "send_close", "receive", "eof"]

#: What an operation may do to an open :class:`Connection`'s state.
CONNECTION_TRANSITIONS: dict[tuple[ConnectionState, Operation], frozenset[ConnectionState]] = {
    (S.OPEN, "send_data"): frozenset({S.OPEN}),
    (S.OPEN, "send_control"): frozenset({S.OPEN}),
    (S.OPEN, "send_close"): frozenset({S.LOCAL_CLOSING}),
    # The peer's close frame; a violation (1.x: the state waits for the answer).
    (S.OPEN, "receive"): frozenset({S.OPEN, S.REMOTE_CLOSING}),
    (S.OPEN, "eof"): frozenset({S.CLOSED}),
    (S.REMOTE_CLOSING, "send_data"): frozenset({S.REMOTE_CLOSING}),
    (S.REMOTE_CLOSING, "send_control"): frozenset({S.REMOTE_CLOSING}),
    (S.REMOTE_CLOSING, "send_close"): frozenset({S.CLOSED}),
    (S.REMOTE_CLOSING, "receive"): frozenset({S.REMOTE_CLOSING}),
    (S.REMOTE_CLOSING, "eof"): frozenset({S.CLOSED}),
    (S.LOCAL_CLOSING, "send_data"): frozenset({S.LOCAL_CLOSING}),
    (S.LOCAL_CLOSING, "send_control"): frozenset({S.LOCAL_CLOSING}),
    (S.LOCAL_CLOSING, "send_close"): frozenset({S.LOCAL_CLOSING}),
    # The peer's answer; a violation (1.x: stays until the transport closes).
    (S.LOCAL_CLOSING, "receive"): frozenset({S.LOCAL_CLOSING, S.CLOSED}),
    (S.LOCAL_CLOSING, "eof"): frozenset({S.CLOSED}),
    (S.CLOSED, "send_data"): frozenset({S.CLOSED}),
    (S.CLOSED, "send_control"): frozenset({S.CLOSED}),
    (S.CLOSED, "send_close"): frozenset({S.CLOSED}),
    (S.CLOSED, "receive"): frozenset({S.CLOSED}),
    (S.CLOSED, "eof"): frozenset({S.CLOSED}),
}

#: The opening handshake's states (H11Handshake, or WSConnection before OPEN).
HANDSHAKE_TRANSITIONS: dict[ConnectionState, frozenset[ConnectionState]] = {
    S.CONNECTING: frozenset({S.CONNECTING, S.OPEN, S.REJECTING, S.CLOSED}),
    S.REJECTING: frozenset({S.REJECTING, S.CLOSED}),
    S.CLOSED: frozenset({S.CLOSED}),
}

# Which operations may raise LocalProtocolError in which state, whatever the event.
_SEND_ALLOWED: dict[Operation, frozenset[ConnectionState]] = {
    "send_data": frozenset({S.OPEN, S.REMOTE_CLOSING}),
    "send_control": frozenset({S.OPEN}),
    "send_close": frozenset({S.OPEN, S.REMOTE_CLOSING}),
}

#: Between reads, the receive buffer holds at most an incomplete frame header
#: (2 + 8 + 4 bytes) or an incomplete control frame (2 + 4 + 125 bytes).
MAX_UNPARSED = 14 + 125
#: What a data event may carry beyond the bytes of the read that produced it:
#: what was left unparsed from before, and an incomplete UTF-8 character.
EVENT_SLACK = MAX_UNPARSED + 3

# Close codes an endpoint may send (RFC 6455 §7.4). 1005, 1006 and 1015 are
# local-only; 1.x lets them be sent, so either answer is accepted for them.
_LOCAL_ONLY_CODES = frozenset({1005, 1006, 1015})


def close_code_sendable(code: int) -> bool | None:
    """Whether ``send(CloseConnection(code))`` must work; ``None`` if either way is fine."""
    if code in _LOCAL_ONLY_CODES:
        return None
    return code in {1000, 1001, 1002, 1003, *range(1007, 1015)} or 3000 <= code <= 4999


def event_valid(event: Event) -> bool | None:
    """Whether ``event`` is valid to send on an open connection (``None``: either way)."""
    if isinstance(event, Ping | Pong):
        return len(event.payload) <= 125
    if isinstance(event, TextMessage):
        return isinstance(event.data, str)
    if isinstance(event, BytesMessage):
        # 1.x sends a BytesMessage holding a str as text: either way is fine.
        return True if isinstance(event.data, bytes | bytearray) else None
    if isinstance(event, CloseConnection):
        if event.code == 1005 and event.reason:
            return False
        return close_code_sendable(event.code)
    return False


def operation_of(event: Event) -> Operation:
    if isinstance(event, Message):
        return "send_data"
    if isinstance(event, CloseConnection):
        return "send_close"
    return "send_control"


def unparsed(conn: Connection) -> int:
    """Bytes received and not yet parsed (white box: the one place that looks inside)."""
    receiver = conn._receiver
    return len(receiver._buf) - receiver._pos


def handshake_buffered(ws: WSConnection) -> int:
    """Bytes the handshake holds (h11's buffer; white box like :func:`unparsed`)."""
    h11_connection = ws.handshake._h11_connection
    if h11_connection is None:
        return 0
    return len(h11_connection.trailing_data[0])


class CheckedConnection:
    """A :class:`Connection` (or an open :class:`WSConnection`) whose every use is checked.

    Args:
        conn: The connection to drive.
        max_message_size: The limit it was built with, checked on what it delivers.
        state: Reads the state (``conn.state`` unless given).
    """

    def __init__(
        self,
        conn: Connection | WSConnection,
        *,
        max_message_size: int | None = None,
        state: Callable[[], ConnectionState] | None = None,
    ) -> None:
        self.conn = conn
        self.max_message_size = max_message_size
        self._state = state or (lambda: conn.state)
        self.events: list[Event] = []
        self.close: CloseConnection | None = None  # the close event received, if any
        self.sent_close = False
        self.eof = False
        self._message_kind: type[Message[str]] | type[Message[bytes]] | None = None
        self._message_size = 0
        self._sending: bool | None = None  # the kind (text?) of the message being sent

    @property
    def state(self) -> ConnectionState:
        return self._state()

    def _transition(self, before: ConnectionState, operation: Operation) -> None:
        after = self.state
        allowed = CONNECTION_TRANSITIONS[before, operation]
        assert after in allowed, f"{operation} moved {before.name} to {after.name}"

    def send(self, event: Event) -> bytes | None:
        """Send ``event``; ``None`` if it was refused with :class:`LocalProtocolError`."""
        before = self.state
        operation = operation_of(event)
        try:
            data = self.conn.send(event)
        except LocalProtocolError:
            valid = event_valid(event)
            if isinstance(event, Message) and not self._may_continue(event):
                valid = False
            state_allows = before in _SEND_ALLOWED.get(operation, frozenset())
            if operation == "send_close" and self.sent_close:
                state_allows = False
            assert not (state_allows and valid), f"{event!r} refused in state {before.name}"
            assert self.state is before, "a refused send changed the state"
            return None
        assert isinstance(data, bytes)
        assert before in _SEND_ALLOWED.get(operation, frozenset()), (
            f"{event!r} accepted in state {before.name}"
        )
        assert event_valid(event) is not False, f"invalid {event!r} accepted"
        if isinstance(event, Message):
            assert self._may_continue(event), f"{event!r} accepted inside another kind of message"
            self._sending = None if event.message_finished else isinstance(event.data, str)
        if operation == "send_close":
            assert not self.sent_close, "a second close was accepted"
            self.sent_close = True
        self._transition(before, operation)
        return data

    def _may_continue(self, event: Message[str] | Message[bytes]) -> bool:
        return self._sending is None or self._sending == isinstance(event.data, str)

    def answer_close(self) -> bytes | None:
        """Answer the received close as the manual says; it must work unless we closed first."""
        assert self.close is not None
        state_allows = self.state in _SEND_ALLOWED["send_close"] and not self.sent_close
        data = self.send(self.close.response())
        if state_allows:
            assert data is not None, "the close could not be answered"
            assert self.state in (S.LOCAL_CLOSING, S.CLOSED)
        return data

    def receive(self, data: bytes | None) -> list[Event]:
        """Feed ``data`` (``None``: end of stream), drain the events, check them."""
        before = self.state
        operation: Operation = "eof" if data is None else "receive"
        if data is None:
            assert not self.eof, "the machine feeds the end of stream once"
            self.eof = True
        try:
            self.conn.receive_data(data)
        except LocalProtocolError:
            assert before is S.CLOSED, f"receive_data raised in state {before.name}"
            return []
        events = list(self.conn.events())
        self._transition(before, operation)
        self._check_events(events, 0 if data is None else len(data))
        conn = self.conn.connection if isinstance(self.conn, WSConnection) else self.conn
        if conn is not None:
            assert unparsed(conn) <= MAX_UNPARSED, f"{unparsed(conn)} bytes unparsed"
        if data is None:
            # §7.1.5: the connection reports its end.
            assert self.close is not None, "no CloseConnection after the end of stream"
        return events

    def receive_interleaved(self, chunks: list[bytes]) -> list[Event]:
        """Feed one chunk per event pulled, as an application may from inside its events() loop.

        The chunks left when the events run out are fed one by one, each drained.
        """
        before = self.state
        pending = list(chunks)
        events: list[Event] = []
        while pending:
            try:
                self.conn.receive_data(pending.pop(0))
                for event in self.conn.events():
                    events.append(event)
                    if pending:
                        self.conn.receive_data(pending.pop(0))
            except LocalProtocolError:
                assert self.state is S.CLOSED, f"receive_data raised in state {self.state.name}"
                break
        self._transition(before, "receive")
        self._check_events(events, sum(len(chunk) for chunk in chunks))
        conn = self.conn.connection if isinstance(self.conn, WSConnection) else self.conn
        if conn is not None:
            assert unparsed(conn) <= MAX_UNPARSED, f"{unparsed(conn)} bytes unparsed"
        return events

    def _check_events(self, events: list[Event], read: int) -> None:
        for event in events:
            assert self.close is None, f"{event!r} after {self.close!r}"
            if isinstance(event, CloseConnection):
                self.close = event
            elif isinstance(event, Message):
                self._check_message(event, read)
            else:
                assert isinstance(event, Ping | Pong), f"unexpected {event!r}"
                assert len(event.payload) <= 125
        self.events.extend(events)

    def _check_message(self, event: Message[str] | Message[bytes], read: int) -> None:
        kind = TextMessage if isinstance(event, TextMessage) else BytesMessage
        assert isinstance(event.data, str if kind is TextMessage else bytes)
        if self._message_kind is None:
            self._message_kind = kind
        assert kind is self._message_kind, "a message changed kind half-way"
        size = len(event.data.encode() if isinstance(event.data, str) else event.data)
        assert size <= max(read + EVENT_SLACK, INFLATE_CHUNK_SIZE), f"a {size}-byte event"
        self._message_size += size
        if self.max_message_size is not None:
            assert self._message_size <= self.max_message_size, "message over the limit"
        if event.message_finished:
            assert event.frame_finished
            self._message_kind = None
            self._message_size = 0


class CheckedHandshake:
    """A :class:`WSConnection` checked through its opening handshake, then as a connection."""

    def __init__(self, ws: WSConnection, *, max_message_size: int | None = None) -> None:
        self.ws = ws
        self.client = ws.client
        self.failed = False  # the peer broke the handshake
        self.eof_fed = False
        self.events: list[Event] = []
        self.opened: CheckedConnection | None = None
        self.max_message_size = max_message_size

    @property
    def state(self) -> ConnectionState:
        return self.ws.state

    def _maybe_open(self) -> None:
        if self.opened is None and self.ws.connection is not None:
            # Frames after the 101 in the same read may already have moved it on.
            assert self.ws.state not in (S.CONNECTING, S.REJECTING)
            self.opened = CheckedConnection(
                self.ws, max_message_size=self.max_message_size, state=lambda: self.ws.state
            )

    def send(self, event: Event) -> bytes | None:
        """Send ``event``; ``None`` if refused with :class:`LocalProtocolError`."""
        if self.opened is not None:
            return self.opened.send(event)
        before = self.ws.state
        try:
            data = self.ws.send(event)
        except LocalProtocolError:
            assert self.ws.state is before, "a refused handshake event changed the state"
            return None
        assert isinstance(event, Request | AcceptConnection | RejectConnection | RejectData)
        assert isinstance(event, Request) == self.client, f"{event!r} sent by the wrong side"
        after = self.ws.state
        assert after in HANDSHAKE_TRANSITIONS[before], f"{before.name} -> {after.name}"
        self._maybe_open()
        return data

    def receive(self, data: bytes | None) -> list[Event]:
        """Feed ``data`` and drain the events; a broken handshake is recorded, not raised."""
        if data is None:
            self.eof_fed = True
        if self.opened is not None:
            events = self.opened.receive(data)
            self.events.extend(events)
            return events
        before = self.ws.state
        error: RemoteProtocolError | None = None
        try:
            self.ws.receive_data(data)
        except RemoteProtocolError as exc:
            error = exc
        if error is not None:
            assert before in (S.CONNECTING, S.REJECTING), f"RemoteProtocolError in {before.name}"
            self.failed = True
            if not self.client:
                # The manual: a server sends the hint, a rejection, then closes.
                hint = error.event_hint
                assert isinstance(hint, RejectConnection), hint
                answer = self.ws.send(hint)
                assert isinstance(answer, bytes)
                assert self.ws.state in (S.REJECTING, S.CLOSED)
            return []
        after = self.ws.state
        if self.ws.connection is None:
            assert after in HANDSHAKE_TRANSITIONS[before], f"{before.name} -> {after.name}"
        assert handshake_buffered(self.ws) <= MAX_HANDSHAKE_SIZE
        events = list(self.ws.events())
        self._maybe_open()
        if self.opened is not None:
            handshake = [e for e in events if isinstance(e, AcceptConnection)]
            rest = [e for e in events if not isinstance(e, AcceptConnection)]
            self.opened._check_events(rest, 0 if data is None else len(data) + MAX_HANDSHAKE_SIZE)
            assert len(handshake) <= 1
        else:
            for event in events:
                assert isinstance(event, Request | RejectConnection | RejectData), event
                assert isinstance(event, Request) != self.client
        self.events.extend(events)
        return events
