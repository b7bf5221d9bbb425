"""RFC 6455 §4 (the opening handshake) and §9.1 (extension negotiation)."""

from __future__ import annotations

import base64
import re

import h11
import pytest

from wsproto import WSConnection
from wsproto._negotiation import negotiate_extensions
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Event,
    RejectConnection,
    RejectData,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.frame_protocol import CloseReason, FrameProtocol, Opcode, RsvBits
from wsproto.handshake import (
    MAX_HANDSHAKE_SIZE,
    WEBSOCKET_VERSION,
    H11Handshake,
    client_extensions_handshake,
    server_extensions_handshake,
)
from wsproto.typing import Headers
from wsproto.utilities import LocalProtocolError, RemoteProtocolError, generate_accept_token

CLIENT = ConnectionType.CLIENT
SERVER = ConnectionType.SERVER

# The sample key and answer of RFC 6455 §1.3.
KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

BASE_HEADERS: Headers = [
    (b"Host", b"server.example.com"),
    (b"Upgrade", b"websocket"),
    (b"Connection", b"Upgrade"),
    (b"Sec-WebSocket-Key", KEY),
    (b"Sec-WebSocket-Version", b"13"),
]


def with_header(headers: Headers, name: bytes, *new: bytes) -> Headers:
    """``headers`` with every ``name`` line replaced by one line per ``new`` value."""
    kept = [(k, v) for k, v in headers if k.lower() != name.lower()]
    return kept + [(name, value) for value in new]


