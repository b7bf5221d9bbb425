"""Stateful fuzzing of the core: Connection, H11Handshake and WSConnection, both roles.

Each machine drives the core with random sequences of valid and invalid
events and byte streams, fed in arbitrary chunks, and checks the invariants of
:mod:`tests.invariants` after every step (documented exceptions only, legal
state transitions, a close is last and can be answered, bounded buffers). On
top of those:

* :class:`ReceiveMachine` feeds one connection a peer's stream built by the
  test's own encoder (``tests.frames``, plus a reference deflater): valid
  messages (fragmented, UTF-8 split anywhere, compressed or not, pings in
  between), known violations, mutated frames and garbage. Everything before
  the first bad byte must come out intact and in order, and a known violation
  must close with its code (RFC 6455 §7.4.1).
* :class:`PairMachine` joins a client and a server: every message, ping and
  close either side's ``send`` accepted arrives intact and in order.
* :class:`HandshakeMachine` runs two :class:`WSConnection` through the opening
  handshake (accept or reject, subprotocols, permessage-deflate) with misuse
  thrown in, then exchanges messages.
* :class:`HandshakeInputMachine` feeds one handshake valid, mutated and garbage
  requests or responses: only :class:`RemoteProtocolError` escapes, and a
  server can always send the rejection it hints at.

Sizes: ``tests/stateful.py`` (``WSPROTO_STATEFUL=long`` for a longer run).
"""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from wsproto import WSConnection
from wsproto.connection import Connection, ConnectionState, ConnectionType
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
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason
from wsproto.handshake import client_extensions_handshake, server_extensions_handshake
from wsproto.utilities import RemoteProtocolError, generate_accept_token

from .frames import frame
from .invariants import CheckedConnection, CheckedHandshake
from .stateful import stateful_settings

S = ConnectionState
CLIENT = ConnectionType.CLIENT
SERVER = ConnectionType.SERVER

# What a stream carries, once reassembled: ("text"|"bytes", data), ("ping", payload),
# ("pong", payload), ("close", code, reason).
Item = tuple[Any, ...]

control_payloads = st.binary(max_size=125)
# Codes a peer may send (RFC 6455 §7.4): a sample of each range.
sendable_codes = st.sampled_from([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1014])
sendable_codes = sendable_codes | st.integers(3000, 4999)
reasons = st.text(max_size=20)
# Local-only codes (RFC 6455 §7.4.1): sending one sends 1000, as wsproto 1.x does.
local_only_codes = st.sampled_from([1005, 1006, 1015])
any_codes = st.sampled_from([0, 999, 1004, 1016, 2999, 5000, 65535, CloseReason.NO_STATUS_RCVD]) | (
    sendable_codes | local_only_codes
)


def reassemble(events: list[Event]) -> list[Item]:
    """Whole messages, control payloads and the close, in order; a partial message is left out."""
    items: list[Item] = []
    parts: list[Any] = []
    for event in events:
        if isinstance(event, Message):
            parts.append(event.data)
            if event.message_finished:
                if isinstance(event, TextMessage):
                    items.append(("text", "".join(parts)))
                else:
                    items.append(("bytes", b"".join(parts)))
                parts = []
        elif isinstance(event, Ping):
            items.append(("ping", event.payload))
        elif isinstance(event, Pong):
            items.append(("pong", event.payload))
        elif isinstance(event, CloseConnection):
            items.append(("close", event.code, event.reason or ""))
    return items


def negotiated_deflate(role: ConnectionType) -> PerMessageDeflate:
    """A permessage-deflate extension negotiated with default parameters, as ``role``."""
    extension = PerMessageDeflate()
    if role is SERVER:
        assert extension.accept("permessage-deflate") is not None
    else:
        extension.offer()
        extension.finalize("permessage-deflate")
    assert extension.enabled()
    return extension


