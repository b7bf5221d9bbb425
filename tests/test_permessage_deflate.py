"""RFC 7692: permessage-deflate negotiation, compression and inflation limits."""

from __future__ import annotations

import random
import tracemalloc
import zlib
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wsproto._deflate import INFLATE_CHUNK_SIZE, NegotiationError, parse_params
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Event, Message, Ping, TextMessage
from wsproto.extensions import PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode, RsvBits
from wsproto.handshake import client_extensions_handshake, server_extensions_handshake
from wsproto.utilities import RemoteProtocolError

from .frames import client_frame, server_frame
from .helpers import ConnectionPair, feed

TAIL = b"\x00\x00\xff\xff"
RSV1 = 0b100

# -- helpers -----------------------------------------------------------------


def negotiate(
    client: PerMessageDeflate | None = None, server: PerMessageDeflate | None = None
) -> tuple[PerMessageDeflate, PerMessageDeflate]:
    """Run the offer/accept/finalize exchange the handshake would run."""
    client = client or PerMessageDeflate()
    server = server or PerMessageDeflate()
    answer = server.accept(f"permessage-deflate; {client.offer()}")
    assert answer is True or isinstance(answer, str), answer
    client.finalize("permessage-deflate" if answer is True else f"permessage-deflate; {answer}")
    assert client.enabled()
    assert server.enabled()
    return client, server


def deflate_pair(
    client: PerMessageDeflate | None = None,
    server: PerMessageDeflate | None = None,
    **limits: int,
) -> ConnectionPair:
    client, server = negotiate(client, server)
    return ConnectionPair([client], [server], **limits)


def parse_frames(data: bytes) -> list[tuple[bool, int, int, bytes]]:
    """Split serialized frames into ``(fin, rsv, opcode, unmasked payload)``."""
    frames = []
    pos = 0
    while pos < len(data):
        b0, b1 = data[pos], data[pos + 1]
        length = b1 & 0x7F
        pos += 2
        if length == 126:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        key = b""
        if b1 & 0x80:
            key = data[pos : pos + 4]
            pos += 4
        payload = data[pos : pos + length]
        if key:
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
        pos += length
        frames.append((bool(b0 & 0x80), (b0 >> 4) & 0x7, b0 & 0x0F, payload))
    return frames


def raw_deflate(data: bytes, bits: int = 15) -> bytes:
    """Compress one message with plain zlib, as RFC 7692 §7.2.1 describes."""
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -bits)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    assert out.endswith(TAIL)
    return out[:-4]


def raw_inflate(payload: bytes, inflater: Any = None) -> bytes:
    """Decompress one message with plain zlib, as RFC 7692 §7.2.2 describes."""
    inflater = inflater or zlib.decompressobj(-15)
    out: bytes = inflater.decompress(payload + TAIL)
    return out


def messages_of(events: Sequence[Event]) -> list[str | bytes]:
    """Reassemble whole messages from (possibly partial) message events."""
    out: list[str | bytes] = []
    parts: list[Any] = []
    for event in events:
        if isinstance(event, Message):
            parts.append(event.data)
            if event.message_finished:
                out.append(("" if isinstance(event.data, str) else b"").join(parts))
                parts = []
    return out


def assert_fails(events: list[Event], code: int) -> None:
    """The connection failed with ``code``: a final close event, and only one."""
    assert events, "expected a CloseConnection"
    last = events[-1]
    assert isinstance(last, CloseConnection), events
    assert last.code == code, last
    assert not any(isinstance(e, CloseConnection) for e in events[:-1])


PROTO_SERVER = FrameProtocol(False, [])
PROTO_CLIENT = FrameProtocol(True, [])
NO_RSV = RsvBits(False, False, False)


class TestParameterSyntax:
    """RFC 6455 §9.1: extension-param = token [ "=" (token | quoted-string) ]."""

    def test_values_and_flags(self) -> None:
        assert parse_params('permessage-deflate; a; b=1; c="x\\y"; D = 2') == {
            "a": None,
            "b": "1",
            "c": "xy",
            "d": "2",
        }

    @pytest.mark.parametrize("text", ["", "permessage-deflate", "  permessage-deflate  "])
    def test_no_parameters(self, text: str) -> None:
        assert parse_params(text) == {}

    @pytest.mark.parametrize(
        "text", ['x="a b"', 'x=""', 'x="a\\"', 'x="a,b"', "x=a b", "x=(a)", "=1", "x;;y"]
    )
    def test_quoted_value_must_unquote_to_a_token(self, text: str) -> None:
        with pytest.raises(NegotiationError):
            parse_params(text)


# -- negotiation: the server's side ---------------------------------------------