def raw_request(
    headers: Headers = BASE_HEADERS,
    method: bytes = b"GET",
    target: bytes = b"/chat",
    version: bytes = b"1.1",
) -> bytes:
    lines = [b"%s %s HTTP/%s" % (method, target, version)]
    lines += [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def raw_response(headers: Headers, status: bytes = b"101 Switching Protocols") -> bytes:
    lines = [b"HTTP/1.1 " + status] + [name + b": " + value for name, value in headers]
    return b"\r\n".join(lines) + b"\r\n\r\n"


def drain(conn: WSConnection, data: bytes | None) -> list[Event]:
    conn.receive_data(data)
    return list(conn.events())


def start_client(request: Request | None = None) -> tuple[WSConnection, bytes, bytes]:
    """A client that sent its Request; returns it, the bytes it sent and its key."""
    client = WSConnection(CLIENT)
    data = client.send(request or Request(host="server.example.com", target="/chat"))
    found = re.search(rb"\r\nSec-WebSocket-Key: (\S+)\r\n", data)
    assert found is not None
    return client, data, found.group(1)


def accept_headers(key: bytes) -> Headers:
    token = generate_accept_token(key)  # checked against RFC 6455's sample below
    return [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", token),
    ]


def open_pair(
    request: Request | None = None, accept: AcceptConnection | None = None
) -> tuple[WSConnection, WSConnection, list[Event], list[Event]]:
    """Run a whole handshake; returns both ends and what each received."""
    client, server = WSConnection(CLIENT), WSConnection(SERVER)
    server_events = drain(server, client.send(request or Request(host="localhost", target="/")))
    client_events = drain(client, server.send(accept or AcceptConnection()))
    return client, server, server_events, client_events


class XorExtension(Extension):
    """A test extension: sets RSV1 and XORs every payload byte, so that a message
    survives a round trip only if both ends run it."""

    def __init__(
        self,
        name: str = "x-xor",
        offer: bool | str = True,
        answer: bool | str | None = True,
        decline: tuple[str, ...] = (),
    ) -> None:
        self.name = name
        self._offer = offer
        self._answer = answer
        self._decline = decline
        self.offers_seen: list[str] = []
        self.finalized: list[str] = []

    def offer(self) -> bool | str:
        return self._offer

    def accept(self, offer: str) -> bool | str | None:
        self.offers_seen.append(offer)
        if any(word in offer for word in self._decline):
            return None
        return self._answer

    def finalize(self, offer: str) -> None:
        self.finalized.append(offer)

    def frame_inbound_header(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        return RsvBits(True, False, False)

    def frame_inbound_payload_data(self, proto: FrameProtocol, data: bytes) -> bytes:
        return bytes(b ^ 0x5A for b in data)

    def frame_outbound(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        return RsvBits(True, rsv.rsv2, rsv.rsv3), bytes(b ^ 0x5A for b in data)


class TestFullHandshake:
    """§4.1 and §4.2: a client and a server agree, then exchange messages."""

    @pytest.mark.parametrize("sender", ["client", "server"])
    def test_handshake_then_message_round_trip(self, sender: str) -> None:
        client, server, server_events, client_events = open_pair(
            Request(host="localhost", target="/chat?room=1", subprotocols=["chat", "superchat"]),
            AcceptConnection(subprotocol="superchat", extra_headers=[(b"X-Server", b"yes")]),
        )
        (request,) = server_events
        assert isinstance(request, Request)
        assert (request.host, request.target) == ("localhost", "/chat?room=1")
        assert request.subprotocols == ["chat", "superchat"]
        assert client_events == [
            AcceptConnection(subprotocol="superchat", extra_headers=[(b"x-server", b"yes")])
        ]
        assert client.state is server.state is ConnectionState.OPEN
        src, dst = (client, server) if sender == "client" else (server, client)
        data = src.send(TextMessage("héllo")) + src.send(BytesMessage(b"\x00\xff"))
        assert drain(dst, data) == [TextMessage("héllo"), BytesMessage(b"\x00\xff")]
        assert isinstance(client.handshake.connection, Connection)
        assert client.handshake.connection.client
        assert not server.handshake.connection.client

    def test_any_split_of_the_handshake_gives_the_same_events(self) -> None:
        """The request and the response may arrive one byte at a time."""
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        request = client.send(Request(host="h", target="/", subprotocols=["p"]))
        got: list[Event] = []
        for i in range(len(request)):
            got += drain(server, request[i : i + 1])
        assert got == drain(WSConnection(SERVER), request)
        assert [type(e) for e in got] == [Request]
        response = server.send(AcceptConnection(subprotocol="p")) + server.send(TextMessage("x"))
        got = []
        for i in range(len(response)):
            got += drain(client, response[i : i + 1])
        assert got == [AcceptConnection(subprotocol="p"), TextMessage("x")]

    def test_repr_shows_role_and_state(self) -> None:
        handshake = H11Handshake(CLIENT)
        assert repr(handshake) == "<H11Handshake client CONNECTING>"
        assert repr(H11Handshake(SERVER)) == "<H11Handshake server CONNECTING>"

    def test_websocket_version_constant(self) -> None:
        assert WEBSOCKET_VERSION == b"13"


class TestClientRequest:
    """§4.1: the client's opening handshake."""

    def test_a_request_after_an_early_rejection_is_ignored(self) -> None:
        # Found by the stateful tests: h11 failed inside itself (AttributeError,
        # which wsproto 1.x lets escape); the answer is given, nothing is left
        # to read. The end of the transport then fails as in 1.x.
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        request = client.send(Request(host="example.com", target="/chat"))
        server.send(RejectConnection(status_code=400))
        server.receive_data(request)
        assert list(server.events()) == []
        assert server.state is ConnectionState.CLOSED
        with pytest.raises(RemoteProtocolError):
            server.receive_data(None)
        assert server.state is ConnectionState.CLOSED

    def test_no_request_once_a_response_ended_the_handshake(self) -> None:
        # Found by the stateful tests: h11 failed inside itself (AttributeError).
        server, client = WSConnection(SERVER), WSConnection(CLIENT)
        client.receive_data(server.send(RejectConnection(status_code=403)))
        list(client.events())
        with pytest.raises(LocalProtocolError, match="handshake is over"):
            client.send(Request(host="example.com", target="/"))
        assert client.state is ConnectionState.CLOSED

    def test_request_carries_the_required_headers(self) -> None:
        client = WSConnection(CLIENT)
        data = client.send(
            Request(
                host="example.com:8080",
                target="/path?q=1",
                subprotocols=["a", "b"],
                extra_headers=[(b"Origin", b"http://example.com")],
            )
        )
        parser = h11.Connection(h11.SERVER)
        parser.receive_data(data)
        request = parser.next_event()
        assert isinstance(request, h11.Request)
        assert (request.method, request.target, request.http_version) == (
            b"GET",
            b"/path?q=1",
            b"1.1",
        )
        headers = dict(request.headers)
        assert headers[b"host"] == b"example.com:8080"
        assert headers[b"upgrade"] == b"websocket"
        assert headers[b"connection"] == b"Upgrade"
        assert headers[b"sec-websocket-version"] == b"13"
        assert len(base64.b64decode(headers[b"sec-websocket-key"], validate=True)) == 16
        assert headers[b"sec-websocket-protocol"] == b"a, b"
        assert headers[b"origin"] == b"http://example.com"
        assert b"sec-websocket-extensions" not in headers
        assert isinstance(parser.next_event(), h11.EndOfMessage)

    def test_every_request_has_a_fresh_key(self) -> None:
        keys = {start_client()[2] for _ in range(5)}
        assert len(keys) == 5

    def test_international_host_is_sent_as_idna(self) -> None:
        _, data, _ = start_client(Request(host="bücher.example", target="/"))
        assert b"\r\nHost: xn--bcher-kva.example\r\n" in data

    def test_invalid_host_name(self) -> None:
        with pytest.raises(LocalProtocolError, match="invalid host name"):
            WSConnection(CLIENT).send(Request(host="bücher..example", target="/"))

    @pytest.mark.parametrize(
        ("request_event", "raised_by_1x"),
        [
            (Request(host="bücher..example", target="/"), UnicodeError),
            (Request(host="h", target="/é"), UnicodeEncodeError),
            (Request(host="h", target="/", subprotocols=["é"]), UnicodeEncodeError),
        ],
    )
    def test_names_1x_could_not_encode_are_also_unicode_errors(
        self, request_event: Request, raised_by_1x: type[Exception]
    ) -> None:
        """wsproto 1.x raised a UnicodeEncodeError (the IDNA codec: a UnicodeError) here.

        Ours is also a UnicodeEncodeError, so ``except`` clauses written for
        1.x still catch it, and its message is ours.
        """
        with pytest.raises(LocalProtocolError) as info:
            WSConnection(CLIENT).send(request_event)
        assert isinstance(info.value, raised_by_1x)
        assert isinstance(info.value, UnicodeEncodeError)
        assert str(info.value).startswith(("invalid host", "the request target", "subprotocol"))

    @pytest.mark.parametrize(
        "request_event",
        [
            Request(host="h", target="/", extra_headers=[(b"Bad Name", b"x")]),
            Request(host="h", target="/", extra_headers=[(b"X-A", b"bad\r\nvalue")]),
        ],
    )
    def test_h11_refusals_are_also_h11_errors(self, request_event: Request) -> None:
        """wsproto 1.x let h11's LocalProtocolError through; ours is both types."""
        with pytest.raises(LocalProtocolError) as info:
            WSConnection(CLIENT).send(request_event)
        assert isinstance(info.value, h11.LocalProtocolError)

    def test_extension_offers(self) -> None:
        """§9.1: True offers the bare name, a string adds parameters, False omits it."""
        _, data, _ = start_client(
            Request(
                host="h",
                target="/",
                extensions=[
                    XorExtension("bare", offer=True),
                    XorExtension("params", offer="a=1; b"),
                    XorExtension("full", offer="full; c=2"),
                    XorExtension("silent", offer=False),
                ],
            )
        )
        assert b"\r\nSec-WebSocket-Extensions: bare, params; a=1; b, full; c=2\r\n" in data

    @pytest.mark.parametrize(
        ("request_event", "message"),
        [
            (Request(host="h", target="/", extensions=["permessage-deflate"]), "Extension objects"),
            (Request(host="h", target="/é"), "percent-encode"),
            (Request(host="h", target="/", subprotocols=["bad proto"]), "not an HTTP token"),
            (Request(host="h", target="/", extra_headers=[(b"Bad Name", b"x")]), "Request"),
        ],
    )
    def test_invalid_requests_are_local_errors(self, request_event: Request, message: str) -> None:
        client = WSConnection(CLIENT)
        with pytest.raises(LocalProtocolError, match=message):
            client.send(request_event)

    def test_request_is_sent_once(self) -> None:
        client, _, _ = start_client()
        with pytest.raises(LocalProtocolError, match="already sent"):
            client.send(Request(host="h", target="/"))

    @pytest.mark.parametrize(
        "event",
        [AcceptConnection(), RejectConnection(), RejectData(b"x"), TextMessage("early")],
    )
    def test_client_sends_only_a_request(self, event: Event) -> None:
        client, _, _ = start_client()
        with pytest.raises(LocalProtocolError):
            client.send(event)

    def test_message_during_handshake_says_what_to_do(self) -> None:
        client, _, _ = start_client()
        with pytest.raises(LocalProtocolError, match="wait for the server's AcceptConnection"):
            client.send(TextMessage("early"))


class TestClientReadsResponse:
    """§4.1 (end): the client validates the server's answer, or fails the connection."""

    def test_tokens_are_case_insensitive_lists(self) -> None:
        client, _, key = start_client()
        headers = with_header(accept_headers(key), b"Connection", b"keep-alive, UPGRADE")
        headers = with_header(headers, b"Upgrade", b"WebSocket")
        (event,) = drain(client, raw_response(headers))
        assert event == AcceptConnection()
        assert client.state is ConnectionState.OPEN

    def test_extra_headers_exclude_the_websocket_ones(self) -> None:
        client, _, key = start_client(Request(host="h", target="/", subprotocols=["p"]))
        headers = [*accept_headers(key), (b"Sec-WebSocket-Protocol", b"p"), (b"Set-Cookie", b"a=1")]
        (event,) = drain(client, raw_response(headers))
        assert event == AcceptConnection(subprotocol="p", extra_headers=[(b"set-cookie", b"a=1")])

    @pytest.mark.parametrize("status", [b"100 Continue", b"102 Processing", b"103 Early Hints"])
    def test_other_informational_responses_reject(self, status: bytes) -> None:
        """The manual: a 1xx answer other than 101 is a RejectConnection without a body.

        wsproto 1.x does the same and moves to CLOSED; a client waiting for a
        101 after it would wait for ever (trio-websocket's test of this case).
        """
        client, _, key = start_client()
        data = raw_response([(b"Link", b"</a>")], status) + raw_response(accept_headers(key))
        assert drain(client, data) == [
            RejectConnection(status_code=int(status[:3]), headers=[(b"link", b"</a>")])
        ]
        assert client.state is ConnectionState.CLOSED

    @pytest.mark.parametrize(
        ("change", "message"),
        [
            ((b"Upgrade",), "Upgrade: websocket"),
            ((b"Upgrade", b"h2c"), "Upgrade: websocket"),
            ((b"Upgrade", b"websocket, h2c"), "Upgrade: websocket"),
            ((b"Connection",), "Connection: Upgrade"),
            ((b"Connection", b"keep-alive"), "Connection: Upgrade"),
            ((b"Sec-WebSocket-Accept",), "Sec-WebSocket-Accept"),
            ((b"Sec-WebSocket-Accept", ACCEPT), "Sec-WebSocket-Accept"),
            ((b"Sec-WebSocket-Protocol", b"other"), "did not offer"),
            ((b"Sec-WebSocket-Protocol", b"p, q"), "did not offer"),
            ((b"Sec-WebSocket-Extensions", b"x-unknown"), "not offered"),
        ],
    )
    def test_invalid_101_fails_the_connection(
        self, change: tuple[bytes, ...], message: str
    ) -> None:
        client, _, key = start_client(Request(host="h", target="/", subprotocols=["p", "q"]))
        headers = with_header(accept_headers(key), *change)
        with pytest.raises(RemoteProtocolError, match=message) as info:
            client.receive_data(raw_response(headers))
        # A client has nothing to answer with (§4.1: it fails the connection);
        # the state stays CONNECTING, as in wsproto 1.x.
        assert info.value.event_hint is None
        assert client.state is ConnectionState.CONNECTING
        with pytest.raises(LocalProtocolError, match="failed"):
            client.handshake.connection  # noqa: B018
        with pytest.raises(LocalProtocolError, match="handshake failed; close the transport"):
            client.send(TextMessage("too early"))
        assert list(client.events()) == []
        client.receive_data(b"more")  # ignored once failed, as in wsproto 1.x
        client.receive_data(None)
        assert list(client.events()) == []

    def test_malformed_response_raises_again(self) -> None:
        """As in wsproto 1.x (h11 stays failed): every later receive_data raises again."""
        client, _, _ = start_client()
        with pytest.raises(RemoteProtocolError, match="malformed") as first:
            client.receive_data(b"NOTHTTP\r\n\r\n")
        for more in (b"more", None):
            with pytest.raises(RemoteProtocolError, match="malformed") as again:
                client.receive_data(more)
            assert str(again.value) == str(first.value)
            assert again.value.event_hint is None
        assert client.state is ConnectionState.CONNECTING

    def test_duplicate_accept_header_fails(self) -> None:
        client, _, key = start_client()
        headers = [*accept_headers(key), (b"Sec-WebSocket-Accept", accept_headers(key)[2][1])]
        with pytest.raises(RemoteProtocolError, match="Sec-WebSocket-Accept"):
            client.receive_data(raw_response(headers))

    def test_subprotocol_when_none_offered_fails(self) -> None:
        client, _, key = start_client()
        headers = [*accept_headers(key), (b"Sec-WebSocket-Protocol", b"p")]
        with pytest.raises(RemoteProtocolError, match="did not offer"):
            client.receive_data(raw_response(headers))

    def test_malformed_response_fails(self) -> None:
        client, _, _ = start_client()
        with pytest.raises(RemoteProtocolError, match="malformed HTTP response"):
            client.receive_data(b"NOT HTTP AT ALL\r\n\r\n")
        assert client.state is ConnectionState.CONNECTING

    def test_oversized_response_fails(self) -> None:
        client, _, key = start_client()
        headers = [*accept_headers(key), (b"X-Big", b"a" * MAX_HANDSHAKE_SIZE)]
        with pytest.raises(RemoteProtocolError, match="exceeds"):
            client.receive_data(raw_response(headers))
        client, _, _ = start_client()
        client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n")
        for _ in range(MAX_HANDSHAKE_SIZE // 100):
            client.receive_data(b"X-Pad: " + b"p" * 91 + b"\r\n")
        with pytest.raises(RemoteProtocolError, match="malformed"):
            client.receive_data(b"X-Pad: " + b"p" * 91 + b"\r\n")
        assert client.state is ConnectionState.CONNECTING


class TestRejection:
    """§4.2.2 item 4 and §4.1: a server refuses with an ordinary HTTP response."""

    def test_reject_with_body_in_pieces(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        data = server.send(
            RejectConnection(status_code=403, headers=[(b"Content-Length", b"9")], has_body=True)
        )
        assert data.startswith(b"HTTP/1.1 403 Forbidden\r\n")
        assert server.state is ConnectionState.REJECTING
        assert drain(client, data) == [
            RejectConnection(status_code=403, headers=[(b"content-length", b"9")], has_body=True)
        ]
        assert client.state is ConnectionState.REJECTING
        assert drain(client, server.send(RejectData(b"go ", body_finished=False))) == [
            RejectData(b"go ", body_finished=False)
        ]
        assert server.state is ConnectionState.REJECTING
        assert drain(client, server.send(RejectData(b"away!!"))) == [
            RejectData(b"away!!", body_finished=False),
            RejectData(b"", body_finished=True),
        ]
        assert client.state is server.state is ConnectionState.CLOSED

    def test_reject_without_body_sends_a_complete_response(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        data = server.send(RejectConnection(status_code=404))
        assert data == b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        assert server.state is ConnectionState.CLOSED
        assert drain(client, data) == [
            RejectConnection(status_code=404, headers=[(b"content-length", b"0")], has_body=True),
            RejectData(b"", body_finished=True),
        ]
        assert client.state is ConnectionState.CLOSED

    def test_no_content_status_gets_no_length(self) -> None:
        """RFC 9110 §8.6: a 204 response carries no Content-Length."""
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        assert server.send(RejectConnection(status_code=204)) == b"HTTP/1.1 204 No Content\r\n\r\n"
        assert server.state is ConnectionState.CLOSED

    def test_unregistered_status_has_no_reason_phrase(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        assert server.send(RejectConnection(status_code=599)).startswith(b"HTTP/1.1 599 \r\n")

    def test_body_without_length_is_chunked(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        data = server.send(RejectConnection(status_code=400, has_body=True))
        data += server.send(RejectData(b"bad"))
        assert b"transfer-encoding: chunked" in data.lower()
        events = drain(client, data)
        assert b"".join(e.data for e in events if isinstance(e, RejectData)) == b"bad"
        assert events[-1] == RejectData(b"", body_finished=True)

    @pytest.mark.parametrize("eof", [None, b""])
    def test_body_delimited_by_close(self, eof: bytes | None) -> None:
        """The manual: RejectData events end with ``body_finished``, even at EOF.

        ``b""`` ends the transport too, as in wsproto 1.x: its own test of
        this case feeds what h11 writes for the end of such a body, nothing.
        """
        client, _, _ = start_client()
        events = drain(
            client, b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\n\r\nlater"
        )
        assert events == [
            RejectConnection(status_code=503, headers=[(b"connection", b"close")], has_body=True),
            RejectData(b"later", body_finished=False),
        ]
        assert drain(client, eof) == [RejectData(b"", body_finished=True)]
        assert client.state is ConnectionState.CLOSED

    def test_truncated_body_fails(self) -> None:
        client, _, _ = start_client()
        drain(client, b"HTTP/1.1 403 Forbidden\r\nContent-Length: 10\r\n\r\nabc")
        with pytest.raises(RemoteProtocolError, match="closed"):
            client.receive_data(None)
        assert client.state is ConnectionState.REJECTING  # as in wsproto 1.x

    def test_reject_data_needs_reject_with_body(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        with pytest.raises(LocalProtocolError, match="RejectConnection"):
            server.send(RejectData(b"x"))
        server.send(RejectConnection())
        with pytest.raises(LocalProtocolError, match="RejectConnection"):
            server.send(RejectData(b"x"))

    def test_reject_needs_a_final_status(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        with pytest.raises(LocalProtocolError, match="AcceptConnection"):
            server.send(RejectConnection(status_code=101))
        assert server.state is ConnectionState.CONNECTING

    def test_answer_once(self) -> None:
        _, server, _, _ = open_pair()
        with pytest.raises(LocalProtocolError, match="OPEN"):
            server.handshake.send(RejectConnection())
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        server.send(RejectConnection())
        with pytest.raises(LocalProtocolError, match="already answered"):
            server.send(AcceptConnection())

    def test_no_messages_after_rejecting(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        drain(client, server.send(RejectConnection()))
        for conn in (client, server):
            with pytest.raises(LocalProtocolError, match="ended in state CLOSED"):
                conn.send(TextMessage("late"))

    def test_data_after_rejecting_is_ignored(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        server.send(RejectConnection(has_body=True))
        assert drain(server, b"junk") == []
        server.send(RejectData(b""))
        assert drain(server, b"junk") == []
        assert server.state is ConnectionState.CLOSED


# (headers change, method, version, status, message)
SERVER_FAILURES = [
    pytest.param([], b"POST", b"1.1", 400, "GET", id="method"),
    pytest.param([], b"GET", b"1.0", 400, "HTTP/1.1", id="http-1.0"),
    pytest.param([(b"Upgrade",)], b"GET", b"1.1", 400, "Upgrade", id="no-upgrade"),
    pytest.param([(b"Upgrade", b"h2c")], b"GET", b"1.1", 400, "Upgrade", id="upgrade-h2c"),
    pytest.param([(b"Connection",)], b"GET", b"1.1", 400, "Connection", id="no-connection"),
    pytest.param(
        [(b"Connection", b"keep-alive")], b"GET", b"1.1", 400, "Connection", id="connection-ka"
    ),
    pytest.param([(b"Sec-WebSocket-Key",)], b"GET", b"1.1", 400, "missing", id="no-key"),
    pytest.param([(b"Sec-WebSocket-Key", KEY, KEY)], b"GET", b"1.1", 400, "2 times", id="two-keys"),
    pytest.param([(b"Sec-WebSocket-Key", b"c2hvcnQ=")], b"GET", b"1.1", 400, "16", id="short-key"),
    pytest.param(
        [(b"Sec-WebSocket-Key", b"not base64 at all!!!!!==")],
        b"GET",
        b"1.1",
        400,
        "16",
        id="non-base64-key",
    ),
    pytest.param([(b"Content-Length", b"3")], b"GET", b"1.1", 400, "body", id="content-length"),
    pytest.param([(b"Transfer-Encoding", b"chunked")], b"GET", b"1.1", 400, "body", id="chunked"),
    pytest.param([(b"Host",)], b"GET", b"1.1", 400, "Host", id="no-host"),
    pytest.param(
        [(b"Sec-WebSocket-Protocol", b"ok, b@d")],
        b"GET",
        b"1.1",
        400,
        "token",
        id="bad-subprotocol",
    ),
]


class TestServerReadsRequest:
    """§4.2.1: the server reads and validates the client's opening handshake."""

    @pytest.mark.parametrize(
        ("sent", "host"),
        [
            (b"xn--bcher-kva.example", "bücher.example"),
            (b"xn--bcher-kva.example:8080", "bücher.example:8080"),
            (b"XN--BCHER-KVA.example", "XN--BCHER-KVA.example"),  # as 1.x: Python's codec
            (b"xn--zz.example", "xn--zz.example"),  # not valid IDNA: passed on as it came
            (b"Server.Example.com", "Server.Example.com"),
        ],
    )
    def test_idna_host_is_decoded(self, sent: bytes, host: str) -> None:
        """As in wsproto 1.x, Request.host is the name the client's Request was given."""
        server = WSConnection(SERVER)
        (event,) = drain(server, raw_request(with_header(BASE_HEADERS, b"Host", sent)))
        assert isinstance(event, Request)
        assert event.host == host

    def test_request_event_fields(self) -> None:
        headers = [
            *BASE_HEADERS,
            (b"Sec-WebSocket-Protocol", b"chat, superchat"),
            (b"Sec-WebSocket-Protocol", b"other"),
            (b"Sec-WebSocket-Extensions", b"permessage-deflate; client_max_window_bits, x-a"),
            (b"Sec-WebSocket-Extensions", b"x-b"),
            (b"Origin", b"http://example.com"),
        ]
        server = WSConnection(SERVER)
        (event,) = drain(server, raw_request(headers, target=b"/chat?x=%20"))
        assert event == Request(
            host="server.example.com",
            target="/chat?x=%20",
            extensions=["permessage-deflate; client_max_window_bits", "x-a", "x-b"],
            extra_headers=[
                (b"upgrade", b"websocket"),
                (b"connection", b"Upgrade"),
                (b"sec-websocket-key", KEY),
                (b"sec-websocket-version", b"13"),
                (b"origin", b"http://example.com"),
            ],
            subprotocols=["chat", "superchat", "other"],
        )
        assert server.state is ConnectionState.CONNECTING

    @pytest.mark.parametrize(
        ("upgrade", "connection"),
        [
            ([b"WebSocket"], [b"UPGRADE"]),
            ([b"h2c, websocket"], [b"keep-alive, Upgrade"]),
            ([b"websocket"], [b"keep-alive", b"upgrade"]),
        ],
    )
    def test_header_tokens(self, upgrade: list[bytes], connection: list[bytes]) -> None:
        """Tokens compare case-insensitively, in comma lists, over several lines."""
        headers = with_header(BASE_HEADERS, b"Upgrade", *upgrade)
        headers = with_header(headers, b"Connection", *connection)
        server = WSConnection(SERVER)
        (event,) = drain(server, raw_request(headers))
        assert isinstance(event, Request)
        assert server.send(AcceptConnection()).startswith(b"HTTP/1.1 101 Switching Protocols")

    @pytest.mark.parametrize(("changes", "method", "version", "status", "message"), SERVER_FAILURES)
    def test_invalid_requests_are_rejected(
        self,
        changes: list[tuple[bytes, ...]],
        method: bytes,
        version: bytes,
        status: int,
        message: str,
    ) -> None:
        headers = BASE_HEADERS
        for change in changes:
            headers = with_header(headers, *change)
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError, match=message) as info:
            server.receive_data(raw_request(headers, method=method, version=version))
        assert info.value.event_hint == RejectConnection(status_code=status)
        assert list(server.events()) == []
        self.assert_hint_can_be_sent(server, info.value, status)

    @pytest.mark.parametrize(
        ("versions", "status"),
        [((), 400), ((b"8",), 426), ((b"13, 8",), 426), ((b"13", b"13"), 426)],
    )
    def test_version_must_be_13(self, versions: tuple[bytes, ...], status: int) -> None:
        """§4.4: an unsupported version is answered with 426 and the version we speak."""
        server = WSConnection(SERVER)
        headers = with_header(BASE_HEADERS, b"Sec-WebSocket-Version", *versions)
        with pytest.raises(RemoteProtocolError, match="Sec-WebSocket-Version") as info:
            server.receive_data(raw_request(headers))
        assert info.value.event_hint == RejectConnection(
            status_code=status, headers=[(b"Sec-WebSocket-Version", b"13")]
        )
        data = self.assert_hint_can_be_sent(server, info.value, status)
        assert b"\r\nSec-WebSocket-Version: 13\r\n" in data

    def test_malformed_http_is_rejected(self) -> None:
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError, match="malformed HTTP request") as info:
            server.receive_data(b"GARBAGE\r\n\r\n")
        self.assert_hint_can_be_sent(server, info.value, 400)

    @pytest.mark.parametrize(
        "headers",
        [
            with_header(BASE_HEADERS, b"Host", "café.example".encode()),
            [*BASE_HEADERS, (b"Host", b"second.example")],
        ],
    )
    def test_host_must_be_one_ascii_value(self, headers: Headers) -> None:
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError, match="Host") as info:
            server.receive_data(raw_request(headers))
        self.assert_hint_can_be_sent(server, info.value, 400)

    def test_oversized_request_in_one_read(self) -> None:
        """The handshake bound holds even if the whole head arrives at once."""
        server = WSConnection(SERVER)
        headers = [*BASE_HEADERS, (b"Cookie", b"c" * MAX_HANDSHAKE_SIZE)]
        with pytest.raises(RemoteProtocolError, match="exceeds") as info:
            server.receive_data(raw_request(headers))
        self.assert_hint_can_be_sent(server, info.value, 431)

    def test_oversized_request_trickling_in(self) -> None:
        server = WSConnection(SERVER)
        server.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n")
        for _ in range(MAX_HANDSHAKE_SIZE // 100):
            server.receive_data(b"X-Pad: " + b"p" * 91 + b"\r\n")
        with pytest.raises(RemoteProtocolError, match="too long") as info:
            server.receive_data(b"X-Pad: " + b"p" * 91 + b"\r\n")
        self.assert_hint_can_be_sent(server, info.value, 431)

    def test_data_after_invalid_request_is_ignored(self) -> None:
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError):
            server.receive_data(raw_request(method=b"PUT"))
        assert drain(server, raw_request()) == []
        assert drain(server, None) == []

    def test_data_after_malformed_request_raises_the_same_error(self) -> None:
        """As in wsproto 1.x (h11 stays failed): every later receive_data raises it again."""
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError) as first:
            server.receive_data(b"garbage\r\n\r\n")
        for more in (raw_request(), None):
            with pytest.raises(RemoteProtocolError) as again:
                server.receive_data(more)
            assert str(again.value) == str(first.value)
            assert again.value.event_hint == first.value.event_hint == RejectConnection(400)
        # Also once the hint is sent; and bytes after the end are a misuse.
        assert first.value.event_hint is not None
        server.send(first.value.event_hint)
        assert server.state is ConnectionState.CLOSED
        with pytest.raises(LocalProtocolError, match="after receive_data") as late:
            server.receive_data(b"more")
        assert isinstance(late.value, RuntimeError)

    def test_data_after_end_of_a_rejected_request_is_a_misuse(self) -> None:
        server = WSConnection(SERVER)
        drain(server, raw_request())
        server.send(RejectConnection())
        assert drain(server, b"more") == []  # ignored, as in wsproto 1.x
        assert drain(server, None) == []
        with pytest.raises(LocalProtocolError, match="after receive_data") as info:
            server.receive_data(b"more")
        assert isinstance(info.value, RuntimeError)

    def test_refused_rejection_leaves_the_state(self) -> None:
        """A send that raises changes nothing (wsproto 1.x stays CONNECTING too)."""
        server = WSConnection(SERVER)
        drain(server, raw_request())
        refused = RejectConnection(
            status_code=426, headers=[(b"content-length", b"4")], has_body=False
        )
        with pytest.raises(LocalProtocolError):
            server.send(refused)
        assert server.state is ConnectionState.CONNECTING

    def test_accept_after_failure_is_refused(self) -> None:
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError):
            server.receive_data(raw_request(method=b"PUT"))
        with pytest.raises(LocalProtocolError, match="event_hint"):
            server.send(AcceptConnection())

    @staticmethod
    def assert_hint_can_be_sent(
        server: WSConnection, error: RemoteProtocolError, status: int
    ) -> bytes:
        assert server.state is ConnectionState.CONNECTING
        hint = error.event_hint
        assert isinstance(hint, RejectConnection)
        assert hint.status_code == status
        data = server.send(hint)
        assert data.startswith(b"HTTP/1.1 %d " % status)
        assert server.state is ConnectionState.CLOSED
        return data


class TestServerAccept:
    """§4.2.2: the server's answer."""

    def test_accept_token_and_headers(self) -> None:
        """§1.3: the sample key yields the sample Sec-WebSocket-Accept."""
        server = WSConnection(SERVER)
        drain(server, raw_request([*BASE_HEADERS, (b"Sec-WebSocket-Protocol", b"chat")]))
        data = server.send(AcceptConnection(subprotocol="chat", extra_headers=[(b"X-A", b"1")]))
        assert data == (
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Upgrade: websocket\r\n"
            b"Connection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: " + ACCEPT + b"\r\n"
            b"Sec-WebSocket-Protocol: chat\r\n"
            b"X-A: 1\r\n\r\n"
        )
        assert server.state is ConnectionState.OPEN

    def test_unproposed_subprotocol_is_a_local_error(self) -> None:
        server = WSConnection(SERVER)
        drain(server, raw_request([*BASE_HEADERS, (b"Sec-WebSocket-Protocol", b"chat")]))
        with pytest.raises(LocalProtocolError, match="not proposed"):
            server.send(AcceptConnection(subprotocol="superchat"))
        assert server.state is ConnectionState.CONNECTING
        assert b"Sec-WebSocket-Protocol" not in server.send(AcceptConnection())

    def test_accept_h11_refuses_leaves_the_handshake_as_it_was(self) -> None:
        """As in wsproto 1.x: still CONNECTING, nothing sent, accepting again works.

        1.x raised h11's LocalProtocolError here; ours is that type too.
        """
        server = WSConnection(SERVER)
        drain(server, raw_request())
        with pytest.raises(LocalProtocolError, match="AcceptConnection") as info:
            server.send(AcceptConnection(extra_headers=[(b"Bad Name", b"x")]))
        assert isinstance(info.value, h11.LocalProtocolError)
        assert server.state is ConnectionState.CONNECTING
        assert server.connection is None
        assert server.send(AcceptConnection()).startswith(b"HTTP/1.1 101 ")
        assert server.state is ConnectionState.OPEN

    def test_accepting_needs_a_request(self) -> None:
        server = WSConnection(SERVER)
        with pytest.raises(LocalProtocolError, match="before a Request"):
            server.send(AcceptConnection())
        server.receive_data(raw_request()[:20])
        with pytest.raises(LocalProtocolError, match="before a Request"):
            server.send(AcceptConnection())

    def test_rejecting_needs_no_request(self) -> None:
        """wsproto 1.x lets a server turn a client away before reading its request."""
        server = WSConnection(SERVER)
        data = server.send(RejectConnection(status_code=503))
        assert data.startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        assert server.state is ConnectionState.CLOSED

    @pytest.mark.parametrize("event", [Request(host="h", target="/"), TextMessage("early")])
    def test_server_cannot_send_request_or_data_yet(self, event: Event) -> None:
        server = WSConnection(SERVER)
        drain(server, raw_request())
        with pytest.raises(LocalProtocolError, match="AcceptConnection"):
            server.send(event)


class TestTrailingData:
    """Bytes after the handshake in the same read belong to the WebSocket."""

    def test_client_frames_right_after_the_request(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        data = client.send(Request(host="h", target="/"))
        # What an eager client writes before the 101 arrives: masked frames.
        eager = open_pair()[0]
        frames = eager.send(TextMessage("first")) + eager.send(BytesMessage(b"second"))
        events = drain(server, data + frames[:7])
        assert [type(e) for e in events] == [Request]
        server.receive_data(frames[7:])
        assert list(server.events()) == []  # not yet: the handshake is unanswered
        server.send(AcceptConnection())
        assert list(server.events()) == [TextMessage("first"), BytesMessage(b"second")]

    def test_server_frames_right_after_the_101(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        data = server.send(AcceptConnection()) + server.send(TextMessage("hi"))
        data += server.send(BytesMessage(b"there"))
        # The last frame's header is cut in two.
        assert drain(client, data[:-6]) == [AcceptConnection(), TextMessage("hi")]
        assert drain(client, data[-6:]) == [BytesMessage(b"there")]

    def test_bytes_before_the_answer_are_bounded(self) -> None:
        server = WSConnection(SERVER)
        drain(server, raw_request())
        with pytest.raises(RemoteProtocolError, match="before the handshake") as info:
            server.receive_data(b"\x00" * (MAX_HANDSHAKE_SIZE + 1))
        assert info.value.event_hint == RejectConnection(status_code=400)


class TestInitiateUpgradeConnection:
    """A server whose HTTP layer already parsed the upgrade request."""

    @pytest.mark.parametrize("path", ["/chat?x=1", b"/chat?x=1"])
    def test_request_then_accept(self, path: str | bytes) -> None:
        server = WSConnection(SERVER)
        server.initiate_upgrade_connection(BASE_HEADERS, path)
        (event,) = server.events()
        assert isinstance(event, Request)
        assert (event.host, event.target) == ("server.example.com", "/chat?x=1")
        assert ACCEPT in server.send(AcceptConnection())
        frame = open_pair()[0].send(TextMessage("after"))
        assert drain(server, frame) == [TextMessage("after")]

    def test_invalid_request(self) -> None:
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError, match="Upgrade") as info:
            server.initiate_upgrade_connection(with_header(BASE_HEADERS, b"Upgrade"), "/")
        assert info.value.event_hint == RejectConnection(status_code=400)

    @pytest.mark.parametrize(
        "headers",
        [with_header(BASE_HEADERS, b"Host"), [*BASE_HEADERS, (b"Bad Name", b"x")]],
    )
    def test_headers_h11_refuses(self, headers: Headers) -> None:
        """The hint can be sent (it could not be in an earlier version of ours).

        wsproto 1.x raised h11's LocalProtocolError here, so the error is an
        instance of that too, besides a RemoteProtocolError with a 400 hint.
        """
        server = WSConnection(SERVER)
        with pytest.raises(RemoteProtocolError) as info:
            server.initiate_upgrade_connection(headers, "/")
        assert isinstance(info.value, h11.LocalProtocolError)
        assert info.value.event_hint == RejectConnection(status_code=400)
        assert server.state is ConnectionState.CONNECTING
        data = server.send(info.value.event_hint)
        assert data == b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"
        assert server.state is ConnectionState.CLOSED

    def test_only_once_and_only_on_servers(self) -> None:
        server = WSConnection(SERVER)
        server.initiate_upgrade_connection(BASE_HEADERS, "/")
        with pytest.raises(LocalProtocolError, match="already begun"):
            server.initiate_upgrade_connection(BASE_HEADERS, "/")
        partial = WSConnection(SERVER)
        partial.receive_data(b"GET / HT")
        with pytest.raises(LocalProtocolError, match="already begun"):
            partial.initiate_upgrade_connection(BASE_HEADERS, "/")
        with pytest.raises(LocalProtocolError, match="servers"):
            WSConnection(CLIENT).initiate_upgrade_connection(BASE_HEADERS, "/")


class TestEndOfFile:
    """The transport closing during the handshake never leaves it hanging."""

    @pytest.mark.parametrize("eof", [None, b""])
    def test_server_peer_leaves_without_a_word(self, eof: bytes | None) -> None:
        """No event, and the state stays CONNECTING, as in wsproto 1.x."""
        server = WSConnection(SERVER)
        assert drain(server, eof) == []
        assert server.state is ConnectionState.CONNECTING
        assert drain(server, eof) == []  # a second end is harmless
        # Bytes after the end: a misuse, the RuntimeError wsproto 1.x (h11) raised.
        with pytest.raises(LocalProtocolError, match=r"after receive_data\(None\)") as info:
            server.receive_data(raw_request())
        assert isinstance(info.value, RuntimeError)
        assert server.state is ConnectionState.CONNECTING
        with pytest.raises(LocalProtocolError):
            server.send(AcceptConnection())

    def test_server_peer_leaves_mid_request(self) -> None:
        server = WSConnection(SERVER)
        server.receive_data(raw_request()[:30])
        with pytest.raises(RemoteProtocolError, match="closed") as info:
            server.receive_data(None)
        assert info.value.event_hint == RejectConnection(status_code=400)

    def test_server_peer_half_closes_after_request(self) -> None:
        """The request stands; accepting it opens a connection that reports the closure."""
        server = WSConnection(SERVER)
        assert [type(e) for e in drain(server, raw_request())] == [Request]
        assert drain(server, None) == []
        assert server.state is ConnectionState.CONNECTING
        server.send(AcceptConnection())
        assert list(server.events()) == [CloseConnection(CloseReason.ABNORMAL_CLOSURE, None)]
        assert server.state is ConnectionState.CLOSED

    @pytest.mark.parametrize("eof", [None, b""])
    @pytest.mark.parametrize("partial", [b"", b"HTTP/1.1 101 Switching"])
    def test_client_server_leaves_before_answering(self, partial: bytes, eof: bytes | None) -> None:
        """As in wsproto 1.x, ``b""`` ends the transport too; the state stays CONNECTING."""
        client, _, _ = start_client()
        if partial:
            client.receive_data(partial)
        with pytest.raises(RemoteProtocolError, match="closed") as info:
            client.receive_data(eof)
        assert info.value.event_hint is None
        assert client.state is ConnectionState.CONNECTING
        with pytest.raises(RemoteProtocolError, match="closed"):  # again, as in 1.x
            client.receive_data(None)
        with pytest.raises(LocalProtocolError, match="after receive_data") as late:
            client.receive_data(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
        assert isinstance(late.value, RuntimeError)


class TestConnectionProperty:
    def test_raises_before_open(self) -> None:
        handshake = H11Handshake(CLIENT)
        with pytest.raises(LocalProtocolError, match="in progress"):
            handshake.connection  # noqa: B018
        assert handshake.connection_or_none is None

    def test_raises_after_rejection(self) -> None:
        client, server = WSConnection(CLIENT), WSConnection(SERVER)
        drain(server, client.send(Request(host="h", target="/")))
        server.send(RejectConnection())
        with pytest.raises(LocalProtocolError, match="CLOSED"):
            server.handshake.connection  # noqa: B018

    def test_receive_after_open_goes_to_the_connection(self) -> None:
        client, _server, _, _ = open_pair()
        with pytest.raises(LocalProtocolError, match=r"\.connection\.receive_data"):
            client.handshake.receive_data(b"")
        assert client.handshake.connection is client.connection


class TestServerExtensionsHandshake:
    """§9.1: the server accepts at most one offer of each extension it supports."""

    def test_offers_in_one_value_and_several_values(self) -> None:
        a, b = XorExtension("x-a", answer="p=1"), XorExtension("x-b")
        supported: list[Extension] = [b, a]
        answer, accepted = negotiate_extensions(["x-a; q, x-unknown", " , x-b,"], supported)
        assert answer == b"x-a; p=1, x-b"
        assert accepted == [a, b]  # in the client's order
        assert supported == [b, a]  # the caller's list is left alone
        assert a.offers_seen == ["x-a; q"]  # the whole element, name included

    def test_first_acceptable_offer_wins(self) -> None:
        ext = XorExtension("x-a", decline=("bits=8",))
        supported: list[Extension] = [ext]
        answer, accepted = negotiate_extensions(
            ["x-a; bits=8, x-a; bits=9, x-a; bits=10"], supported
        )
        assert answer == b"x-a"
        assert ext.offers_seen == ["x-a; bits=8", "x-a; bits=9"]
        assert accepted == [ext]

    def test_one_extension_per_name(self) -> None:
        """A server supporting two configurations of one extension answers once."""
        first, second = XorExtension("x-a"), XorExtension("x-a")
        supported: list[Extension] = [first, second]
        assert negotiate_extensions(["x-a; v=1", "x-a; v=2"], supported) == (b"x-a", [first])
        assert (first.offers_seen, second.offers_seen) == (["x-a; v=1"], [])

    def test_nothing_accepted(self) -> None:
        declined = XorExtension("x-a", answer=None)
        refused = XorExtension("x-b", answer=False)
        supported: list[Extension] = [declined, refused]
        assert server_extensions_handshake(["x-a", "x-b", "x-c"], supported) is None
        assert declined.offers_seen == ["x-a"]

    def test_empty_string_answer_is_the_bare_name(self) -> None:
        assert server_extensions_handshake(["x-a; q"], [XorExtension("x-a", answer="")]) == b"x-a"


class TestClientExtensionsHandshake:
    """§9.1: the client uses what the server accepted, and only what it offered."""

    def test_finalize_in_server_order(self) -> None:
        a, b = XorExtension("x-a"), XorExtension("x-b")
        assert client_extensions_handshake(["x-b; p=1, x-a"], [a, b]) == [b, a]
        assert b.finalized == ["x-b; p=1"]
        assert a.finalized == ["x-a"]

    def test_unoffered_extension(self) -> None:
        with pytest.raises(RemoteProtocolError, match="not offered"):
            client_extensions_handshake(["x-a"], [XorExtension("x-b")])

    def test_same_extension_twice(self) -> None:
        with pytest.raises(RemoteProtocolError, match="twice"):
            client_extensions_handshake(["x-a", "x-a"], [XorExtension("x-a"), XorExtension("x-a")])


class TestExtensionNegotiation:
    """§9.1 end to end: the negotiated extension runs on both connections."""

    def test_accepted_extension_transforms_frames(self) -> None:
        client_ext, server_ext = XorExtension(), XorExtension(answer="k=v")
        unused = XorExtension("x-unused")
        client, server, server_events, client_events = open_pair(
            Request(host="h", target="/", extensions=[client_ext]),
            AcceptConnection(extensions=[unused, server_ext]),
        )
        (request,) = server_events
        assert isinstance(request, Request)
        assert request.extensions == ["x-xor"]
        assert client_events == [AcceptConnection(extensions=[client_ext])]
        assert client_ext.finalized == ["x-xor; k=v"]
        assert unused.offers_seen == []
        data = client.send(TextMessage("secret"))
        assert b"secret" not in data
        assert data[0] & 0x40  # RSV1 set by the extension
        assert drain(server, data) == [TextMessage("secret")]
        assert drain(client, server.send(BytesMessage(b"back"))) == [BytesMessage(b"back")]

    def test_declined_extension_is_not_used(self) -> None:
        client_ext = XorExtension()
        client, server, _, client_events = open_pair(
            Request(host="h", target="/", extensions=[client_ext]),
            AcceptConnection(extensions=[XorExtension(answer=None)]),
        )
        assert client_events == [AcceptConnection()]
        assert client_ext.finalized == []
        data = client.send(TextMessage("plain"))
        assert data[0] & 0x40 == 0
        assert drain(server, data) == [TextMessage("plain")]

    def test_server_answering_an_unsent_offer_fails(self) -> None:
        """An extension whose offer() is False was not offered, so may not be accepted."""
        client, _, key = start_client(
            Request(host="h", target="/", extensions=[XorExtension(offer=False)])
        )
        headers = [*accept_headers(key), (b"Sec-WebSocket-Extensions", b"x-xor")]
        with pytest.raises(RemoteProtocolError, match="not offered"):
            client.receive_data(raw_response(headers))


@pytest.mark.skipif(
    PerMessageDeflate().offer() is False, reason="PerMessageDeflate is still a placeholder"
)
def test_permessage_deflate_negotiation() -> None:
    """RFC 7692 §5: permessage-deflate negotiated through the handshake compresses."""
    client, server, server_events, client_events = open_pair(
        Request(host="h", target="/", extensions=[PerMessageDeflate()]),
        AcceptConnection(extensions=[PerMessageDeflate()]),
    )
    (request,) = server_events
    assert isinstance(request, Request)
    assert request.extensions[0].startswith("permessage-deflate")  # type: ignore[union-attr]
    (accepted,) = client_events
    assert isinstance(accepted, AcceptConnection)
    assert [type(e) for e in accepted.extensions] == [PerMessageDeflate]
    text = "compress me " * 100
    data = client.send(TextMessage(text))
    assert len(data) < len(text) // 4
    assert drain(server, data) == [TextMessage(text)]


def test_limits_reach_the_connection() -> None:
    """WSConnection's size limits apply once the handshake is done."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER, max_message_size=4)
    server.receive_data(client.send(Request(host="example.com", target="/")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    list(client.events())
    server.receive_data(client.send(BytesMessage(b"1234")) + client.send(BytesMessage(b"12345")))
    events = list(server.events())
    assert events[0] == BytesMessage(b"1234")
    assert isinstance(events[1], CloseConnection)
    assert events[1].code == 1009