def split(data: Any, cuts: list[int]) -> list[Any]:
    """``data`` cut at the given offsets (sorted, deduplicated, any of them)."""
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces = []
    start = 0
    for point in points:
        pieces.append(data[start:point])
        start = point
    pieces.append(data[start:])
    return pieces


class ReceiveMachine(RuleBasedStateMachine):
    """One connection fed a peer's stream: valid frames, violations, mutations, garbage."""

    @initialize(
        role=st.sampled_from([CLIENT, SERVER]),
        deflate=st.booleans(),
        max_frame=st.none() | st.integers(0, 400),
        max_message=st.none() | st.integers(0, 800),
        hostile=st.booleans(),
    )
    def setup(
        self,
        role: ConnectionType,
        deflate: bool,
        max_frame: int | None,
        max_message: int | None,
        hostile: bool,
    ) -> None:
        self.hostile = hostile  # violations, mutations and garbage too, or valid frames only
        extensions: list[Extension] = [negotiated_deflate(role)] if deflate else []
        self.conn = Connection(
            role, extensions, max_frame_size=max_frame, max_message_size=max_message
        )
        self.checked = CheckedConnection(self.conn, max_message_size=max_message)
        self.role = role
        self.deflate = deflate
        self.max_frame = max_frame
        self.max_message = max_message
        # The peer's reference deflater (context takeover, 15-bit window).
        self.compressor = zlib.compressobj(wbits=-15)
        self.wire = bytearray()  # what the peer sent and we have not fed yet
        self.expected: list[Item] = []  # what the frames carry, up to the first deviation
        self.deviated = False  # bad bytes were sent (nothing after them is expected)
        self.expected_codes: set[int] | None = None  # the first deviation's close code(s)
        self.peer_closed = False  # the peer sent a close frame: the rest is ignored
        self.truncated = False  # the stream ended before all the peer sent

    # -- the peer's frames ---------------------------------------------------

    def frame(
        self, opcode: int, payload: bytes, key: bytes, fin: bool = True, rsv: int = 0
    ) -> bytes:
        # A client's frames are masked (RFC 6455 §5.3), a server's are not.
        return frame(opcode, payload, fin=fin, rsv=rsv, key=key if self.role is SERVER else None)

    def expect(self, item: Item) -> None:
        if not self.deviated and not self.peer_closed:
            self.expected.append(item)

    def deviate(self, codes: set[int] | None) -> None:
        if not self.deviated and not self.peer_closed:
            self.deviated = True
            self.expected_codes = codes

    def over_limit(self, frame_sizes: list[int], message_size: int) -> bool:
        if self.max_frame is not None and any(size > self.max_frame for size in frame_sizes):
            return True
        return self.max_message is not None and message_size > self.max_message

    @precondition(lambda self: not self.checked.eof)
    @rule(
        text=st.booleans(),
        data=st.binary(max_size=300) | st.text(max_size=100).map(str.encode),
        cuts=st.lists(st.integers(0, 400), max_size=4),
        compress=st.booleans(),
        pings=st.lists(st.tuples(st.booleans(), control_payloads), max_size=4),
        key=st.binary(min_size=4, max_size=4),
    )
    def message(
        self,
        text: bool,
        data: bytes,
        cuts: list[int],
        compress: bool,
        pings: list[tuple[bool, bytes]],
        key: bytes,
    ) -> None:
        """A valid message in fragments cut anywhere (UTF-8 too), control frames in between."""
        if text:
            data = data.decode("utf-8", "replace").encode()
        compress = compress and self.deflate
        payload = data
        if compress:
            payload = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
            assert payload.endswith(b"\x00\x00\xff\xff")
            payload = payload[:-4] or b"\x00"  # RFC 7692 §7.2.1
        pieces = split(payload, cuts)
        too_big = self.over_limit([len(piece) for piece in pieces], len(data))
        for i, piece in enumerate(pieces):
            opcode = (1 if text else 2) if i == 0 else 0
            rsv = 4 if compress and i == 0 else 0
            self.wire += self.frame(opcode, piece, key, fin=i == len(pieces) - 1, rsv=rsv)
            if i < len(pings) and not too_big and i < len(pieces) - 1:
                is_ping, control = pings[i]
                self.wire += self.frame(0x9 if is_ping else 0xA, control, key)
                self.expect(("ping" if is_ping else "pong", control))
        if too_big:
            # §7.4.1: 1009, whichever limit the message breaks.
            self.deviate({1009})
        else:
            self.expect(("text", data.decode()) if text else ("bytes", data))

    @precondition(lambda self: not self.checked.eof)
    @rule(ping=st.booleans(), payload=control_payloads, key=st.binary(min_size=4, max_size=4))
    def control(self, ping: bool, payload: bytes, key: bytes) -> None:
        self.wire += self.frame(0x9 if ping else 0xA, payload, key)
        self.expect(("ping" if ping else "pong", payload))

    @precondition(lambda self: not self.checked.eof)
    @rule(code=st.none() | sendable_codes, reason=reasons, key=st.binary(min_size=4, max_size=4))
    def close(self, code: int | None, reason: str, key: bytes) -> None:
        if code is None:
            self.wire += self.frame(0x8, b"", key)
            self.expect(("close", 1005, ""))
        else:
            self.wire += self.frame(0x8, struct.pack("!H", code) + reason.encode(), key)
            self.expect(("close", code, reason))
        if not self.deviated:
            self.peer_closed = True

    @precondition(lambda self: self.hostile and not self.checked.eof)
    @rule(which=st.integers(0, 11), key=st.binary(min_size=4, max_size=4))
    def violation(self, which: int, key: bytes) -> None:
        """A well-formed frame that breaks a rule, and the close code it must cause."""
        codes = {1002}
        if which == 0:
            data = self.frame(0x3 + key[0] % 5, b"x", key)  # reserved data opcode
        elif which == 1:
            data = self.frame(0xB, b"", key)  # reserved control opcode
        elif which == 2:
            data = self.frame(0x9, b"", key, fin=False)  # fragmented ping
        elif which == 3:
            data = self.frame(0x9, b"p" * 126, key)  # control payload over 125
        elif which == 4:
            data = self.frame(0x0, b"c", key)  # continuation with no message
        elif which == 5:
            data = self.frame(0x2, b"b", key, rsv=2)  # RSV2, no extension claims it
        elif which == 6:
            data = self.frame(0x8, b"\x03", key)  # one-byte close payload
        elif which == 7:
            data = self.frame(0x8, struct.pack("!H", 1004), key)  # reserved close code
        elif which == 8:
            data = self.frame(0x8, struct.pack("!H", 1000) + b"\xff", key)
            codes = {1007}  # close reason not UTF-8
        elif which == 9:
            data = self.frame(0x1, b"a\xc3", key)  # truncated UTF-8 at the end of a text message
            codes = {1007}
        elif which == 10:
            data = self.frame(0x1, b"\xed\xa0\x80", key)  # a surrogate in UTF-8
            codes = {1007}
        else:
            # The wrong masking for the direction (§5.1).
            masked = self.role is not SERVER
            data = frame(0x2, b"m", key=key if masked else None)
        size = {9: 2, 10: 3}.get(which, 0)
        if size and self.over_limit([size], size):
            codes.add(1009)  # a size check may come first
        self.wire += data
        self.deviate(codes)

    @precondition(lambda self: self.hostile and not self.checked.eof)
    @rule(
        opcode=st.sampled_from([0x1, 0x2, 0x8, 0x9, 0xA]),
        payload=st.binary(max_size=200),
        key=st.binary(min_size=4, max_size=4),
        edits=st.lists(st.tuples(st.integers(0, 300), st.integers(0, 255)), min_size=1, max_size=3),
        truncate=st.none() | st.integers(0, 300),
    )
    def mutated(
        self,
        opcode: int,
        payload: bytes,
        key: bytes,
        edits: list[tuple[int, int]],
        truncate: int | None,
    ) -> None:
        """A valid frame with bytes overwritten, and perhaps cut short."""
        data = bytearray(self.frame(opcode, payload[:125] if opcode & 8 else payload, key))
        for index, value in edits:
            data[index % len(data)] = value
        if truncate is not None:
            del data[truncate % len(data) :]
        self.wire += data
        self.deviate(None)

    @precondition(lambda self: self.hostile and not self.checked.eof)
    @rule(data=st.binary(min_size=1, max_size=300))
    def garbage(self, data: bytes) -> None:
        self.wire += data
        self.deviate(None)

    # -- the local side --------------------------------------------------------

    @precondition(lambda self: self.wire and not self.checked.eof)
    @rule(size=st.integers(1, 200) | st.just(1 << 20))
    def feed(self, size: int) -> None:
        """Feed the next bytes, in a chunk of any size."""
        chunk = bytes(self.wire[:size])
        del self.wire[:size]
        self.checked.receive(chunk)

    @precondition(lambda self: not self.checked.eof)
    @rule(dice=st.integers(0, 7), cut=st.none() | st.integers(0, 300))
    def eof(self, dice: int, cut: int | None) -> None:
        """The transport closes (one time in eight), perhaps in the middle of a frame."""
        if dice == 7:
            self.end(cut)

    def end(self, cut: int | None) -> None:
        if cut is not None and cut < len(self.wire):
            self.truncated = True
            del self.wire[cut:]
        self.checked.receive(bytes(self.wire))
        self.wire.clear()
        self.checked.receive(None)

    @precondition(lambda self: self.checked.eof)
    @rule()
    def eof_again(self) -> None:
        """Another end of stream: it yields another CloseConnection(1006), as in 1.x."""
        self.checked.receive(None)

    @precondition(lambda self: self.checked.close is not None)
    @rule()
    def answer_close(self) -> None:
        self.checked.answer_close()

    @invariant()
    def violation_keeps_state(self) -> None:
        """A peer's violation leaves the state until the close is answered (as 1.x)."""
        known = self.deviated and self.expected_codes is not None and not self.peer_closed
        if known and self.checked.close is not None and not self.checked.eof:
            expected = S.LOCAL_CLOSING if self.checked.sent_close else S.OPEN
            assert self.checked.state is expected, (self.checked.close, self.checked.state)

    @rule(
        event=st.one_of(
            st.builds(TextMessage, st.text(max_size=20), message_finished=st.booleans()),
            st.builds(BytesMessage, st.binary(max_size=20), message_finished=st.booleans()),
            # The data's type decides: bytes in a TextMessage are sent as binary.
            st.builds(TextMessage, st.binary(max_size=5)),
            st.builds(BytesMessage, st.text(max_size=5)),
            st.builds(Ping, st.binary(max_size=130)),
            st.builds(Pong, st.binary(max_size=130)),
            st.builds(CloseConnection, any_codes, st.none() | reasons),
            st.builds(Request, st.just("h"), st.just("/")),
        )
    )
    def local_send(self, event: Event) -> None:
        self.checked.send(event)

    @invariant()
    def delivered_in_order(self) -> None:
        received = reassemble(self.checked.events)
        if self.checked.eof and not self.wire:
            self.final_check(received)
        else:
            assert received[: len(self.expected)] == self.expected[: len(received)]

    def final_check(self, received: list[Item]) -> None:
        note_event(f"deviated={self.deviated} code={self.expected_codes} items={len(received)}")
        # After the first close, one ("close", 1006) per further end of stream.
        first = next(i for i, item in enumerate(received) if item[0] == "close")
        assert received[first + 1 :] == [("close", 1006, "")] * (len(received) - first - 1)
        received = received[: first + 1]
        if self.truncated:
            # What arrived whole is intact, then the connection reports its end.
            body = received[:-1]
            if self.deviated:
                body = body[: len(self.expected)]
            assert body == self.expected[: len(body)]
            assert received[-1][0] == "close"
            return
        if self.deviated:
            assert received[: len(self.expected)] == self.expected
            close = self.checked.close
            assert close is not None
            if self.expected_codes is not None:
                assert close.code in self.expected_codes, (close, self.expected_codes)
            return
        if self.peer_closed:
            assert received == self.expected
        else:
            # §7.1.5: the stream ended without a close frame.
            assert received == [*self.expected, ("close", 1006, "")]

    def teardown(self) -> None:
        if not self.checked.eof:
            self.end(None)
            self.delivered_in_order()


