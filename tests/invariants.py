"""The invariants the fuzzers check, shared by the stateful tests and the atheris targets.

:class:`CheckedConnection` and :class:`CheckedHandshake` wrap a core object;
every call through them asserts what the manual and DESIGN.md promise:

* only documented exceptions escape: :class:`LocalProtocolError` for local
  misuse (and a refused ``send`` changes nothing), :class:`RemoteProtocolError`
  from the opening handshake; ``receive_data`` of a connection raises nothing
  unless it is ``CLOSED``, and then always :class:`LocalProtocolError`;
* every state change is one the tables below allow;
* the first ``CloseConnection`` is the last event a connection yields, except
  that every ``receive_data(None)`` yields one ``CloseConnection(1006)`` (after
  the events of what came before it), even after a close; the application may
  always answer the first close with ``send(event.response())``;
* what ``send`` returns is one frame of the right kind: text or binary by the
  data's type, FIN as ``message_finished``, masked by a client only, and a
  close carries the code the documentation says (none for ``None`` or
  ``CloseReason.NO_STATUS_RCVD``, 1000 for 1005, 1006 and 1015);
* the opening handshake: a failure leaves the state as it was; a later
  ``receive_data`` raises the same error again or is ignored, consistently;
  ``receive_data(b"")`` or ``(None)`` ends the transport, and data after it
  raises a :class:`LocalProtocolError` that is also a ``RuntimeError``;
* what the core holds stays bounded: the unparsed receive buffer between
  reads, each event's data, each message against ``max_message_size``.

This is the behaviour of docs/compatibility.md (as wsproto 1.3.2 where a
program can tell): after a peer's protocol violation the state stays as it
was until the application answers the close.
"""

from __future__ import annotations

import struct
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
from wsproto.frame_protocol import CloseReason
from wsproto.handshake import MAX_HANDSHAKE_SIZE
from wsproto.utilities import LocalProtocolError, RemoteProtocolError

S = ConnectionState
Operation = Literal["send_data", "send_control", "send_close", "receive", "eof"]

#: What an operation may do to an open :class:`Connection`'s state.
CONNECTION_TRANSITIONS: dict[tuple[ConnectionState, Operation], frozenset[ConnectionState]] = {
    (S.OPEN, "send_data"): frozenset({S.OPEN}),
    (S.OPEN, "send_control"): frozenset({S.OPEN}),
    (S.OPEN, "send_close"): frozenset({S.LOCAL_CLOSING}),
    # The peer's close frame; a violation leaves the state until answered.
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
    # The peer's answer; a violation leaves the state until the transport closes.
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

# Close codes an endpoint may send (RFC 6455 §7.4), including the registered 1012-1014.
_SENDABLE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})
# Local-only codes (§7.4.1): sending one sends 1000, as wsproto 1.x does.
_LOCAL_ONLY_CODES = frozenset({1005, 1006, 1015})


def close_code_sendable(code: int) -> bool:
    """Whether ``send(CloseConnection(code))`` must work (a local-only code sends 1000)."""
    return code in _SENDABLE_CODES or code in _LOCAL_ONLY_CODES or 3000 <= code <= 4999


def close_without_code(event: CloseConnection) -> bool:
    """Whether ``event`` sends a close frame without a code (``None``, or the member 1005)."""
    code: object = event.code
    return code is None or code is CloseReason.NO_STATUS_RCVD


def event_valid(event: Event) -> bool:
    """Whether ``event`` is valid to send on an open connection."""
    if isinstance(event, Ping | Pong):
        return len(event.payload) <= 125
    if isinstance(event, Message):
        # The data's type decides text or binary, whichever class carries it.
        data: object = event.data
        return isinstance(data, str | bytes | bytearray | memoryview)
    if isinstance(event, CloseConnection):
        if close_without_code(event):
            return not event.reason  # a reason needs a code
        return close_code_sendable(event.code)
    return False


def sent_frame(data: bytes, masked: bool) -> tuple[int, bytes]:
    """The first byte and the unmasked payload of the one frame ``data`` holds."""
    assert len(data) >= 2, data
    assert bool(data[1] & 0x80) is masked, "a client masks its frames, a server does not"
    length = data[1] & 0x7F
    pos = 2
    if length == 126:
        (length,) = struct.unpack_from("!H", data, pos)
        pos += 2
    elif length == 127:
        (length,) = struct.unpack_from("!Q", data, pos)
        pos += 8
    key = b""
    if masked:
        key = data[pos : pos + 4]
        pos += 4
    payload = data[pos:]
    assert len(payload) == length, "send returned more or less than one frame"
    if masked:
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return data[0], payload