class TestServerAcceptsOffers:
    """§7.1: the server answers each offer, or declines it so the next is tried."""

    def test_bare_offer_is_accepted_without_parameters(self) -> None:
        ext = PerMessageDeflate()
        assert ext.accept("permessage-deflate") is True
        assert ext.enabled()
        assert ext.client_max_window_bits == 15
        assert ext.server_max_window_bits == 15
        assert not ext.client_no_context_takeover
        assert not ext.server_no_context_takeover

    def test_offer_without_the_name_is_read_as_parameters(self) -> None:
        assert PerMessageDeflate().accept("server_no_context_takeover") == (
            "server_no_context_takeover"
        )
        assert PerMessageDeflate().accept("") is True

    def test_not_enabled_before_negotiation(self) -> None:
        assert not PerMessageDeflate().enabled()

    def test_server_no_context_takeover_offered_is_echoed(self) -> None:
        """§7.1.1.1: the server accepts it by including it in the response."""
        ext = PerMessageDeflate()
        assert ext.accept("permessage-deflate; server_no_context_takeover") == (
            "server_no_context_takeover"
        )
        assert ext.server_no_context_takeover

    def test_server_no_context_takeover_configured_is_sent_unasked(self) -> None:
        """§7.1.1.1: the server may include it even if the offer did not."""
        ext = PerMessageDeflate(server_no_context_takeover=True)
        assert ext.accept("permessage-deflate") == "server_no_context_takeover"

    def test_client_no_context_takeover_hint_is_made_binding(self) -> None:
        """§7.1.1.2: the client's hint, echoed, lets the server forget context."""
        ext = PerMessageDeflate()
        assert ext.accept("permessage-deflate; client_no_context_takeover") == (
            "client_no_context_takeover"
        )
        assert ext.client_no_context_takeover

    def test_client_no_context_takeover_configured_is_demanded(self) -> None:
        """§7.1.1.2: the server may include it in any response."""
        ext = PerMessageDeflate(client_no_context_takeover=True)
        assert ext.accept("permessage-deflate") == "client_no_context_takeover"

    @pytest.mark.parametrize("bits", range(9, 16))
    def test_server_max_window_bits_offered_is_echoed(self, bits: int) -> None:
        """§7.1.2.1: accepted by answering with the same or a smaller value."""
        ext = PerMessageDeflate()
        assert ext.accept(f"permessage-deflate; server_max_window_bits={bits}") == (
            f"server_max_window_bits={bits}"
        )
        assert ext.server_max_window_bits == bits

    @pytest.mark.parametrize(("offered", "configured", "agreed"), [(12, 10, 10), (9, 10, 9)])
    def test_server_max_window_bits_takes_the_smaller_limit(
        self, offered: int, configured: int, agreed: int
    ) -> None:
        ext = PerMessageDeflate(server_max_window_bits=configured)
        assert ext.accept(f"permessage-deflate; server_max_window_bits={offered}") == (
            f"server_max_window_bits={agreed}"
        )
        assert ext.server_max_window_bits == agreed

    def test_server_max_window_bits_configured_is_sent_unasked(self) -> None:
        """§7.1.2.1: the server may include it although the offer did not."""
        ext = PerMessageDeflate(server_max_window_bits=11)
        assert ext.accept("permessage-deflate") == "server_max_window_bits=11"

    def test_client_max_window_bits_without_value_is_answered_15(self) -> None:
        """§7.1.2.2: without a value it says the client supports the parameter.

        15 limits nothing; answered anyway, as wsproto 1.x answers it.
        """
        ext = PerMessageDeflate()
        assert ext.accept("permessage-deflate; client_max_window_bits") == (
            "client_max_window_bits=15"
        )
        assert ext.client_max_window_bits == 15

    @pytest.mark.parametrize("bits", range(8, 16))
    def test_client_max_window_bits_hint_is_echoed(self, bits: int) -> None:
        """§7.1.2.2: the server may answer with the client's own limit."""
        ext = PerMessageDeflate()
        assert ext.accept(f"permessage-deflate; client_max_window_bits={bits}") == (
            f"client_max_window_bits={bits}"
        )
        assert ext.client_max_window_bits == bits

    def test_client_max_window_bits_configured_limits_a_supporting_client(self) -> None:
        ext = PerMessageDeflate(client_max_window_bits=10)
        assert ext.accept("permessage-deflate; client_max_window_bits") == (
            "client_max_window_bits=10"
        )
        assert ext.client_max_window_bits == 10

    def test_client_max_window_bits_takes_the_smaller_of_hint_and_config(self) -> None:
        ext = PerMessageDeflate(client_max_window_bits=10)
        assert ext.accept("permessage-deflate; client_max_window_bits=12") == (
            "client_max_window_bits=10"
        )
        ext = PerMessageDeflate(client_max_window_bits=10)
        assert ext.accept("permessage-deflate; client_max_window_bits=9") == (
            "client_max_window_bits=9"
        )

    def test_client_max_window_bits_never_sent_to_a_client_that_did_not_offer_it(self) -> None:
        """§7.1.2.2: without it in the offer, the response must not include it."""
        ext = PerMessageDeflate(client_max_window_bits=10)
        assert ext.accept("permessage-deflate") is True
        assert ext.client_max_window_bits == 15

    def test_every_parameter_at_once(self) -> None:
        ext = PerMessageDeflate()
        answer = ext.accept(
            "permessage-deflate; client_no_context_takeover; server_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=11"
        )
        assert answer == (
            "server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=11"
        )

    @pytest.mark.parametrize(
        "offer",
        [
            # §7.1.2.1: server_max_window_bits needs a value from 8 to 15.
            "server_max_window_bits",
            "server_max_window_bits=7",
            "server_max_window_bits=16",
            "server_max_window_bits=0",
            "server_max_window_bits=-9",
            "server_max_window_bits=08",
            "server_max_window_bits=+9",
            "server_max_window_bits=9.0",
            "server_max_window_bits=1e1",
            "server_max_window_bits=\u0669",  # ARABIC-INDIC DIGIT NINE: int() takes it
            "server_max_window_bits=abc",
            'server_max_window_bits=""',
            'server_max_window_bits=" 9"',
            "server_max_window_bits=",
            # §7.1.2.2: client_max_window_bits, if valued, from 8 to 15.
            "client_max_window_bits=7",
            "client_max_window_bits=16",
            "client_max_window_bits=010",
            "client_max_window_bits=",
            # §7.1.1: the no-context-takeover parameters take no value.
            "server_no_context_takeover=1",
            "client_no_context_takeover=true",
            'client_no_context_takeover=""',
            # §7: duplicates and unknown parameters decline the offer.
            "server_no_context_takeover; server_no_context_takeover",
            "client_max_window_bits; client_max_window_bits=10",
            "server_max_window_bits=10; server_max_window_bits=10",
            "client_no_context_takeover; CLIENT_NO_CONTEXT_TAKEOVER",
            "mux",
            "client_max_window_bits; x=1",
            # RFC 6455 §9.1 syntax: token [= token / quoted-string].
            "client_max_window_bits;",
            ";",
            "client max window bits",
            "client_max_window_bits==10",
            'client_max_window_bits="10',
            "client_max_window_bits=1 0",
            'client_max_window_bits="1;0"',
        ],
    )
    def test_invalid_offer_is_declined(self, offer: str) -> None:
        ext = PerMessageDeflate()
        assert ext.accept(f"permessage-deflate; {offer}") is None
        assert not ext.enabled()

    @pytest.mark.parametrize(
        ("offer", "answer"),
        [
            ('server_max_window_bits="10"', "server_max_window_bits=10"),
            ('client_max_window_bits="9"', "client_max_window_bits=9"),
            (r'server_max_window_bits="1\2"', "server_max_window_bits=12"),
            ("  server_max_window_bits = 10  ", "server_max_window_bits=10"),
            ("\tserver_no_context_takeover\t", "server_no_context_takeover"),
            ("Server_No_Context_Takeover", "server_no_context_takeover"),
        ],
    )
    def test_quoted_values_whitespace_and_case(self, offer: str, answer: str) -> None:
        """RFC 6455 §9.1: a value may be a quoted-string whose content is a token."""
        assert PerMessageDeflate().accept(f"permessage-deflate;{offer}") == answer

    def test_name_is_matched_case_insensitively(self) -> None:
        assert PerMessageDeflate().accept("PerMessage-Deflate; server_no_context_takeover") == (
            "server_no_context_takeover"
        )

    def test_declined_offer_leaves_no_trace(self) -> None:
        ext = PerMessageDeflate(server_max_window_bits=12)
        assert ext.accept("permessage-deflate; server_no_context_takeover; bogus") is None
        assert not ext.server_no_context_takeover
        assert ext.server_max_window_bits == 12
        assert ext.accept("permessage-deflate") == "server_max_window_bits=12"

    def test_several_offers_in_one_header_value(self) -> None:
        """§5.1: offers come in preference order; the first acceptable one wins."""
        header = (
            "permessage-deflate; server_max_window_bits=7, "
            "permessage-deflate; unknown_param, "
            "permessage-deflate; client_max_window_bits=10; server_no_context_takeover, "
            "permessage-deflate"
        )
        ext = PerMessageDeflate()
        answers = []
        for offer in header.split(","):
            answer = ext.accept(offer.strip())
            answers.append(answer)
            if answer is not None:
                break
        assert answers == [
            None,
            None,
            "server_no_context_takeover; client_max_window_bits=10",
        ]
        assert ext.client_max_window_bits == 10
        assert ext.server_no_context_takeover

    def test_several_offers_through_the_handshake_helper(self) -> None:
        supported: list[Any] = [PerMessageDeflate()]
        header = (
            "permessage-deflate; server_max_window_bits=16, "
            "permessage-deflate; server_max_window_bits=9"
        )
        answer = server_extensions_handshake([header], supported)
        assert answer == b"permessage-deflate; server_max_window_bits=9"
        assert supported[0].server_max_window_bits == 9

    def test_accepting_again_starts_from_the_configuration(self) -> None:
        """Negotiated values do not leak into the answer to a later offer."""
        ext = PerMessageDeflate()
        assert ext.accept("permessage-deflate; server_max_window_bits=9") == (
            "server_max_window_bits=9"
        )
        assert ext.accept("permessage-deflate") is True
        assert ext.server_max_window_bits == 15