def _deflate_params() -> dict[str, st.SearchStrategy[Any]]:
    bits = st.integers(8, 15)
    return {
        "client_no_context_takeover": st.booleans(),
        "server_no_context_takeover": st.booleans(),
        "client_max_window_bits": bits,
        "server_max_window_bits": bits,
    }


class PairMachine(RuleBasedStateMachine):
    """A client and a server joined by a wire: what either sends arrives intact, in order."""

    @initialize(
        client_params=st.none() | st.fixed_dictionaries({}, optional=_deflate_params()),
        server_params=st.fixed_dictionaries({}, optional=_deflate_params()),
    )
    def setup(self, client_params: dict[str, Any] | None, server_params: dict[str, Any]) -> None:
        client_extensions: list[Extension] = []
        server_extensions: list[Extension] = []
        if client_params is not None:
            # Negotiate through the public functions, as a handshake would.
            offer_ext = PerMessageDeflate(**client_params)
            offer = f"permessage-deflate; {offer_ext.offer()}"
            server_ext = PerMessageDeflate(**server_params)
            answer = server_extensions_handshake([offer], [server_ext])
            # Neither end agrees to compress with an 8-bit window (zlib cannot): the
            # server declines when its window would be 8 (offered, or its own
            # setting), the client fails when its own would be (answered, or set).
            server_bits = [client_params.get("server_max_window_bits", 15)]
            server_bits.append(server_params.get("server_max_window_bits", 15))
            assert (answer is None) is (min(server_bits) == 8), (offer, server_params, answer)
            if answer is not None:
                client_bits = [client_params.get("client_max_window_bits", 15)]
                answered = re.search(rb"client_max_window_bits=(\d+)", answer)
                client_bits.append(int(answered.group(1)) if answered else 15)
                try:
                    client_extensions = client_extensions_handshake([answer.decode()], [offer_ext])
                except RemoteProtocolError:
                    assert min(client_bits) == 8, (offer, answer)
                else:
                    assert min(client_bits) > 8, (offer, answer)
                    server_extensions = [server_ext]
                    assert offer_ext.enabled()
                    assert server_ext.enabled()
        self.sides = {
            CLIENT: CheckedConnection(Connection(CLIENT, client_extensions)),
            SERVER: CheckedConnection(Connection(SERVER, server_extensions)),
        }
        # Per sender: the bytes on the wire, and what the peer must receive.
        self.wire = {CLIENT: bytearray(), SERVER: bytearray()}
        self.expected: dict[ConnectionType, list[Item]] = {CLIENT: [], SERVER: []}

    def peer(self, side: ConnectionType) -> ConnectionType:
        return SERVER if side is CLIENT else CLIENT

    def send(self, side: ConnectionType, event: Event, item: Item | None) -> bool:
        data = self.sides[side].send(event)
        if data is None:
            return False
        self.wire[side] += data
        if item is not None:
            self.expected[side].append(item)
        return True

    @rule(
        side=st.sampled_from([CLIENT, SERVER]),
        pieces=st.lists(st.text(max_size=200), min_size=1, max_size=4)
        | st.lists(st.binary(max_size=400), min_size=1, max_size=4),
        pings=st.lists(control_payloads, max_size=3),
        swapped=st.booleans(),
    )
    def message(
        self, side: ConnectionType, pieces: list[Any], pings: list[bytes], swapped: bool
    ) -> None:
        """A message sent in pieces (message_finished=False), pings from the same side between.

        ``swapped`` carries it in the other class: the data's type decides, as in 1.x.
        """
        text = isinstance(pieces[0], str)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            event: Event
            if text != swapped:
                event = TextMessage(piece, message_finished=last)
            else:
                event = BytesMessage(piece, message_finished=last)
            if not self.send(side, event, None):
                assert i == 0, "a message was refused half-way"
                return
            if i < len(pings) and not last:
                self.send(side, Ping(pings[i]), ("ping", pings[i]))
        joined = "".join(pieces) if text else b"".join(pieces)
        self.expected[side].append(("text" if text else "bytes", joined))

    @rule(side=st.sampled_from([CLIENT, SERVER]), ping=st.booleans(), payload=control_payloads)
    def control(self, side: ConnectionType, ping: bool, payload: bytes) -> None:
        event = Ping(payload) if ping else Pong(payload)
        self.send(side, event, ("ping" if ping else "pong", payload))

    @rule(
        side=st.sampled_from([CLIENT, SERVER]),
        code=st.none() | sendable_codes | local_only_codes,
        reason=reasons,
    )
    def close(self, side: ConnectionType, code: int | None, reason: str) -> None:
        if code is None:
            # The member (as response() gives it) sends a close without a code.
            self.send(side, CloseConnection(CloseReason.NO_STATUS_RCVD), ("close", 1005, ""))
        elif code in (1005, 1006, 1015):
            # A local-only code given as an int sends 1000, as in 1.x.
            self.send(side, CloseConnection(code, reason), ("close", 1000, reason))
        else:
            self.send(side, CloseConnection(code, reason), ("close", code, reason))

    @precondition(lambda self: any(s.close is not None for s in self.sides.values()))
    @rule(side=st.sampled_from([CLIENT, SERVER]))
    def answer_close(self, side: ConnectionType) -> None:
        checked = self.sides[side]
        if checked.close is not None:
            data = checked.answer_close()
            if data is not None:
                close = checked.close
                self.wire[side] += data
                self.expected[side].append(("close", close.code, close.reason or ""))

    @rule(side=st.sampled_from([CLIENT, SERVER]), size=st.integers(1, 300) | st.just(1 << 20))
    def deliver(self, side: ConnectionType, size: int) -> None:
        """Deliver the next bytes ``side`` sent, in a chunk of any size."""
        wire = self.wire[side]
        chunk = bytes(wire[:size])
        del wire[:size]
        if chunk:
            self.sides[self.peer(side)].receive(chunk)

    @invariant()
    def in_order(self) -> None:
        for side, checked in self.sides.items():
            received = reassemble(checked.events)
            sent = self.expected[self.peer(side)]
            # No violation either: a close received is the one the peer sent.
            assert received == sent[: len(received)]

    def teardown(self) -> None:
        for side in (CLIENT, SERVER):
            self.deliver(side, len(self.wire[side]))
        for side, checked in self.sides.items():
            assert reassemble(checked.events) == self.expected[self.peer(side)]
        if all(checked.sent_close and checked.close for checked in self.sides.values()):
            assert all(checked.state is S.CLOSED for checked in self.sides.values())