def expected_close_payload(event: CloseConnection) -> tuple[int | None, bytes]:
    """The code a valid close sends (``None``: no payload at all), and its whole reason."""
    reason = (event.reason or "").encode()
    if close_without_code(event):
        return None, b""
    if event.code in _LOCAL_ONLY_CODES:
        return 1000, reason
    return int(event.code), reason


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
        eofs: How many ends of the transport it was told of before (an open
            :class:`WSConnection` whose handshake saw one).
    """

    def __init__(
        self,
        conn: Connection | WSConnection,
        *,
        max_message_size: int | None = None,
        state: Callable[[], ConnectionState] | None = None,
        eofs: int = 0,
    ) -> None:
        self.conn = conn
        self.max_message_size = max_message_size
        self._state = state or (lambda: conn.state)
        self.events: list[Event] = []
        self.close: CloseConnection | None = None  # the first close event received, if any
        self.sent_close = False
        self.eofs = eofs  # receive_data(None) calls: each yields one CloseConnection(1006)
        self.eof_closes = 0  # the CloseConnection(1006) events seen
        self._message_kind: type[Message[str]] | type[Message[bytes]] | None = None
        self._message_size = 0
        self._sending: bool | None = None  # the kind (text?) of the message being sent
        self._compressed = False  # whether the message being sent is compressed

    @property
    def eof(self) -> bool:
        """Whether the transport's end was fed."""
        return self.eofs > 0

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
            if isinstance(event, Message) and before is S.REMOTE_CLOSING and self._sending is None:
                # After the peer's close only a message already begun may be
                # finished (RFC 6455 §5.5.1); a new one is refused, as in 1.x.
                state_allows = False
            assert not (state_allows and valid), f"{event!r} refused in state {before.name}"
            assert self.state is before, "a refused send changed the state"
            return None
        assert isinstance(data, bytes)
        assert before in _SEND_ALLOWED.get(operation, frozenset()), (
            f"{event!r} accepted in state {before.name}"
        )
        assert event_valid(event), f"invalid {event!r} accepted"
        assert not (
            isinstance(event, Message) and before is S.REMOTE_CLOSING and self._sending is None
        ), f"a new message {event!r} accepted after the peer's close"
        self._check_frame(event, data)
        if isinstance(event, Message):
            assert self._may_continue(event), f"{event!r} accepted inside another kind of message"
            self._sending = None if event.message_finished else isinstance(event.data, str)
        if operation == "send_close":
            assert not self.sent_close, "a second close was accepted"
            self.sent_close = True
        self._transition(before, operation)
        return data

    def _check_frame(self, event: Event, data: bytes) -> None:
        """``data`` is the one frame that sends ``event``, as documented."""
        first, payload = sent_frame(data, masked=self.conn.client)
        opcode = first & 0x0F
        if isinstance(event, Message):
            # The data's type decides text (1) or binary (2), as in wsproto 1.x.
            kind = 0x1 if isinstance(event.data, str) else 0x2
            assert opcode == (kind if self._sending is None else 0x0), (
                f"{event!r} sent with opcode {opcode}"
            )
            assert bool(first & 0x80) is event.message_finished, "FIN is not message_finished"
            if self._sending is None:
                self._compressed = bool(first & 0x40)  # RSV1 (RFC 7692 §6) on the first frame
            else:
                assert not first & 0x70, "RSV bits on a continuation frame"
            if not self._compressed:  # the data as it is
                data_bytes = event.data.encode() if isinstance(event.data, str) else event.data
                assert payload == data_bytes, f"{event!r} sent as {payload!r}"
        elif isinstance(event, Ping | Pong):
            assert first == 0x80 | (0x9 if isinstance(event, Ping) else 0xA)
            assert payload == event.payload
        else:
            assert isinstance(event, CloseConnection)
            assert first == 0x88, f"a close sent as {first:#x}"
            code, reason = expected_close_payload(event)
            if code is None:
                assert payload == b"", f"{event!r} sent as {payload!r}"
                return
            assert payload[:2] == struct.pack("!H", code), f"{event!r} sent as {payload!r}"
            sent_reason = payload[2:]
            if len(reason) <= 123:
                assert sent_reason == reason, f"{event!r} sent as {payload!r}"
            else:
                # A long reason is cut at a character boundary to fit in 125 bytes.
                assert reason.startswith(sent_reason), f"{event!r} sent as {payload!r}"
                assert 120 <= len(sent_reason) <= 123
                sent_reason.decode("utf-8")

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

    def _receive_data(self, data: bytes | None) -> bool:
        """``receive_data``: it raises if and only if the connection is CLOSED and data came."""
        closed = self.state is S.CLOSED
        try:
            self.conn.receive_data(data)
        except LocalProtocolError:
            assert closed, f"receive_data raised in state {self.state.name}"
            assert data is not None, "receive_data(None) raised"
            assert self.state is S.CLOSED
            return False
        assert not closed or data is None, "receive_data on a CLOSED connection did not raise"
        return True

    def receive(self, data: bytes | None) -> list[Event]:
        """Feed ``data`` (``None``: end of stream), drain the events, check them."""
        before = self.state
        operation: Operation = "eof" if data is None else "receive"
        if data is None:
            self.eofs += 1
        if not self._receive_data(data):
            return []
        events = list(self.conn.events())
        self._transition(before, operation)
        self._check_events(events, 0 if data is None else len(data))
        conn = self.conn.connection if isinstance(self.conn, WSConnection) else self.conn
        if conn is not None:
            assert unparsed(conn) <= MAX_UNPARSED, f"{unparsed(conn)} bytes unparsed"
        if data is None:
            # §7.1.5: the connection reports its end, after what came before.
            assert events, "no event after the end of stream"
            last = events[-1]
            assert isinstance(last, CloseConnection), f"{last!r} after the end of stream"
            assert last.code == 1006, f"{last!r} after the end of stream"
        return events

    def receive_interleaved(self, chunks: list[bytes]) -> list[Event]:
        """Feed one chunk per event pulled, as an application may from inside its events() loop.

        The chunks left when the events run out are fed one by one, each drained.
        """
        before = self.state
        pending = list(chunks)
        events: list[Event] = []
        while pending:
            if not self._receive_data(pending.pop(0)):
                break
            refused = False
            for event in self.conn.events():
                events.append(event)
                if pending and not self._receive_data(pending.pop(0)):
                    refused = True
                    break
            if refused:
                break
        self._transition(before, "receive")
        self._check_events(events, sum(len(chunk) for chunk in chunks))
        conn = self.conn.connection if isinstance(self.conn, WSConnection) else self.conn
        if conn is not None:
            assert unparsed(conn) <= MAX_UNPARSED, f"{unparsed(conn)} bytes unparsed"
        return events

    def _check_events(self, events: list[Event], read: int) -> None:
        for event in events:
            if isinstance(event, CloseConnection) and event.code == 1006:
                # Only the end of the transport makes a 1006 (§7.1.5; a peer may not send it).
                assert event.reason is None, event
                self.eof_closes += 1
                assert self.eof_closes <= self.eofs, f"{event!r} without an end of stream"
            else:
                assert self.close is None, f"{event!r} after {self.close!r}"
            if isinstance(event, CloseConnection):
                if self.close is None:
                    self.close = event
            elif isinstance(event, Message):
                self._check_message(event, read)
            else:
                assert isinstance(event, Ping | Pong), f"unexpected {event!r}"
                assert len(event.payload) <= 125
        # Every receive_data(None) yields its CloseConnection(1006), even after a close.
        assert self.eof_closes == self.eofs, f"{self.eofs} ends of stream, {self.eof_closes} 1006s"
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
        self.failure: RemoteProtocolError | None = None  # the error it raised
        self.repeats: bool | None = None  # whether later receive_data calls raise it again
        self.eof_fed = False  # receive_data(None), or b"" during the handshake
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
                self.ws,
                max_message_size=self.max_message_size,
                state=lambda: self.ws.state,
                # A server that accepts after the end of the transport reports it once open.
                eofs=1 if self.eof_fed else 0,
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
        if isinstance(event, RejectData):
            assert before is S.REJECTING, f"{event!r} accepted in state {before.name}"
        else:
            assert before is S.CONNECTING, f"{event!r} accepted in state {before.name}"
        if isinstance(event, AcceptConnection):
            assert not self.failed, "AcceptConnection accepted after the request was invalid"
        if isinstance(event, RejectConnection):
            assert event.status_code >= 200, f"{event!r} accepted"
        after = self.ws.state
        assert after in HANDSHAKE_TRANSITIONS[before], f"{before.name} -> {after.name}"
        self._maybe_open()
        return data

    def receive(self, data: bytes | None) -> list[Event]:
        """Feed ``data`` and drain the events; a broken handshake is recorded, not raised."""
        if self.opened is not None:
            if data is None:
                self.eof_fed = True
            events = self.opened.receive(data)
            self.events.extend(events)
            return events
        before = self.ws.state
        ended = self.eof_fed
        error: RemoteProtocolError | LocalProtocolError | None = None
        try:
            self.ws.receive_data(data)
        except (RemoteProtocolError, LocalProtocolError) as exc:
            error = exc
        if not data:
            self.eof_fed = True  # b"" too: the end of the transport, as in 1.x and h11
        if isinstance(error, RemoteProtocolError):
            # What came before the bad bytes (a Request, a rejection's start) still counts.
            events = list(self.ws.events())
            self._check_handshake_events(events)
            self._failure(error, before, events)
            return []
        if error is not None:
            # Data after the end of the transport: h11's RuntimeError in 1.x.
            assert ended, f"receive_data raised {error!r}"
            assert data, f"receive_data raised {error!r}"
            assert isinstance(error, RuntimeError), f"{error!r} is not a RuntimeError"
            assert self.ws.state is before
            return []
        assert not (ended and data), "data after the end of the transport was accepted"
        after = self.ws.state
        if self.ws.connection is None:
            assert after in HANDSHAKE_TRANSITIONS[before], f"{before.name} -> {after.name}"
            assert handshake_buffered(self.ws) <= MAX_HANDSHAKE_SIZE
        events = list(self.ws.events())
        if self.failure is not None or ended:
            # The handshake is broken (not raised again) or over: nothing happens.
            if self.failure is not None:
                assert self.repeats is not True, "the handshake's error was not raised again"
                self.repeats = False
            assert after is before, f"{before.name} -> {after.name} after the handshake ended"
            assert not events, f"{events!r} after the handshake ended"
            return []
        self._maybe_open()
        if self.opened is not None:
            handshake = [e for e in events if isinstance(e, AcceptConnection)]
            rest = [e for e in events if not isinstance(e, AcceptConnection)]
            self.opened._check_events(rest, 0 if data is None else len(data) + MAX_HANDSHAKE_SIZE)
            assert len(handshake) <= 1
        else:
            self._check_handshake_events(events)
            return events
        self.events.extend(events)
        return events

    def _check_handshake_events(self, events: list[Event]) -> None:
        for event in events:
            assert isinstance(event, Request | RejectConnection | RejectData), event
            assert isinstance(event, Request) != self.client
        self.events.extend(events)

    def _failure(
        self, error: RemoteProtocolError, before: ConnectionState, events: list[Event]
    ) -> None:
        """Check a handshake failure: the first, or the same one raised again."""
        # The state stays as the bytes before the bad ones left it (1.x: a failed
        # handshake stays CONNECTING; a rejection whose body breaks, REJECTING).
        rejecting = any(isinstance(e, RejectConnection) and e.has_body for e in events)
        expected = S.REJECTING if rejecting else before
        assert self.ws.state is expected, f"a failed handshake moved to {self.ws.state.name}"
        first = self.failure
        if first is not None:
            # Malformed HTTP raises again on every later call, as h11 does in 1.x.
            assert self.repeats is not False, "an ignored failure was raised again"
            self.repeats = True
            assert type(error) is type(first), (error, first)
            assert str(error) == str(first), (error, first)
            assert error.event_hint == first.event_hint, (error, first)
            return
        if before is S.CLOSED:
            # The handshake is over (a client got its answer; a server answered
            # before any request, as 1.x allows): h11 still reads, as in 1.x, and
            # fails on what breaks HTTP; a hint can no longer be sent, and the
            # state stays CLOSED.
            self.failed = True
            self.failure = error
            return
        assert before in (S.CONNECTING, S.REJECTING), f"RemoteProtocolError in {before.name}"
        self.failed = True
        self.failure = error
        hint = error.event_hint
        if self.client:
            # RFC 6455 §4.1: the client fails the connection, it has nothing to send.
            assert hint is None, hint
            return
        # The manual: a server sends the hint, a rejection, then closes.
        assert isinstance(hint, RejectConnection), hint
        answer = self.send(hint)
        assert answer is not None, f"the hint {hint!r} could not be sent"
        assert self.ws.state in (S.REJECTING, S.CLOSED)