# -- negotiation: the client's side ---------------------------------------------


class TestClientOffer:
    """§7.1: what the client offers."""

    def test_default_offer_is_wsproto_1x_offer(self) -> None:
        """§7.1.2.2: client_max_window_bits tells the server it may limit us.

        Worded as wsproto 1.x words it, so servers see the same header.
        """
        assert PerMessageDeflate().offer() == "client_max_window_bits=15; server_max_window_bits=15"

    def test_bare_answer_to_the_default_offer_opens(self) -> None:
        """server_max_window_bits=15 limits nothing: an answer may leave it out."""
        ext = PerMessageDeflate()
        ext.offer()
        ext.finalize("permessage-deflate")
        assert ext.server_max_window_bits == 15
        assert ext.client_max_window_bits == 15

    def test_answer_must_echo_a_real_window_limit(self) -> None:
        """§7.1.2.1: a limit below 15 is accepted only by echoing it."""
        ext = PerMessageDeflate(server_max_window_bits=10)
        ext.offer()
        with pytest.raises(RemoteProtocolError, match="server_max_window_bits"):
            ext.finalize("permessage-deflate")

    def test_configured_offer(self) -> None:
        ext = PerMessageDeflate(
            client_no_context_takeover=True,
            client_max_window_bits=10,
            server_no_context_takeover=True,
            server_max_window_bits=12,
        )
        assert ext.offer() == (
            "client_max_window_bits=10; server_max_window_bits=12; "
            "client_no_context_takeover; server_no_context_takeover"
        )

    def test_own_offer_is_acceptable_to_our_server(self) -> None:
        ext = PerMessageDeflate(client_no_context_takeover=True, server_max_window_bits=9)
        assert PerMessageDeflate().accept(ext.offer()) == (
            "client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=15"
        )


class TestClientFinalize:
    """§7.1: the client checks the server's response against its offer."""

    def test_bare_response(self) -> None:
        ext = PerMessageDeflate()
        ext.finalize("permessage-deflate")
        assert ext.enabled()
        assert ext.client_max_window_bits == 15
        assert ext.server_max_window_bits == 15

    def test_response_parameters_are_applied(self) -> None:
        ext = PerMessageDeflate()
        ext.finalize(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
            "server_max_window_bits=10; client_max_window_bits=11"
        )
        assert ext.server_no_context_takeover
        assert ext.client_no_context_takeover
        assert ext.server_max_window_bits == 10
        assert ext.client_max_window_bits == 11

    @pytest.mark.parametrize("bits", range(8, 16))
    def test_server_window_sent_unasked_is_accepted(self, bits: int) -> None:
        """§7.1.2.1: the server may limit its own window without being asked."""
        ext = PerMessageDeflate()
        ext.finalize(f"permessage-deflate; server_max_window_bits={bits}")
        assert ext.server_max_window_bits == bits

    @pytest.mark.parametrize("bits", [9, 10])
    def test_server_window_within_our_limit(self, bits: int) -> None:
        ext = PerMessageDeflate(server_max_window_bits=10)
        ext.finalize(f"permessage-deflate; server_max_window_bits={bits}")
        assert ext.server_max_window_bits == bits

    def test_own_client_window_limit_survives_a_larger_answer(self) -> None:
        ext = PerMessageDeflate(client_max_window_bits=10)
        ext.finalize("permessage-deflate; client_max_window_bits=12")
        assert ext.client_max_window_bits == 10

    def test_own_no_context_takeover_survives_its_absence(self) -> None:
        ext = PerMessageDeflate(client_no_context_takeover=True)
        ext.finalize("permessage-deflate")
        assert ext.client_no_context_takeover

    @pytest.mark.parametrize(
        ("settings_", "response"),
        [
            # §7.1.2.1: a limit we asked for must be echoed, and not exceeded.
            ({"server_max_window_bits": 10}, "permessage-deflate; server_max_window_bits=11"),
            ({"server_max_window_bits": 10}, "permessage-deflate"),
            # §7.1.1.1: a server accepts server_no_context_takeover only by echoing it.
            ({"server_no_context_takeover": True}, "permessage-deflate"),
            # §7.1.2.2: in a response, client_max_window_bits has a value.
            ({}, "permessage-deflate; client_max_window_bits"),
            ({}, "permessage-deflate; client_max_window_bits=7"),
            ({}, "permessage-deflate; server_max_window_bits=16"),
            ({}, "permessage-deflate; server_max_window_bits"),
            ({}, "permessage-deflate; server_no_context_takeover=yes"),
            ({}, "permessage-deflate; server_no_context_takeover; server_no_context_takeover"),
            ({}, "permessage-deflate; sever_no_context_takeover"),
            ({}, "permessage-deflate; server_max_window_bits=10;"),
        ],
    )
    def test_invalid_response_is_rejected(self, settings_: dict[str, Any], response: str) -> None:
        ext = PerMessageDeflate(**settings_)
        with pytest.raises(RemoteProtocolError, match="permessage-deflate"):
            ext.finalize(response)
        assert not ext.enabled()

    def test_invalid_response_through_the_handshake_helper(self) -> None:
        with pytest.raises(RemoteProtocolError):
            client_extensions_handshake(
                ["permessage-deflate; client_max_window_bits=99"], [PerMessageDeflate()]
            )


