"""RFC 7692 §7.2: whole-message fast paths of our permessage-deflate, and its idle memory.

A message sent or received as one frame skips the extension's frame hooks.
These tests pin that nothing else changes: the same messages and failures as
the hooks give, inflation in bounded steps, the frame hooks for subclasses and
for other extensions, and no compressor held by an idle connection that
compresses without context takeover.
"""

from __future__ import annotations

import random
import tracemalloc
import zlib
from typing import Any

import pytest

from wsproto._deflate import INFLATE_CHUNK_SIZE, INFLATE_INPUT_SIZE
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, TextMessage
from wsproto.extensions import (
    _IDLE_DEFLATERS,
    IDLE_DEFLATERS_PER_WINDOW,
    Extension,
    PerMessageDeflate,
)
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode, RsvBits

from .frames import client_frame
from .helpers import ConnectionPair, feed
from .test_permessage_deflate import (
    RSV1,
    assert_fails,
    deflate_pair,
    messages_of,
    negotiate,
    parse_frames,
    raw_deflate,
    raw_inflate,
)


def deflate_server(**limits: Any) -> Connection:
    return Connection(ConnectionType.SERVER, [negotiate()[1]], **limits)


def final_block_deflate(data: bytes) -> bytes:
    """A message whose deflate stream ends with a final block (§7.2.3.4)."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush(zlib.Z_FINISH)


#: 10 MB of zeros compress to about 10 KB: small enough for the fast path.
SMALL_BOMB_SIZE = 10 * 1000 * 1000


@pytest.fixture(scope="module")
def small_bomb() -> bytes:
    payload = raw_deflate(bytes(SMALL_BOMB_SIZE))
    assert len(payload) <= INFLATE_INPUT_SIZE
    return client_frame(Opcode.BINARY, payload, rsv=RSV1)


class TestReceivingWholeMessages:
    """§7.2.2: a compressed message in one frame, inflated without the frame hooks."""

    @pytest.mark.parametrize(
        "data",
        [
            b"",
            b"Hello",
            "ü€𝄞 text".encode() * 100,
            bytes(range(128)) * 128,
            bytes(3 * INFLATE_CHUNK_SIZE + 1000),  # several bounded pieces
        ],
    )
    @pytest.mark.parametrize("opcode", [Opcode.TEXT, Opcode.BINARY])
    def test_same_messages_whole_or_byte_by_byte(self, data: bytes, opcode: Opcode) -> None:
        wire = b"".join(client_frame(opcode, raw_deflate(data), rsv=RSV1) for _ in range(2))
        expected = [data.decode() if opcode == Opcode.TEXT else data] * 2
        assert messages_of(feed(deflate_server(), wire)) == expected
        assert messages_of(feed(deflate_server(), wire, 1)) == expected

    def test_a_large_message_arrives_in_bounded_pieces(self) -> None:
        data = bytes(range(256)) * 1024
        events = feed(deflate_server(), client_frame(Opcode.BINARY, raw_deflate(data), rsv=RSV1))
        assert len(events) > 1
        assert all(isinstance(e, BytesMessage) for e in events)
        assert all(len(e.data) <= INFLATE_CHUNK_SIZE for e in events if isinstance(e, BytesMessage))
        finished = [e.message_finished for e in events if isinstance(e, BytesMessage)]
        assert finished == [False] * (len(events) - 1) + [True]
        assert messages_of(events) == [data]

    def test_data_received_while_a_large_message_is_pulled(self) -> None:
        data = bytes(3 * INFLATE_CHUNK_SIZE)
        conn = deflate_server()
        conn.receive_data(client_frame(Opcode.BINARY, raw_deflate(data), rsv=RSV1))
        events = conn.events()
        first = [next(events)]
        conn.receive_data(client_frame(Opcode.BINARY, raw_deflate(b"next"), rsv=RSV1))
        assert messages_of(first + list(events)) == [data, b"next"]

    def test_large_text_is_validated_across_pieces(self) -> None:
        text = "€" * INFLATE_CHUNK_SIZE  # three bytes each: pieces split characters
        events = feed(
            deflate_server(), client_frame(Opcode.TEXT, raw_deflate(text.encode()), rsv=RSV1)
        )
        assert all(isinstance(e, TextMessage) for e in events)
        assert messages_of(events) == [text]

    def test_invalid_utf8_at_the_end_of_large_text_is_1007(self) -> None:
        payload = raw_deflate(b"a" * (2 * INFLATE_CHUNK_SIZE) + b"\xe2\x82")
        events = feed(deflate_server(), client_frame(Opcode.TEXT, payload, rsv=RSV1))
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_small_frame_bomb_inflates_in_bounded_pieces(self, small_bomb: bytes) -> None:
        conn = deflate_server()
        conn.receive_data(small_bomb)
        tracemalloc.start()
        try:
            total = largest = 0
            for event in conn.events():
                assert isinstance(event, BytesMessage)
                total += len(event.data)
                largest = max(largest, len(event.data))
                del event
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total == SMALL_BOMB_SIZE
        assert largest <= INFLATE_CHUNK_SIZE
        assert peak < 16 * INFLATE_CHUNK_SIZE, peak

    def test_small_frame_bomb_stops_at_max_message_size(self, small_bomb: bytes) -> None:
        limit = 200_000
        events = feed(deflate_server(max_message_size=limit), small_bomb)
        assert_fails(events, CloseReason.MESSAGE_TOO_BIG)
        delivered = sum(len(e.data) for e in events if isinstance(e, BytesMessage))
        assert delivered <= limit

    @pytest.mark.parametrize(("size", "fails"), [(1000, False), (1001, True)])
    def test_max_message_size_counts_inflated_bytes(self, size: int, fails: bool) -> None:
        wire = client_frame(Opcode.TEXT, raw_deflate(b"a" * size), rsv=RSV1)
        assert len(wire) < 1000
        events = feed(deflate_server(max_message_size=1000), wire)
        if fails:
            assert_fails(events, CloseReason.MESSAGE_TOO_BIG)
        else:
            assert messages_of(events) == ["a" * size]

    @pytest.mark.parametrize(("size", "fails"), [(100, False), (101, True)])
    def test_max_message_size_applies_to_uncompressed_messages(
        self, size: int, fails: bool
    ) -> None:
        events = feed(
            deflate_server(max_message_size=100), client_frame(Opcode.BINARY, bytes(size))
        )
        if fails:
            assert_fails(events, CloseReason.MESSAGE_TOO_BIG)
        else:
            assert messages_of(events) == [bytes(size)]

    def test_max_frame_size_applies_to_the_compressed_payload(self) -> None:
        payload = raw_deflate(bytes(range(256)))
        conn = deflate_server(max_frame_size=len(payload) - 1)
        events = feed(conn, client_frame(Opcode.BINARY, payload, rsv=RSV1))
        assert_fails(events, CloseReason.MESSAGE_TOO_BIG)

    def test_max_frame_size_applies_to_a_first_fragment(self) -> None:
        conn = deflate_server(max_frame_size=10)
        events = feed(conn, client_frame(Opcode.BINARY, bytes(11), fin=False))
        assert_fails(events, CloseReason.MESSAGE_TOO_BIG)

    def test_corrupt_data_after_the_first_piece_is_1007(self) -> None:
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        good = compressor.compress(bytes(3 * INFLATE_CHUNK_SIZE)) + compressor.flush(
            zlib.Z_SYNC_FLUSH
        )
        wire = client_frame(Opcode.BINARY, good + b"\xff", rsv=RSV1)  # BTYPE 11 is reserved
        events = feed(deflate_server(), wire)
        assert sum(len(e.data) for e in events if isinstance(e, BytesMessage)) >= (
            INFLATE_CHUNK_SIZE
        )
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    @pytest.mark.parametrize("size", [5, 3 * INFLATE_CHUNK_SIZE])
    def test_a_final_block_ends_the_stream_and_the_next_message_starts_anew(
        self, size: int
    ) -> None:
        """§7.2.3.4: after a final block the next message is a new deflate stream."""
        data = bytes(size)
        wire = client_frame(Opcode.BINARY, final_block_deflate(data), rsv=RSV1)
        wire += client_frame(Opcode.BINARY, raw_deflate(b"again"), rsv=RSV1)
        assert messages_of(feed(deflate_server(), wire)) == [data, b"again"]

    def test_data_after_a_final_block_in_a_large_message_is_1007(self) -> None:
        payload = final_block_deflate(bytes(3 * INFLATE_CHUNK_SIZE)) + b"junk"
        events = feed(deflate_server(), client_frame(Opcode.BINARY, payload, rsv=RSV1))
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_a_large_compressed_frame_takes_the_frame_hooks(self) -> None:
        """Over INFLATE_INPUT_SIZE compressed bytes, input is fed to zlib in slices."""
        data = random.Random(1).randbytes(2 * INFLATE_INPUT_SIZE)
        payload = raw_deflate(data)
        assert len(payload) > INFLATE_INPUT_SIZE
        events = feed(deflate_server(), client_frame(Opcode.BINARY, payload, rsv=RSV1))
        assert messages_of(events) == [data]


class _Recording(Extension):
    """An extension that claims nothing and records the hooks called."""

    name = "x-recording"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def frame_inbound_header(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        self.calls.append("header")
        return RsvBits(False, False, False)

    def frame_outbound(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        self.calls.append("outbound")
        return (rsv, data)


class _RecordingDeflate(PerMessageDeflate):
    """A PerMessageDeflate subclass: its overridden hooks must still be called."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[str] = []

    def frame_inbound_header(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        self.calls.append("header")
        return super().frame_inbound_header(proto, opcode, rsv, payload_length)

    def frame_outbound(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        self.calls.append("outbound")
        return super().frame_outbound(proto, opcode, rsv, data, fin)


class TestOtherExtensionsKeepTheHooks:
    """The fast paths are for PerMessageDeflate itself, alone."""

    def test_a_subclass_gets_its_hooks_called(self) -> None:
        client, server = _RecordingDeflate(), _RecordingDeflate()
        negotiate(client, server)
        pair = ConnectionPair([client], [server])
        for sender in (pair.client, pair.server):
            events = pair.send(sender, [TextMessage("hello " * 10)])
            assert messages_of(events) == ["hello " * 10]
        assert client.calls == ["outbound", "header"]
        assert server.calls == ["header", "outbound"]

    def test_another_extension_beside_it_sees_every_frame(self) -> None:
        client, server = negotiate()
        recording = _Recording()
        pair = ConnectionPair([client], [server, recording])
        assert messages_of(pair.send(pair.client, [BytesMessage(b"abc" * 50)])) == [b"abc" * 50]
        assert messages_of(pair.send(pair.server, [BytesMessage(b"xyz" * 50)])) == [b"xyz" * 50]
        assert recording.calls == ["header", "outbound"]


class TestSendingWholeMessages:
    """§7.2.1: a message sent as one frame compresses as the frame hook would."""

    @pytest.mark.parametrize("option", [{}, {"client_no_context_takeover": True}])
    def test_same_bytes_as_the_frame_hook(self, option: dict[str, bool]) -> None:
        fast, _ = negotiate(PerMessageDeflate(**option))
        hooked, _ = negotiate(PerMessageDeflate(**option))
        conn = Connection(ConnectionType.CLIENT, [fast])
        proto = FrameProtocol(True, [hooked])
        for text in ["", "Hello", "Hello", "ü€𝄞" * 300, ""]:
            [(fin, rsv, opcode, payload)] = parse_frames(conn.send(TextMessage(text)))
            bits, expected = hooked.frame_outbound(
                proto, Opcode.TEXT, RsvBits(False, False, False), text.encode(), True
            )
            assert (fin, rsv, opcode, payload) == (True, RSV1, Opcode.TEXT, expected)
            assert bits == RsvBits(True, False, False)

    def test_an_empty_message_after_another_is_one_zero_byte(self) -> None:
        pair = deflate_pair()
        for text in ["Hello", "", ""]:
            [(_, rsv, _, payload)] = parse_frames(pair.client.send(TextMessage(text)))
            assert rsv == RSV1
            if not text:
                assert payload == b"\x00"


class TestIdleMemory:
    """Compressors and decompressors exist only while they are needed."""

    COUNT = 20

    def _traced(self, *option: str, send: bool) -> int:
        """Memory per negotiated connection pair, after a message each way if ``send``."""
        settings = dict.fromkeys(option, True)
        tracemalloc.start()
        try:
            pairs = [
                deflate_pair(PerMessageDeflate(**settings), PerMessageDeflate(**settings))
                for _ in range(self.COUNT)
            ]
            if send:
                for pair in pairs:
                    for side in (pair.client, pair.server):
                        assert messages_of(pair.send(side, [TextMessage("x" * 100)])) == ["x" * 100]
            held, _ = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        del pairs
        return held // self.COUNT

    def test_negotiation_allocates_no_zlib_state(self) -> None:
        assert self._traced(send=False) < 32 * 1024

    def test_with_context_takeover_the_state_is_kept(self) -> None:
        # A compressor (~256 KiB at 15 bits) and a decompressor (~40 KiB) per side.
        assert self._traced(send=True) > 2 * 256 * 1024

    def test_without_context_takeover_nothing_is_kept(self) -> None:
        held = self._traced("client_no_context_takeover", "server_no_context_takeover", send=True)
        assert held < 32 * 1024

    def test_the_shared_compressors_are_bounded(self) -> None:
        ends = [
            Connection(
                ConnectionType.CLIENT,
                [negotiate(PerMessageDeflate(client_no_context_takeover=True))[0]],
            )
            for _ in range(IDLE_DEFLATERS_PER_WINDOW + 3)
        ]
        # Fragmented messages hold their compressors until they end.
        starts = [conn.send(TextMessage("a" * 100, message_finished=False)) for conn in ends]
        ends_ = [conn.send(TextMessage("b" * 100)) for conn in ends]
        assert len(_IDLE_DEFLATERS[15]) == IDLE_DEFLATERS_PER_WINDOW
        server = Connection(ConnectionType.SERVER, [negotiate()[1]])
        for start, end in zip(starts, ends_, strict=True):
            events = feed(server, start + end)
            assert messages_of(events) == ["a" * 100 + "b" * 100]

    def test_a_shared_compressor_carries_nothing_between_connections(self) -> None:
        """Each message inflates on its own, whichever connection used the compressor before."""
        ends = [
            Connection(
                ConnectionType.SERVER,
                [negotiate(server=PerMessageDeflate(server_no_context_takeover=True))[1]],
            )
            for _ in range(2)
        ]
        payloads = []
        for conn in ends * 2:
            [(_, _, _, payload)] = parse_frames(conn.send(BytesMessage(b"same data " * 20)))
            payloads.append(payload)
        assert len(set(payloads)) == 1
        assert raw_inflate(payloads[0]) == b"same data " * 20
