"""RFC 6455 §5: the base framing protocol, on the receive and send paths."""

from __future__ import annotations

from typing import Any

import pytest

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, Opcode
from wsproto.utilities import LocalProtocolError

from .frames import client, client_frame, server, server_frame
from .helpers import ConnectionPair, feed


def assert_fails(events: list[Event], code: int) -> None:
    """The last event is a close with ``code`` and nothing follows it."""
    assert events, "expected a CloseConnection"
    last = events[-1]
    assert isinstance(last, CloseConnection), events
    assert last.code == code, last
    assert all(not isinstance(e, CloseConnection) for e in events[:-1])


class TestPayloadLength:
    """§5.2: 7-bit, 16-bit and 64-bit payload lengths."""

    @pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 70000])
    def test_every_size_class_round_trips(self, size: int) -> None:
        pair = ConnectionPair()
        payload = bytes(range(256)) * (size // 256) + bytes(range(size % 256))
        for side in (pair.client, pair.server):
            events = pair.send(side, [BytesMessage(payload)])
            assert b"".join(e.data for e in events if isinstance(e, BytesMessage)) == payload
            assert isinstance(events[-1], BytesMessage)
            assert events[-1].message_finished

    @pytest.mark.parametrize(("size", "length_size"), [(5, 16), (5, 64), (300, 64)])
    def test_non_minimal_length_is_accepted(self, size: int, length_size: int) -> None:
        conn = server()
        events = feed(conn, client_frame(Opcode.BINARY, b"x" * size, length_size=length_size))
        assert events == [BytesMessage(b"x" * size)]

    def test_64_bit_length_with_top_bit_set_fails(self) -> None:
        conn = server()
        data = bytes((0x82, 0xFF)) + (1 << 63).to_bytes(8, "big") + b"\x00" * 4
        assert_fails(feed(conn, data), CloseReason.PROTOCOL_ERROR)

    @pytest.mark.parametrize("size", [0, 1, 100, 126, 65536])
    def test_sent_frames_use_the_shortest_length(self, size: int) -> None:
        data = server().send(BytesMessage(b"y" * size))
        assert data == server_frame(Opcode.BINARY, b"y" * size)


class TestMasking:
    """§5.3: client frames are masked, server frames are not."""

    def test_server_rejects_unmasked_frame(self) -> None:
        conn = server()
        assert_fails(feed(conn, server_frame(Opcode.TEXT, b"hi")), CloseReason.PROTOCOL_ERROR)

    def test_client_rejects_masked_frame(self) -> None:
        conn = client()
        assert_fails(feed(conn, client_frame(Opcode.TEXT, b"hi")), CloseReason.PROTOCOL_ERROR)

    def test_client_masks_with_fresh_keys(self) -> None:
        conn = client()
        first = conn.send(BytesMessage(b"\x00" * 8))
        second = conn.send(BytesMessage(b"\x00" * 8))
        assert first[1] & 0x80
        assert second[1] & 0x80
        # Masking zeros exposes the key: it must differ from frame to frame.
        assert first[2:6] != second[2:6]
        assert first[6:] == first[2:6] * 2

    def test_server_unmasks(self) -> None:
        key = b"\xaa\x55\x0f\xf0"
        conn = server()
        events = feed(conn, client_frame(Opcode.BINARY, b"abcdefg", key=key))
        assert events == [BytesMessage(b"abcdefg")]

    def test_unmasking_continues_across_reads(self) -> None:
        """A masked payload split at every offset unmasks with the key rotated."""
        payload = bytes(range(37))
        data = client_frame(Opcode.BINARY, payload, key=b"\x11\x22\x33\x44")
        for cut in range(1, len(data)):
            conn = server()
            events = feed(conn, data[:cut]) + feed(conn, data[cut:])
            assert b"".join(e.data for e in events if isinstance(e, BytesMessage)) == payload


class TestHeaderBits:
    """§5.2: RSV bits and opcodes."""

    @pytest.mark.parametrize("rsv", [1, 2, 4, 7])
    def test_rsv_without_extension_fails(self, rsv: int) -> None:
        conn = server()
        assert_fails(
            feed(conn, client_frame(Opcode.TEXT, b"x", rsv=rsv)), CloseReason.PROTOCOL_ERROR
        )

    @pytest.mark.parametrize("opcode", [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    def test_reserved_opcode_fails(self, opcode: int) -> None:
        conn = server()
        assert_fails(feed(conn, client_frame(opcode, b"")), CloseReason.PROTOCOL_ERROR)

    @pytest.mark.parametrize(
        "first_bytes",
        [
            b"\x83\x85",  # reserved opcode 3, masked, the key not yet here
            b"\x8f\xfe",  # reserved opcode 0xF, 16-bit length not yet here
            b"\x05\xff",  # reserved opcode 5, 64-bit length not yet here
            b"\x09\x81",  # fragmented ping (FIN clear)
            b"\x89\xfe",  # ping announcing a payload over 125 bytes
        ],
    )
    def test_header_fails_as_soon_as_its_first_bytes_break_a_rule(self, first_bytes: bytes) -> None:
        """§5.2, §5.5: no need to wait for the length or the masking key (as wsproto 1.x)."""
        conn = server()
        assert_fails(feed(conn, first_bytes), CloseReason.PROTOCOL_ERROR)

    def test_valid_first_bytes_wait_for_the_rest(self) -> None:
        conn = server()
        assert feed(conn, b"\x81\x85") == []
        assert feed(conn, b"\x00\x00\x00\x00hello") == [TextMessage("hello")]

    def test_events_before_a_bad_frame_come_first(self) -> None:
        conn = server()
        data = client_frame(Opcode.TEXT, b"ok") + client_frame(Opcode.PING, b"p") + client_frame(5)
        events = feed(conn, data)
        assert events[:2] == [TextMessage("ok"), Ping(b"p")]
        assert_fails(events, CloseReason.PROTOCOL_ERROR)
        assert conn.state is ConnectionState.OPEN  # until answered, as in wsproto 1.x


class TestFragmentation:
    """§5.4: fragmented messages with control frames interleaved."""

    def test_fragments_with_interleaved_ping(self) -> None:
        conn = server()
        data = (
            client_frame(Opcode.TEXT, b"frag", fin=False)
            + client_frame(Opcode.PING, b"mid")
            + client_frame(Opcode.CONTINUATION, b"ment", fin=False)
            + client_frame(Opcode.CONTINUATION, b"ed")
        )
        assert feed(conn, data) == [
            TextMessage("frag", frame_finished=True, message_finished=False),
            Ping(b"mid"),
            TextMessage("ment", frame_finished=True, message_finished=False),
            TextMessage("ed", frame_finished=True, message_finished=True),
        ]

    def test_continuation_without_message_fails(self) -> None:
        conn = server()
        assert_fails(
            feed(conn, client_frame(Opcode.CONTINUATION, b"x")), CloseReason.PROTOCOL_ERROR
        )

    @pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
    def test_new_message_inside_unfinished_one_fails(self, opcode: Opcode) -> None:
        conn = server()
        data = client_frame(Opcode.BINARY, b"a", fin=False) + client_frame(opcode, b"b")
        events = feed(conn, data)
        assert events[0] == BytesMessage(b"a", True, False)
        assert_fails(events, CloseReason.PROTOCOL_ERROR)

    def test_fragmented_control_frame_fails(self) -> None:
        conn = server()
        assert_fails(
            feed(conn, client_frame(Opcode.PING, b"x", fin=False)), CloseReason.PROTOCOL_ERROR
        )

    def test_empty_fragments(self) -> None:
        conn = server()
        data = client_frame(Opcode.BINARY, b"", fin=False) + client_frame(Opcode.CONTINUATION, b"")
        assert feed(conn, data) == [BytesMessage(b"", True, False), BytesMessage(b"", True, True)]

    def test_sending_fragments(self) -> None:
        pair = ConnectionPair()
        events = pair.send(
            pair.client,
            [BytesMessage(b"ab", message_finished=False), Ping(b"1"), BytesMessage(b"cd")],
        )
        assert events == [BytesMessage(b"ab", True, False), Ping(b"1"), BytesMessage(b"cd")]

    def test_mixing_kinds_in_one_sent_message_is_refused(self) -> None:
        conn = client()
        conn.send(TextMessage("a", message_finished=False))
        with pytest.raises(LocalProtocolError, match="finish it") as info:
            conn.send(BytesMessage(b"b"))
        assert isinstance(info.value, TypeError)  # what wsproto 1.x raised
        conn.send(TextMessage("b"))  # the text message can still be finished


class TestControlFrames:
    """§5.5: control frames."""

    def test_control_payload_over_125_fails(self) -> None:
        conn = server()
        assert_fails(feed(conn, client_frame(Opcode.PING, b"x" * 126)), CloseReason.PROTOCOL_ERROR)

    def test_rsv_on_control_frame_fails(self) -> None:
        conn = server()
        assert_fails(feed(conn, client_frame(Opcode.PING, b"", rsv=4)), CloseReason.PROTOCOL_ERROR)

    def test_ping_pong(self) -> None:
        """§5.5.2, §5.5.3: a pong echoes its ping's payload."""
        pair = ConnectionPair()
        (ping,) = pair.send(pair.client, [Ping(b"hello")])
        assert isinstance(ping, Ping)
        assert pair.send(pair.server, [ping.response()]) == [Pong(b"hello")]

    def test_control_frame_split_across_reads(self) -> None:
        conn = server()
        data = client_frame(Opcode.PING, b"0123456789")
        assert feed(conn, data[:9]) == []
        assert feed(conn, data[9:]) == [Ping(b"0123456789")]

    @pytest.mark.parametrize("event", [Ping(b"x" * 126), Pong(b"x" * 126)])
    def test_sending_oversized_control_payload_is_refused(self, event: Event) -> None:
        with pytest.raises(LocalProtocolError, match="at most 125") as info:
            client().send(event)
        assert isinstance(info.value, ValueError)  # what wsproto 1.x raised


class TestDataFrames:
    """§5.6: text is UTF-8, delivered as str; binary as bytes."""

    def test_text_split_inside_a_character(self) -> None:
        text = "añ€😀"
        data = client_frame(Opcode.TEXT, text.encode())
        for cut in range(1, len(data)):
            conn = server()
            events = feed(conn, data[:cut]) + feed(conn, data[cut:])
            assert "".join(e.data for e in events if isinstance(e, TextMessage)) == text
            assert all(isinstance(e, TextMessage) for e in events)

    def test_invalid_utf8_in_single_frame_fails_1007(self) -> None:
        conn = server()
        assert_fails(
            feed(conn, client_frame(Opcode.TEXT, b"\xce\xba\xff")),
            CloseReason.INVALID_FRAME_PAYLOAD_DATA,
        )

    @pytest.mark.parametrize("bad", [b"\xf4\x90", b"\xed\xa0", b"\xc0", b"\xe0\x80", b"\xf0\x80"])
    def test_invalid_utf8_fails_at_the_bad_byte(self, bad: bytes) -> None:
        """Fail fast: the message fails before the rest of its frame arrives."""
        conn = server()
        head = client_frame(Opcode.TEXT, b"ok" + bad + b"\x80\x80" * 10)
        # Deliver everything up to and including the offending byte only.
        cut = 6 + 2 + len(bad)
        events = feed(conn, head[:cut])
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_invalid_utf8_across_fragments_fails(self) -> None:
        conn = server()
        data = client_frame(Opcode.TEXT, b"ab\xf4", fin=False) + client_frame(
            Opcode.CONTINUATION, b"\x90\x80\x80", fin=False
        )
        events = feed(conn, data)
        assert events[0] == TextMessage("ab", True, False)
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_truncated_character_at_message_end_fails(self) -> None:
        conn = server()
        data = client_frame(Opcode.TEXT, b"ab\xe2\x82", fin=False) + client_frame(
            Opcode.CONTINUATION
        )
        assert_fails(feed(conn, data), CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    @pytest.mark.parametrize(
        ("event", "opcode"),
        [
            (TextMessage(b"bytes"), Opcode.BINARY),  # type: ignore[arg-type]
            (BytesMessage("text"), Opcode.TEXT),  # type: ignore[arg-type]
            (BytesMessage(bytearray(b"ba")), Opcode.BINARY),  # type: ignore[arg-type]
            (BytesMessage(memoryview(b"mv")), Opcode.BINARY),  # type: ignore[arg-type]
        ],
    )
    def test_the_data_type_decides_the_opcode(self, event: Message[Any], opcode: Opcode) -> None:
        """As in wsproto 1.x: str is sent as text and bytes as binary, whatever the event."""
        data = server().send(event)
        assert data[0] == 0x80 | opcode
        assert data[2:] == bytes(event.data if opcode is Opcode.BINARY else event.data.encode())

    @pytest.mark.parametrize("event", [TextMessage(None), BytesMessage(5)])  # type: ignore[arg-type]
    def test_message_data_must_be_str_or_bytes(self, event: Message[Any]) -> None:
        """Also a TypeError, which wsproto 1.x raised ("Must provide bytes or text")."""
        with pytest.raises(LocalProtocolError, match="must be str or bytes") as info:
            client().send(event)
        assert isinstance(info.value, TypeError)

    def test_large_frame_streams_without_waiting(self) -> None:
        """Partial payloads come out as they arrive, so memory stays flat."""
        conn = server()
        payload = b"z" * 1_000_000
        data = client_frame(Opcode.BINARY, payload)
        total = 0
        pieces = 0
        for i in range(0, len(data), 65536):
            for event in feed(conn, data[i : i + 65536]):
                assert isinstance(event, BytesMessage)
                assert len(event.data) <= 65536
                total += len(event.data)
                pieces += 1
        assert total == len(payload)
        assert pieces == 16


class TestLimits:
    """Optional limits: frame and message size, failing with 1009."""

    def test_frame_over_limit(self) -> None:
        conn = server(max_frame_size=10)
        assert feed(conn, client_frame(Opcode.BINARY, b"x" * 10)) == [BytesMessage(b"x" * 10)]
        assert_fails(
            feed(conn, client_frame(Opcode.BINARY, b"x" * 11)), CloseReason.MESSAGE_TOO_BIG
        )

    def test_message_over_limit_across_fragments(self) -> None:
        conn = server(max_message_size=10)
        data = client_frame(Opcode.BINARY, b"x" * 6, fin=False) + client_frame(
            Opcode.CONTINUATION, b"x" * 5
        )
        events = feed(conn, data)
        assert events[0] == BytesMessage(b"x" * 6, True, False)
        assert_fails(events, CloseReason.MESSAGE_TOO_BIG)

    def test_limit_fails_at_the_header(self) -> None:
        """A frame announced too big fails before its payload arrives."""
        conn = server(max_message_size=1000)
        data = client_frame(Opcode.BINARY, b"x" * 5000)
        assert_fails(feed(conn, data[:14]), CloseReason.MESSAGE_TOO_BIG)

    def test_limit_resets_per_message(self) -> None:
        conn = server(max_message_size=10)
        data = client_frame(Opcode.BINARY, b"x" * 10) * 3
        assert feed(conn, data) == [BytesMessage(b"x" * 10)] * 3


class TestReceiveBuffer:
    """Feeding: any chunking gives the same events."""

    def test_bytes_fed_without_pulling_events_accumulate(self) -> None:
        conn = server()
        data = b"".join(client_frame(Opcode.BINARY, bytes([i]) * 3) for i in range(50))
        for i in range(0, len(data), 7):
            conn.receive_data(data[i : i + 7])
        assert list(conn.events()) == [BytesMessage(bytes([i]) * 3) for i in range(50)]

    def test_bytearray_and_memoryview_input(self) -> None:
        conn = server()
        data = client_frame(Opcode.BINARY, b"abc")
        conn.receive_data(bytearray(data[:3]))  # type: ignore[arg-type]
        conn.receive_data(memoryview(data[3:]))  # type: ignore[arg-type]
        assert list(conn.events()) == [BytesMessage(b"abc")]

    def test_receive_data_while_iterating(self) -> None:
        conn = server()
        frames = [client_frame(Opcode.BINARY, bytes([i])) for i in range(4)]
        conn.receive_data(frames[0] + frames[1])
        seen = []
        for event in conn.events():
            seen.append(event)
            if len(seen) == 1:
                conn.receive_data(frames[2] + frames[3])
        assert seen == [BytesMessage(bytes([i])) for i in range(4)]

    def test_abandoned_iteration_resumes(self) -> None:
        conn = server()
        conn.receive_data(b"".join(client_frame(Opcode.BINARY, bytes([i])) for i in range(3)))
        first = next(iter(conn.events()))
        assert first == BytesMessage(b"\x00")
        assert list(conn.events()) == [BytesMessage(b"\x01"), BytesMessage(b"\x02")]


class TestSendWithDataPassthrough:
    """``send_with_data_passthrough``: what ``send`` writes, as pieces, a large payload uncopied."""

    @pytest.mark.parametrize("size", [0, 100, 65535, 65536, 300000])
    @pytest.mark.parametrize("kind", [BytesMessage, TextMessage])
    def test_the_pieces_joined_are_what_send_writes(self, size: int, kind: type) -> None:
        data: bytes | str = b"b" * size if kind is BytesMessage else "t" * size
        whole = server().send(kind(data))
        pieces = server().send_with_data_passthrough(kind(data))
        assert b"".join(pieces) == whole
        if size >= 65536:
            head, body = pieces
            assert len(head) == 10
            if isinstance(data, bytes):
                assert body is data  # passed through: the very object, not a copy
            else:
                assert body == data.encode()
        else:
            assert len(pieces) == 1

    def test_fragments_keep_their_opcodes(self) -> None:
        split, plain = server(), server()
        pieces = [b"a" * 70000, b"b" * 70000, b"c" * 10]
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            sent = split.send_with_data_passthrough(BytesMessage(piece, message_finished=last))
            assert b"".join(sent) == plain.send(BytesMessage(piece, message_finished=last))

    def test_a_client_frame_is_masked_in_one_piece(self) -> None:
        conn = client()
        (frame,) = conn.send_with_data_passthrough(BytesMessage(b"x" * 70000))
        events = feed(server(), frame)
        assert events == [BytesMessage(b"x" * 70000)]

    def test_a_compressed_message_is_one_piece(self) -> None:
        ws_client, ws_server = _open_pair(deflate=True)
        data = b"compressible " * 10_000
        (frame,) = ws_server.send_with_data_passthrough(BytesMessage(data))
        assert len(frame) < len(data)
        ws_client.receive_data(frame)
        assert _joined(ws_client) == data

    def test_other_events_are_what_send_writes(self) -> None:
        for event in (Ping(b"p"), Pong(b"q"), CloseConnection(1000, "bye")):
            assert server().send_with_data_passthrough(event) == [server().send(event)]

    def test_it_refuses_what_send_refuses(self) -> None:
        conn = server()
        conn.send(CloseConnection(1000))
        with pytest.raises(LocalProtocolError, match="cannot send data in state"):
            conn.send_with_data_passthrough(BytesMessage(b"x" * 70000))

    def test_wsconnection_passes_through_once_open(self) -> None:
        ws_client, ws_server = _open_pair(deflate=False)
        data = bytes(100_000)
        head, body = ws_server.send_with_data_passthrough(BytesMessage(data))
        assert body is data
        ws_client.receive_data(head + body)
        assert _joined(ws_client) == data


def _open_pair(*, deflate: bool) -> tuple[WSConnection, WSConnection]:
    """A client and a server WSConnection through their opening handshake (sent as pieces)."""
    ws_client = WSConnection(ConnectionType.CLIENT)
    ws_server = WSConnection(ConnectionType.SERVER)
    offer: list[Extension] = [PerMessageDeflate()] if deflate else []
    (request,) = ws_client.send_with_data_passthrough(
        Request(host="h", target="/", extensions=offer)
    )
    ws_server.receive_data(request)
    assert isinstance(next(iter(ws_server.events())), Request)
    accepted: list[Extension] = [PerMessageDeflate()] if deflate else []
    (accept,) = ws_server.send_with_data_passthrough(AcceptConnection(extensions=accepted))
    ws_client.receive_data(accept)
    assert isinstance(next(iter(ws_client.events())), AcceptConnection)
    return ws_client, ws_server


def _joined(ws: WSConnection) -> bytes:
    pieces = []
    for event in ws.events():
        assert isinstance(event, BytesMessage)
        pieces.append(event.data)
    return b"".join(pieces)