class TestWindowBitsSetting:
    """§7.1.2: window sizes are powers of two from 8 to 15."""

    @pytest.mark.parametrize("bits", range(8, 16))
    def test_valid(self, bits: int) -> None:
        ext = PerMessageDeflate(client_max_window_bits=bits, server_max_window_bits=bits)
        assert (ext.client_max_window_bits, ext.server_max_window_bits) == (bits, bits)

    @pytest.mark.parametrize("bits", [-1, 0, 7, 16, 32])
    def test_out_of_range(self, bits: int) -> None:
        with pytest.raises(ValueError, match="8 to 15"):
            PerMessageDeflate(client_max_window_bits=bits)
        with pytest.raises(ValueError, match="8 to 15"):
            PerMessageDeflate(server_max_window_bits=bits)
        ext = PerMessageDeflate()
        with pytest.raises(ValueError, match="8 to 15"):
            ext.server_max_window_bits = bits

    @pytest.mark.parametrize("bits", [True, "10", 10.0])
    def test_not_an_int(self, bits: Any) -> None:
        with pytest.raises(TypeError):
            PerMessageDeflate(client_max_window_bits=bits)

    def test_repr_shows_parameters(self) -> None:
        text = repr(PerMessageDeflate(server_no_context_takeover=True, client_max_window_bits=9))
        assert "client_max_window_bits=9" in text
        assert "server_no_context_takeover" in text
        assert "client_no_context_takeover" not in text
        text = repr(negotiate(PerMessageDeflate(client_no_context_takeover=True))[1])
        assert "enabled" in text
        assert "client_no_context_takeover" in text
        assert "server_no_context_takeover" not in text


# -- compression ----------------------------------------------------------------


class TestCompressedMessages:
    """§6 and §7.2: compressed messages between two negotiated connections."""

    @pytest.mark.parametrize("sender", ["client", "server"])
    @pytest.mark.parametrize(
        "message",
        [TextMessage("Hello"), TextMessage("ü€𝄞" * 500), BytesMessage(bytes(range(256)) * 40)],
    )
    def test_round_trip(self, sender: str, message: Message[Any]) -> None:
        pair = deflate_pair()
        side = getattr(pair, sender)
        for _ in range(3):  # later messages reuse the context
            wire = side.send(message)
            (_, rsv, _, payload), *rest = parse_frames(wire)
            assert not rest
            assert rsv == RSV1
            assert len(payload) < len(message.data) or len(message.data) < 10
            events = feed(pair.peer(side), wire)
            assert messages_of(events) == [message.data]
            assert type(events[0]) is type(message)

    @pytest.mark.parametrize("sender", ["client", "server"])
    def test_rfc_example_hello(self, sender: str) -> None:
        """§7.2.3.1: "Hello" compresses to f2 48 cd c9 c9 07 00."""
        pair = deflate_pair()
        side = getattr(pair, sender)
        [(_, rsv, opcode, payload)] = parse_frames(side.send(TextMessage("Hello")))
        assert (rsv, opcode, payload) == (RSV1, Opcode.TEXT, bytes.fromhex("f248cdc9c90700"))

    def test_final_frame_drops_the_empty_block_tail(self) -> None:
        """§7.2.1: remove the 00 00 ff ff the flush leaves at the end."""
        pair = deflate_pair()
        for text in ["a", "b" * 1000, "xyz"]:
            [(_, _, _, payload)] = parse_frames(pair.server.send(TextMessage(text)))
            assert not payload.endswith(TAIL)

    @pytest.mark.parametrize("sender", ["client", "server"])
    def test_empty_message_is_a_single_zero_byte(self, sender: str) -> None:
        """§7.2.3.6: an empty message compresses to 0x00, after others too."""
        pair = deflate_pair()
        side = getattr(pair, sender)
        messages: list[Message[Any]] = [BytesMessage(b""), TextMessage("abc"), TextMessage("")]
        for message in messages:
            wire = side.send(message)
            [(_, rsv, _, payload)] = parse_frames(wire)
            assert rsv == RSV1
            if not message.data:
                assert payload == b"\x00"
            assert messages_of(feed(pair.peer(side), wire)) == [message.data]

    @pytest.mark.parametrize("sender", ["client", "server"])
    def test_fragmented_message_is_one_stream_with_rsv1_on_the_first_frame(
        self, sender: str
    ) -> None:
        """§6.1: RSV1 on the first frame only; §7.2.1: one deflate stream."""
        pair = deflate_pair()
        side = getattr(pair, sender)
        pieces = ["Hello, ", "", "world! " * 50, "", "bye"]
        wire = b"".join(
            side.send(TextMessage(p, message_finished=i == len(pieces) - 1))
            for i, p in enumerate(pieces)
        )
        frames = parse_frames(wire)
        # An empty fragment adds nothing to the stream.
        assert frames[1][3] == frames[3][3] == b""
        assert [(fin, rsv, opcode) for fin, rsv, opcode, _ in frames] == [
            (False, RSV1, Opcode.TEXT),
            (False, 0, Opcode.CONTINUATION),
            (False, 0, Opcode.CONTINUATION),
            (False, 0, Opcode.CONTINUATION),
            (True, 0, Opcode.CONTINUATION),
        ]
        stream = b"".join(payload for *_, payload in frames)
        assert raw_inflate(stream) == "".join(pieces).encode()
        assert messages_of(feed(pair.peer(side), wire)) == ["".join(pieces)]

    def test_fragment_data_arrives_before_the_message_ends(self) -> None:
        """Each frame is flushed, so a receiver can stream a message as it comes."""
        pair = deflate_pair()
        events = pair.send(pair.client, [TextMessage("first part", message_finished=False)])
        assert "".join(e.data for e in events if isinstance(e, TextMessage)) == "first part"
        assert not any(isinstance(e, Message) and e.message_finished for e in events)
        events = pair.send(pair.client, [TextMessage(" and the end")])
        assert messages_of(events) == [" and the end"]

    def test_empty_final_frame_after_flushed_fragments(self) -> None:
        """A final frame with nothing new still ends the stream correctly."""
        pair = deflate_pair()
        wire = pair.client.send(BytesMessage(b"abc" * 10, message_finished=False))
        wire += pair.client.send(BytesMessage(b""))
        frames = parse_frames(wire)
        assert frames[-1][3] == b"\x00"
        assert messages_of(feed(pair.server, wire)) == [b"abc" * 10]
        # The context stays in step: the next message still decodes.
        assert messages_of(pair.send(pair.client, [BytesMessage(b"abcabc")])) == [b"abcabc"]

    def test_control_frames_inside_a_compressed_message(self) -> None:
        """§5.4: control frames may interleave; they are never compressed (§6)."""
        pair = deflate_pair()
        events = pair.send(
            pair.client,
            [TextMessage("one ", message_finished=False), Ping(b"p"), TextMessage("two")],
        )
        assert Ping(b"p") in events
        assert messages_of(events) == ["one two"]

    def test_uncompressed_message_passes_through(self) -> None:
        """§6: a message without RSV1 is not compressed, even once negotiated."""
        _, server = negotiate()
        conn = Connection(ConnectionType.SERVER, [server])
        events = feed(
            conn,
            client_frame(Opcode.TEXT, b"plain", fin=False)
            + client_frame(Opcode.CONTINUATION, b" text"),
        )
        assert messages_of(events) == ["plain text"]
        # and a compressed one right after still works
        events = feed(conn, client_frame(Opcode.TEXT, raw_deflate(b"zipped"), rsv=RSV1))
        assert messages_of(events) == ["zipped"]

    def test_not_negotiated_extension_does_nothing(self) -> None:
        """An extension that was offered but not agreed must not touch frames."""
        conn = Connection(ConnectionType.SERVER, [PerMessageDeflate()])
        wire = conn.send(TextMessage("Hello"))
        assert parse_frames(wire) == [(True, 0, Opcode.TEXT, b"Hello")]
        events = feed(conn, client_frame(Opcode.TEXT, raw_deflate(b"Hello"), rsv=RSV1))
        assert_fails(events, CloseReason.PROTOCOL_ERROR)