handshake_events = st.one_of(
    st.builds(
        Request,
        st.just("example.com"),
        st.just("/chat"),
        subprotocols=st.lists(st.sampled_from(["a", "b", "c"]), unique=True, max_size=2),
        extensions=st.lists(st.builds(PerMessageDeflate), max_size=1),
    ),
    st.builds(
        AcceptConnection,
        subprotocol=st.none() | st.sampled_from(["a", "b"]),
        extensions=st.lists(st.builds(PerMessageDeflate), max_size=1),
    ),
    st.builds(
        RejectConnection,
        status_code=st.sampled_from([101, 200, 400, 403, 503]),
        has_body=st.booleans(),
    ),
    st.builds(RejectData, data=st.binary(max_size=20), body_finished=st.booleans()),
    st.builds(TextMessage, st.text(max_size=20)),
    st.builds(BytesMessage, st.binary(max_size=20)),
    st.builds(Ping, st.binary(max_size=10)),
    st.builds(CloseConnection, st.just(1000), st.none() | reasons),
)


class HandshakeMachine(RuleBasedStateMachine):
    """Two WSConnections through the opening handshake, then messages, with misuse thrown in."""

    def __init__(self) -> None:
        super().__init__()
        self.sides = {
            CLIENT: CheckedHandshake(WSConnection(CLIENT)),
            SERVER: CheckedHandshake(WSConnection(SERVER)),
        }
        self.wire = {CLIENT: bytearray(), SERVER: bytearray()}
        self.sent: dict[ConnectionType, list[Event]] = {CLIENT: [], SERVER: []}

    def peer(self, side: ConnectionType) -> ConnectionType:
        return SERVER if side is CLIENT else CLIENT

    @rule(side=st.sampled_from([CLIENT, SERVER]), event=handshake_events)
    def send(self, side: ConnectionType, event: Event) -> None:
        checked = self.sides[side]
        must_work = self.must_work(side, event)
        data = checked.send(event)
        assert data is not None or not must_work, f"{event!r} refused"
        if data is not None:
            self.wire[side] += data
            self.sent[side].append(event)

    def must_work(self, side: ConnectionType, event: Event) -> bool:
        """The valid moves of the handshake, which must be accepted."""
        checked = self.sides[side]
        state = checked.ws.state
        received = [e for e in checked.events if isinstance(e, Request)]
        if isinstance(event, Request):
            return side is CLIENT and state is S.CONNECTING and not self.sent[CLIENT]
        if isinstance(event, AcceptConnection):
            proposed = received[0].subprotocols if received else []
            return (
                side is SERVER
                and state is S.CONNECTING
                and bool(received)
                and (event.subprotocol is None or event.subprotocol in proposed)
            )
        if isinstance(event, RejectConnection):
            # As in 1.x, a server may reject before it has read a request.
            return side is SERVER and state is S.CONNECTING and event.status_code >= 200
        if isinstance(event, RejectData):
            return side is SERVER and state is S.REJECTING
        return False  # messages: checked by CheckedConnection once open

    @rule(side=st.sampled_from([CLIENT, SERVER]), size=st.integers(1, 100) | st.just(1 << 20))
    def deliver(self, side: ConnectionType, size: int) -> None:
        wire = self.wire[side]
        chunk = bytes(wire[:size])
        del wire[:size]
        if chunk:
            self.sides[self.peer(side)].receive(chunk)

    @invariant()
    def consistent(self) -> None:
        # A valid exchange never fails the handshake.
        assert not any(checked.failed for checked in self.sides.values())

    def teardown(self) -> None:
        for _ in range(2):
            for side in (CLIENT, SERVER):
                self.deliver(side, len(self.wire[side]))
        client = self.sides[CLIENT]
        answers = [e for e in self.sent[SERVER] if isinstance(e, AcceptConnection)]
        if answers:
            accept = [e for e in client.events if isinstance(e, AcceptConnection)]
            assert len(accept) == 1
            assert accept[0].subprotocol == answers[0].subprotocol
            server_ext = [e.name for e in answers[0].extensions if e.enabled()]
            assert [e.name for e in accept[0].extensions] == server_ext
            for side in (CLIENT, SERVER):
                sent: list[Event] = [e for e in self.sent[side] if isinstance(e, Message | Ping)]
                received: list[Event] = [
                    e for e in self.sides[self.peer(side)].events if isinstance(e, Message | Ping)
                ]
                assert reassemble(received) == reassemble(sent)
        rejects = [e for e in self.sent[SERVER] if isinstance(e, RejectConnection)]
        if rejects:
            got_reject = [e for e in client.events if isinstance(e, RejectConnection)]
            assert [e.status_code for e in got_reject] == [rejects[0].status_code]
            body = b"".join(e.data for e in self.sent[SERVER] if isinstance(e, RejectData))
            got_body = b"".join(e.data for e in client.events if isinstance(e, RejectData))
            assert got_body == body