class TestContextTakeover:
    """§7.1.1: context takeover, on by default, off when negotiated."""

    MESSAGE = TextMessage("the same text, over and over again " * 4)

    def _sizes(self, pair: ConnectionPair, side: Connection, count: int = 3) -> list[bytes]:
        payloads = []
        for _ in range(count):
            wire = side.send(self.MESSAGE)
            payloads.append(parse_frames(wire)[0][3])
            assert messages_of(feed(pair.peer(side), wire)) == [self.MESSAGE.data]
        return payloads

    @pytest.mark.parametrize("sender", ["client", "server"])
    def test_with_takeover_a_repeated_message_shrinks(self, sender: str) -> None:
        pair = deflate_pair()
        first, second, third = self._sizes(pair, getattr(pair, sender))
        assert len(second) < len(first) / 2
        assert third == second

    @pytest.mark.parametrize(
        ("sender", "option"),
        [("client", "client_no_context_takeover"), ("server", "server_no_context_takeover")],
    )
    def test_without_takeover_each_message_stands_alone(self, sender: str, option: str) -> None:
        pair = deflate_pair(PerMessageDeflate(**{option: True}))
        payloads = self._sizes(pair, getattr(pair, sender))
        assert payloads[0] == payloads[1] == payloads[2]
        # Each one decodes on its own, with no history.
        for payload in payloads:
            assert raw_inflate(payload) == self.MESSAGE.data.encode()

    @pytest.mark.parametrize(
        ("sender", "option"),
        [("client", "server_no_context_takeover"), ("server", "client_no_context_takeover")],
    )
    def test_the_other_side_keeps_its_takeover(self, sender: str, option: str) -> None:
        pair = deflate_pair(PerMessageDeflate(**{option: True}))
        first, second, _ = self._sizes(pair, getattr(pair, sender))
        assert len(second) < len(first) / 2

    def test_peer_breaking_its_no_takeover_promise_fails_1007(self) -> None:
        """With client_no_context_takeover agreed, back-references fail."""
        _, server = negotiate(PerMessageDeflate(client_no_context_takeover=True))
        conn = Connection(ConnectionType.SERVER, [server])
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        text = b"a message long enough to be referred back to"
        for expect_ok in (True, False):
            payload = compressor.compress(text) + compressor.flush(zlib.Z_SYNC_FLUSH)
            events = feed(conn, client_frame(Opcode.BINARY, payload[:-4], rsv=RSV1))
            if expect_ok:
                assert messages_of(events) == [text]
            else:
                assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_takeover_lets_a_peer_refer_back(self) -> None:
        """§7.2.3.2: the second "Hello" is f2 00 11 00 00, a back-reference."""
        client_conn = Connection(ConnectionType.CLIENT, [negotiate()[0]])
        wire = server_frame(Opcode.TEXT, bytes.fromhex("f248cdc9c90700"), rsv=RSV1)
        wire += server_frame(Opcode.TEXT, bytes.fromhex("f200110000"), rsv=RSV1)
        assert messages_of(feed(client_conn, wire)) == ["Hello", "Hello"]


class TestWindowBits:
    """§7.1.2: negotiated window sizes are honoured on both paths."""

    @pytest.mark.parametrize("bits", [9, 10, 12, 15])
    def test_our_compressor_stays_within_the_window(self, bits: int) -> None:
        client, _ = negotiate(server=PerMessageDeflate(client_max_window_bits=bits))
        assert client.client_max_window_bits == bits
        conn = Connection(ConnectionType.CLIENT, [client])
        # A repeat 1.5 windows apart cannot be matched inside the window.
        block = bytes(range(256)) * ((1 << bits) * 3 // 2 // 256)
        payload = parse_frames(conn.send(BytesMessage(block + block)))[0][3]
        inflater = zlib.decompressobj(-bits)
        assert inflater.decompress(payload + TAIL) == block + block

    @pytest.mark.parametrize(
        ("offer", "configured"),
        [("server_max_window_bits=8", None), ("server_max_window_bits=12", 8), ("", 8)],
    )
    def test_server_declines_to_compress_with_eight_bits(
        self, offer: str, configured: int | None
    ) -> None:
        """zlib cannot deflate with 256 bytes (it uses 512, and a peer inflating
        with 256 fails): the offer is declined, as wsproto 1.x declines it."""
        server = PerMessageDeflate(server_max_window_bits=configured)
        assert server.accept(f"permessage-deflate; {offer}".rstrip("; ")) is None
        assert not server.enabled()

    def test_server_takes_the_next_offer_instead(self) -> None:
        header = server_extensions_handshake(
            ["permessage-deflate; server_max_window_bits=8", "permessage-deflate"],
            [PerMessageDeflate()],
        )
        assert header == b"permessage-deflate"

    def test_client_fails_a_response_that_makes_it_compress_with_eight_bits(self) -> None:
        """RFC 7692 §7.1: a response the client cannot accept fails the connection."""
        client = PerMessageDeflate()
        with pytest.raises(RemoteProtocolError, match="8"):
            client.finalize("permessage-deflate; client_max_window_bits=8")
        assert not client.enabled()

    def test_a_peer_agreed_to_eight_bits_is_inflated(self) -> None:
        """zlib-based peers that agreed to 8 bits deflate with zlib's 9-bit window,
        whose matches never reach back more than 250 bytes."""
        server = PerMessageDeflate()
        server.accept("permessage-deflate; client_max_window_bits=8")
        assert server.client_max_window_bits == 8
        conn = Connection(ConnectionType.SERVER, [server])
        data = bytes(range(256)) * 4 + bytes(range(100)) * 10
        events = feed(conn, client_frame(Opcode.BINARY, raw_deflate(data, bits=9), rsv=RSV1))
        assert messages_of(events) == [data]

    @pytest.mark.parametrize("bits", [8, 9, 12])
    def test_history_beyond_the_agreed_window_is_gone(self, bits: int) -> None:
        """§7.1.2.2: only the agreed window carries over to the next message."""
        server = PerMessageDeflate()
        server.accept(f"permessage-deflate; client_max_window_bits={bits}")
        conn = Connection(ConnectionType.SERVER, [server])
        # A peer that ignores the agreement and refers back further than it.
        compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
        block = random.Random(bits).randbytes((1 << bits) + 100)
        events = []
        for _ in range(2):
            payload = compressor.compress(block) + compressor.flush(zlib.Z_SYNC_FLUSH)
            events += feed(conn, client_frame(Opcode.BINARY, payload[:-4], rsv=RSV1))
        assert messages_of(events) == [block]
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)


# -- interoperability with zlib ---------------------------------------------------


class TestZlibInterop:
    """§7.2.1/§7.2.2 checked against plain zlib, independently of our code."""

    def test_our_messages_inflate_with_plain_zlib(self) -> None:
        pair = deflate_pair()
        inflater = zlib.decompressobj(-15)
        for i in range(20):
            data = f"message {i} ".encode() * (i + 1)
            payload = parse_frames(pair.server.send(BytesMessage(data)))[0][3]
            assert raw_inflate(payload, inflater) == data

    def test_plain_zlib_messages_inflate_with_takeover(self) -> None:
        client, _ = negotiate()
        conn = Connection(ConnectionType.CLIENT, [client])
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        sent = []
        wire = b""
        for i in range(20):
            data = f"message {i} ".encode() * (i + 1)
            payload = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
            wire += server_frame(Opcode.BINARY, payload[:-4], rsv=RSV1)
            sent.append(data)
        assert messages_of(feed(conn, wire, chunk=7)) == sent

    @pytest.mark.parametrize("cut", [1, 2, 5, 11])
    def test_plain_zlib_stream_split_into_frames(self, cut: int) -> None:
        """§7.2.3.1: a compressed message may be fragmented anywhere."""
        _, server = negotiate()
        conn = Connection(ConnectionType.SERVER, [server])
        text = b"fragmented fragments of a fragmented message"
        payload = raw_deflate(text)
        parts = [payload[i : i + cut] for i in range(0, len(payload), cut)]
        wire = b"".join(
            client_frame(
                Opcode.TEXT if i == 0 else Opcode.CONTINUATION,
                part,
                fin=i == len(parts) - 1,
                rsv=RSV1 if i == 0 else 0,
            )
            for i, part in enumerate(parts)
        )
        assert messages_of(feed(conn, wire)) == [text.decode()]

    @pytest.mark.parametrize(
        ("name", "payload"),
        [
            ("§7.2.3.1 fixed Huffman", "f248cdc9c90700"),
            ("§7.2.3.3 no compression", "000500faff48656c6c6f00"),
            ("§7.2.3.4 BFINAL set", "f348cdc9c9070000"),
            ("BFINAL set, no empty block after it", "f348cdc9c90700"),
            ("§7.2.3.5 two blocks", "f248050000 00ffff cac9c90700"),
        ],
    )
    def test_rfc_payloads(self, name: str, payload: str) -> None:
        client, _ = negotiate()
        conn = Connection(ConnectionType.CLIENT, [client])
        wire = server_frame(Opcode.TEXT, bytes.fromhex(payload), rsv=RSV1)
        # Twice: after a final block the next message starts a new stream.
        assert messages_of(feed(conn, wire + wire)) == ["Hello", "Hello"], name

    def test_rfc_fragmented_example(self) -> None:
        """§7.2.3.1: 41 03 f2 48 cd, 80 04 c9 c9 07 00."""
        client, _ = negotiate()
        conn = Connection(ConnectionType.CLIENT, [client])
        wire = bytes.fromhex("4103f248cd") + bytes.fromhex("8004c9c90700")
        assert messages_of(feed(conn, wire)) == ["Hello"]


# -- failures ---------------------------------------------------------------------