def valid_request(key: bytes = b"dGhlIHNhbXBsZSBub25jZQ==") -> bytes:
    return (
        b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: a, b\r\n"
        b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
    )


def valid_response(key: bytes, extensions: bytes = b"permessage-deflate") -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + generate_accept_token(key) + b"\r\n"
        b"Sec-WebSocket-Extensions: " + extensions + b"\r\n\r\n"
    )


class HandshakeInputMachine(RuleBasedStateMachine):
    """One side of the handshake fed valid, mutated and garbage input in any chunks."""

    @initialize(role=st.sampled_from([CLIENT, SERVER]), deflate=st.booleans())
    def setup(self, role: ConnectionType, deflate: bool) -> None:
        self.checked = CheckedHandshake(WSConnection(role))
        self.key = b""
        self.wire = bytearray()
        if role is CLIENT:
            extensions: list[Extension] = [PerMessageDeflate()] if deflate else []
            request = self.checked.send(
                Request("example.com", "/", subprotocols=["a"], extensions=extensions)
            )
            assert request is not None
            match = re.search(rb"Sec-WebSocket-Key: (\S+)", request)
            assert match is not None
            self.key = match.group(1)

    def valid(self) -> bytes:
        if self.checked.client:
            return valid_response(self.key)
        return valid_request()

    @rule(
        edits=st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), max_size=3),
        cut=st.none() | st.integers(0, 400),
        tail=st.binary(max_size=40),
    )
    def message(self, edits: list[tuple[int, int]], cut: int | None, tail: bytes) -> None:
        """The valid request or response, perhaps with bytes changed, cut, and frames after it."""
        data = bytearray(self.valid())
        for index, value in edits:
            data[index % len(data)] = value
        if cut is not None:
            del data[cut % len(data) :]
        self.wire += data + tail

    @rule(
        name=st.sampled_from(
            [
                b"Sec-WebSocket-Extensions",
                b"Sec-WebSocket-Protocol",
                b"Upgrade",
                b"Connection",
                b"Sec-WebSocket-Key",
                b"Sec-WebSocket-Version",
                b"Sec-WebSocket-Accept",
                b"X",
            ]
        ),
        value=st.binary(max_size=60)
        | st.sampled_from(
            [
                b"permessage-deflate; server_max_window_bits=8",
                b"permessage-deflate, permessage-deflate",
                b"permessage-deflate; client_max_window_bits=16",
                b"foo",
                b"a, a",
                b"\xff",
            ]
        ),
    )
    def header(self, name: bytes, value: bytes) -> None:
        """The valid head with one header added, in a random place among the others."""
        head = self.valid()
        self.wire += head[:-2] + name + b": " + value + b"\r\n\r\n"

    @rule(data=st.binary(max_size=200))
    def garbage(self, data: bytes) -> None:
        self.wire += data

    @rule(size=st.integers(1, 200) | st.just(1 << 20))
    def feed(self, size: int) -> None:
        """The next bytes; ``b""`` when there are none, which ends the transport (as 1.x).

        Also after a failure or the end: the checks say what must happen then.
        """
        chunk = bytes(self.wire[:size])
        del self.wire[:size]
        self.checked.receive(chunk)

    @rule()
    def eof(self) -> None:
        self.checked.receive(None)

    @rule(
        event=handshake_events,
    )
    def answer(self, event: Event) -> None:
        self.checked.send(event)


def _machine(machine: type[RuleBasedStateMachine], scale: float = 1.0) -> Any:
    case = machine.TestCase
    case.settings = stateful_settings(scale)
    return case


TestReceive = _machine(ReceiveMachine)
TestPair = _machine(PairMachine)
TestHandshake = _machine(HandshakeMachine)
TestHandshakeInput = _machine(HandshakeInputMachine)