class TestFailures:
    """§6.1 and §8: what fails the connection, and with which code."""

    @pytest.fixture
    def server_conn(self) -> Connection:
        return Connection(ConnectionType.SERVER, [negotiate()[1]])

    def test_rsv1_on_a_continuation_frame_is_1002(self, server_conn: Connection) -> None:
        """§6.1: RSV1 is set on the first frame of a message only."""
        wire = client_frame(Opcode.TEXT, raw_deflate(b"abc"), fin=False, rsv=RSV1)
        wire += client_frame(Opcode.CONTINUATION, b"", rsv=RSV1)
        assert_fails(feed(server_conn, wire), CloseReason.PROTOCOL_ERROR)

    def test_rsv1_on_a_continuation_of_an_uncompressed_message_is_1002(
        self, server_conn: Connection
    ) -> None:
        wire = client_frame(Opcode.TEXT, b"abc", fin=False)
        wire += client_frame(Opcode.CONTINUATION, raw_deflate(b"x"), rsv=RSV1)
        assert_fails(feed(server_conn, wire), CloseReason.PROTOCOL_ERROR)

    def test_rsv1_on_a_control_frame_is_1002(self, server_conn: Connection) -> None:
        """§6.1: control frames are never compressed."""
        events = feed(server_conn, client_frame(Opcode.PING, b"", rsv=RSV1))
        assert_fails(events, CloseReason.PROTOCOL_ERROR)

    @pytest.mark.parametrize("rsv", [0b010, 0b001, 0b110])
    def test_other_rsv_bits_are_1002(self, server_conn: Connection, rsv: int) -> None:
        events = feed(server_conn, client_frame(Opcode.BINARY, raw_deflate(b"x"), rsv=rsv))
        assert_fails(events, CloseReason.PROTOCOL_ERROR)

    def test_rsv1_without_negotiation_is_1002(self) -> None:
        """RFC 6455 §5.2: a reserved bit with no extension that defines it."""
        conn = Connection(ConnectionType.SERVER)
        events = feed(conn, client_frame(Opcode.TEXT, raw_deflate(b"Hello"), rsv=RSV1))
        assert_fails(events, CloseReason.PROTOCOL_ERROR)

    @pytest.mark.parametrize(
        "payload",
        [
            bytes.fromhex("ff"),  # BTYPE 11 is reserved
            bytes.fromhex("0005000000"),  # stored block whose NLEN is not ~LEN
        ],
    )
    def test_corrupt_data_is_1007(self, server_conn: Connection, payload: bytes) -> None:
        events = feed(server_conn, client_frame(Opcode.BINARY, payload, rsv=RSV1))
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    @pytest.mark.parametrize("after", [b"\x01", b"\x00\x00", raw_deflate(b"second stream")])
    def test_data_after_a_final_block_is_1007(self, server_conn: Connection, after: bytes) -> None:
        """§7.2.3.4: only an empty stored block's first byte may follow a final block."""
        payload = bytes.fromhex("f348cdc9c90700") + after
        events = feed(server_conn, client_frame(Opcode.BINARY, payload, rsv=RSV1))
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_junk_after_a_final_block_fails_before_the_message_ends(
        self, server_conn: Connection
    ) -> None:
        """Bytes after a final block would pile up unseen by any size limit."""
        wire = client_frame(Opcode.BINARY, bytes.fromhex("f348cdc9c9070000"), fin=False, rsv=RSV1)
        wire += client_frame(Opcode.CONTINUATION, b"\x00", fin=False)
        wire += client_frame(Opcode.CONTINUATION, b"more", fin=False)
        events = feed(server_conn, wire)
        assert b"".join(e.data for e in events if isinstance(e, BytesMessage)) == b"Hello"
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_events_before_the_corruption_are_kept(self, server_conn: Connection) -> None:
        wire = client_frame(Opcode.TEXT, raw_deflate(b"fine"), rsv=RSV1)
        wire += client_frame(Opcode.TEXT, b"\xff\xff", rsv=RSV1)
        events = feed(server_conn, wire)
        assert messages_of(events) == ["fine"]
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_invalid_utf8_inside_compressed_text_is_1007(self, server_conn: Connection) -> None:
        events = feed(server_conn, client_frame(Opcode.TEXT, raw_deflate(b"ok \xff"), rsv=RSV1))
        assert_fails(events, CloseReason.INVALID_FRAME_PAYLOAD_DATA)

    def test_the_close_can_be_answered(self, server_conn: Connection) -> None:
        [event] = feed(server_conn, client_frame(Opcode.BINARY, b"\xff", rsv=RSV1))
        assert isinstance(event, CloseConnection)
        [(_, _, opcode, payload)] = parse_frames(server_conn.send(event.response()))
        assert opcode == Opcode.CLOSE
        assert payload[:2] == (1007).to_bytes(2, "big")


# -- bounded inflation --------------------------------------------------------------


BOMB_SIZE = 50 * 1000 * 1000


@pytest.fixture(scope="module")
def bomb() -> bytes:
    """50 MB of zeros, compressed to about 50 KB, as one masked client frame."""
    payload = raw_deflate(b"\x00" * BOMB_SIZE, bits=15)
    assert len(payload) < 100_000
    return client_frame(Opcode.BINARY, payload, rsv=RSV1)


class TestDecompressionBomb:
    """§8.1 leaves limits to the implementation; ours inflate in bounded steps."""

    def test_inflates_in_bounded_pieces(self, bomb: bytes) -> None:
        conn = Connection(ConnectionType.SERVER, [negotiate()[1]])
        conn.receive_data(bomb)
        tracemalloc.start()
        try:
            count = total = 0
            largest = 0
            finished = False
            for event in conn.events():
                assert isinstance(event, BytesMessage)
                count += 1
                total += len(event.data)
                largest = max(largest, len(event.data))
                finished = event.message_finished
                assert event.data.count(0) == len(event.data)
                del event
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert total == BOMB_SIZE
        assert finished
        assert largest <= INFLATE_CHUNK_SIZE
        assert count >= BOMB_SIZE // INFLATE_CHUNK_SIZE
        # A few pieces alive at once, never the whole message.
        assert peak < 16 * INFLATE_CHUNK_SIZE, peak

    def test_max_message_size_stops_it_early(self, bomb: bytes) -> None:
        limit = 1_000_000
        conn = Connection(ConnectionType.SERVER, [negotiate()[1]], max_message_size=limit)
        conn.receive_data(bomb)
        tracemalloc.start()
        try:
            events = list(conn.events())
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert_fails(events, CloseReason.MESSAGE_TOO_BIG)
        delivered = sum(len(e.data) for e in events if isinstance(e, BytesMessage))
        assert delivered <= limit
        assert peak < limit + 16 * INFLATE_CHUNK_SIZE, peak

    def test_bomb_split_across_many_receive_calls(self, bomb: bytes) -> None:
        conn = Connection(ConnectionType.SERVER, [negotiate()[1]])
        total = largest = 0
        for i in range(0, len(bomb), 4096):
            conn.receive_data(bomb[i : i + 4096])
            for event in conn.events():
                assert isinstance(event, BytesMessage)
                total += len(event.data)
                largest = max(largest, len(event.data))
        assert total == BOMB_SIZE
        assert largest <= INFLATE_CHUNK_SIZE

    def test_large_input_frame_inflates_in_order(self) -> None:
        """A big compressed frame, fed whole, comes out intact and bounded."""
        data = bytes(range(256)) * 4096 + b"\x00" * (4 * INFLATE_CHUNK_SIZE)
        conn = Connection(ConnectionType.SERVER, [negotiate()[1]])
        events = feed(conn, client_frame(Opcode.BINARY, raw_deflate(data), rsv=RSV1))
        assert all(len(e.data) <= INFLATE_CHUNK_SIZE for e in events if isinstance(e, BytesMessage))
        assert messages_of(events) == [data]


# -- the public hooks ------------------------------------------------------------


class TestPublicHooks:
    """The Extension hooks, called directly as third-party code might."""

    def test_payload_and_complete_hooks_inflate(self) -> None:
        ext = negotiate()[1]
        header = ext.frame_inbound_header(PROTO_SERVER, Opcode.TEXT, RsvBits(True, False, False), 7)
        assert header == RsvBits(True, False, False)
        payload = raw_deflate(b"Hello" * 100)
        out = ext.frame_inbound_payload_data(PROTO_SERVER, payload[:5])
        out2 = ext.frame_inbound_payload_data(PROTO_SERVER, payload[5:])
        end = ext.frame_inbound_complete(PROTO_SERVER, True)
        assert isinstance(out, bytes)
        assert isinstance(out2, bytes)
        assert isinstance(end, bytes)
        assert out + out2 + end == b"Hello" * 100

    def test_the_tail_itself_can_carry_data(self) -> None:
        """§7.2.2: the appended 00 00 ff ff is part of the stream; here a stored
        block of 5 bytes gets its last 4 from it."""
        ext = negotiate()[1]
        ext.frame_inbound_header(PROTO_SERVER, Opcode.BINARY, RsvBits(True, False, False), 6)
        assert ext.frame_inbound_payload_data(PROTO_SERVER, b"\x00\x05\x00\xfa\xffH") == b"H"
        # A frame ending without FIN keeps the message going.
        assert ext.frame_inbound_complete(PROTO_SERVER, False) is None
        assert ext.frame_inbound_header(PROTO_SERVER, Opcode.CONTINUATION, NO_RSV, 0) == NO_RSV
        assert ext.frame_inbound_payload_data(PROTO_SERVER, b"") == b""
        assert ext.frame_inbound_complete(PROTO_SERVER, True) == TAIL

    def test_uncompressed_frames_pass_through(self) -> None:
        ext = negotiate()[1]
        assert ext.frame_inbound_header(PROTO_SERVER, Opcode.BINARY, NO_RSV, 3) == NO_RSV
        assert ext.frame_inbound_payload_data(PROTO_SERVER, b"abc") == b"abc"
        assert ext.frame_inbound_complete(PROTO_SERVER, True) is None

    def test_corrupt_data_returns_a_close_reason(self) -> None:
        ext = negotiate()[1]
        ext.frame_inbound_header(PROTO_SERVER, Opcode.BINARY, RsvBits(True, False, False), 1)
        result = ext.frame_inbound_payload_data(PROTO_SERVER, b"\xff")
        assert result == CloseReason.INVALID_FRAME_PAYLOAD_DATA

    def test_corrupt_tail_returns_a_close_reason(self) -> None:
        ext = negotiate()[1]
        ext.frame_inbound_header(PROTO_SERVER, Opcode.BINARY, RsvBits(True, False, False), 1)
        # A stored block header claiming 5 bytes: the appended tail cannot be its NLEN.
        assert ext.frame_inbound_payload_data(PROTO_SERVER, b"\x00\x05\x00") == b""
        result = ext.frame_inbound_complete(PROTO_SERVER, True)
        assert result == CloseReason.INVALID_FRAME_PAYLOAD_DATA

    def test_header_rejections(self) -> None:
        ext = negotiate()[1]
        rsv1 = RsvBits(True, False, False)
        assert ext.frame_inbound_header(PROTO_SERVER, Opcode.CONTINUATION, rsv1, 1) == (
            CloseReason.PROTOCOL_ERROR
        )
        assert ext.frame_inbound_header(PROTO_SERVER, Opcode.PING, rsv1, 1) == (
            CloseReason.PROTOCOL_ERROR
        )
        assert ext.frame_inbound_header(PROTO_SERVER, Opcode.PING, NO_RSV, 1) == NO_RSV

    def test_outbound_leaves_control_frames_and_other_bits_alone(self) -> None:
        ext = negotiate()[0]
        assert ext.frame_outbound(PROTO_CLIENT, Opcode.PING, NO_RSV, b"x", True) == (NO_RSV, b"x")
        rsv, data = ext.frame_outbound(
            PROTO_CLIENT, Opcode.BINARY, RsvBits(False, True, False), b"x", True
        )
        assert rsv == RsvBits(True, True, False)
        assert raw_inflate(data) == b"x"

    def test_not_negotiated_hooks_are_inert(self) -> None:
        ext = PerMessageDeflate()
        rsv1 = RsvBits(True, False, False)
        assert ext.frame_inbound_header(PROTO_SERVER, Opcode.TEXT, rsv1, 1) == NO_RSV
        assert ext.frame_outbound(PROTO_SERVER, Opcode.TEXT, NO_RSV, b"x", True) == (NO_RSV, b"x")


# -- property ---------------------------------------------------------------------

# A message: its pieces, each sent as one frame.
_text_pieces = st.lists(st.text(max_size=200), min_size=1, max_size=4)
_byte_pieces = st.lists(
    st.one_of(st.binary(max_size=200), st.sampled_from([b"", b"aaaa" * 300, bytes(1000)])),
    min_size=1,
    max_size=4,
)
_plans = st.lists(st.one_of(_text_pieces, _byte_pieces), min_size=1, max_size=5)
_configs = st.fixed_dictionaries(
    {
        "client_no_context_takeover": st.booleans(),
        "server_no_context_takeover": st.booleans(),
        # 8 bits are never agreed for compressing (TestWindowBits covers them).
        "client_max_window_bits": st.none() | st.integers(9, 15),
        "server_max_window_bits": st.none() | st.integers(9, 15),
    }
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    plan=_plans,
    client_config=_configs,
    server_config=_configs,
    chunk=st.integers(1, 64) | st.none(),
    sender=st.sampled_from(["client", "server"]),
)
def test_any_messages_survive_any_chunking(
    plan: list[list[Any]],
    client_config: dict[str, Any],
    server_config: dict[str, Any],
    chunk: int | None,
    sender: str,
) -> None:
    """§7.2: whatever the parameters, fragmentation and read sizes, messages arrive intact."""
    pair = deflate_pair(PerMessageDeflate(**client_config), PerMessageDeflate(**server_config))
    side = getattr(pair, sender)
    events: list[Event] = []
    for pieces in plan:
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            if isinstance(piece, str):
                events.append(TextMessage(piece, message_finished=last))
            else:
                events.append(BytesMessage(piece, message_finished=last))
    # Twice over, so later messages run on the context the first ones left.
    expected: list[str | bytes] = [
        "".join(p) if isinstance(p[0], str) else b"".join(p) for p in plan
    ]
    for _ in range(2):
        received = pair.send(side, events, chunk)
        assert messages_of(received) == expected
        assert not any(isinstance(e, CloseConnection) for e in received)


def test_unaccepted_extension_is_inert() -> None:
    """An offer negotiation declined is left out of the connection entirely."""
    from wsproto.connection import Connection, ConnectionType
    from wsproto.events import BytesMessage, CloseConnection

    from .frames import client_frame

    conn = Connection(ConnectionType.SERVER, [PerMessageDeflate()])
    conn.receive_data(client_frame(0x2, b"plain") + client_frame(0x2, b"x", rsv=4))
    events = list(conn.events())
    assert events[0] == BytesMessage(b"plain")
    assert isinstance(events[1], CloseConnection)
    assert events[1].code == 1002
