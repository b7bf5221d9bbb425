"""Every code sample of the wsproto 1.1 manual runs, as written, on this library.

The samples are mirrored statement for statement. Where a sample leaves
something out (a socket connected to ``example.com``, a variable it only
annotates), the test supplies it: the socket is one end of a real loopback
socket pair, and a wsproto peer speaks on the other end. Where a sample has a
slip, the comment next to it says what the test does about it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from wsproto import ConnectionType, WSConnection
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
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.handshake import client_extensions_handshake, server_extensions_handshake
from wsproto.utilities import LocalProtocolError, RemoteProtocolError


class Peer:
    """The far end of the loopback socket: another wsproto endpoint."""

    def __init__(self, sock: socket.socket, connection_type: ConnectionType) -> None:
        self.sock = sock
        self.ws = WSConnection(connection_type)

    def send(self, *events: Event) -> None:
        self.sock.sendall(b"".join(self.ws.send(event) for event in events))

    def receive(self, count: int) -> list[Event]:
        """Receive until ``count`` events have arrived (or the socket closed)."""
        events: list[Event] = []
        while len(events) < count:
            data = self.sock.recv(65536)
            self.ws.receive_data(data or None)
            events.extend(self.ws.events())
            if not data:
                break
        return events


@pytest.fixture
def sockets() -> Iterator[tuple[socket.socket, socket.socket]]:
    """A connected loopback pair: (the sample's ``sock``, the peer's end)."""
    sock, other = socket.socketpair()
    sock.settimeout(5)
    other.settimeout(5)
    with sock, other:
        yield sock, other


def open_pair() -> tuple[WSConnection, WSConnection]:
    """A client and a server that completed the opening handshake."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="example.com", target="/")))
    assert isinstance(next(server.events()), Request)
    client.receive_data(server.send(AcceptConnection()))
    assert isinstance(next(client.events()), AcceptConnection)
    return client, server


# §2.2 WebSocket Clients ---------------------------------------------------------


def sample_client_events(ws: WSConnection, sock: socket.socket) -> None:
    """The event loop of §2.2, as the manual writes it."""
    for event in ws.events():
        if isinstance(event, AcceptConnection):
            print("Connection established")
        elif isinstance(event, RejectConnection):
            print("Connection rejected")
        elif isinstance(event, CloseConnection):
            print(f"Connection closed: code={event.code} reason={event.reason}")
            sock.send(ws.send(event.response()))
        elif isinstance(event, Ping):
            print(f"Received Ping frame with payload {event.payload!r}")
            sock.send(ws.send(event.response()))
        elif isinstance(event, TextMessage):
            print(f"Received TEXT data: {event.data}")
            if event.message_finished:
                print("Message finished.")
        elif isinstance(event, BytesMessage):
            print(f"Received BINARY data: {event.data!r}")
            if event.message_finished:
                print("BINARY Message finished.")
        else:
            print(f"Unknown event: {event!r}")


def test_client_sample(
    sockets: tuple[socket.socket, socket.socket], capsys: pytest.CaptureFixture[str]
) -> None:
    """§2.2: a client connects, takes every kind of event, and answers pings and closes."""
    ws = WSConnection(ConnectionType.CLIENT)
    request = Request(host="example.com", target="foo")
    data = ws.send(request)

    # The sample connects a TCP socket to example.com:80; ours is already connected.
    sock, other = sockets
    sock.send(data)

    server = Peer(other, ConnectionType.SERVER)
    [received] = server.receive(1)
    assert isinstance(received, Request)
    assert (received.host, received.target) == ("example.com", "foo")
    server.send(
        AcceptConnection(),
        Ping(payload=b"hello"),
        TextMessage(data="Hi there"),
        BytesMessage(data=b"\x00\x01"),
        CloseConnection(code=1000, reason="bye"),
    )

    data = sock.recv(4096)
    ws.receive_data(data)
    sample_client_events(ws, sock)

    assert capsys.readouterr().out.splitlines() == [
        "Connection established",
        "Received Ping frame with payload b'hello'",
        "Received TEXT data: Hi there",
        "Message finished.",
        "Received BINARY data: b'\\x00\\x01'",
        "BINARY Message finished.",
        "Connection closed: code=1000 reason=bye",
    ]
    # The sample answered the ping and the close.
    assert server.receive(2) == [
        Pong(payload=b"hello"),
        CloseConnection(code=1000, reason="bye"),
    ]
    assert ws.state is ConnectionState.CLOSED
    assert server.ws.state is ConnectionState.CLOSED


def test_client_sample_sees_a_rejection(
    sockets: tuple[socket.socket, socket.socket], capsys: pytest.CaptureFixture[str]
) -> None:
    ws = WSConnection(ConnectionType.CLIENT)
    sock, other = sockets
    sock.send(ws.send(Request(host="example.com", target="/foo")))
    server = Peer(other, ConnectionType.SERVER)
    server.receive(1)
    server.send(RejectConnection(status_code=403))
    ws.receive_data(sock.recv(4096))
    sample_client_events(ws, sock)
    assert capsys.readouterr().out.splitlines()[0] == "Connection rejected"


# §2.3 WebSocket Servers, §2.5 Closing, §2.6 Ping Pong ------------------------------


def sample_server_events(ws: WSConnection, sock: socket.socket) -> None:
    """The server loop of §2.3, its ``elif...`` filled in with §2.5's and §2.6's snippets."""
    for event in ws.events():
        if isinstance(event, Request):
            print("Accepting connection request")
            sock.send(ws.send(AcceptConnection()))
        elif isinstance(event, CloseConnection):  # noqa: SIM114 - two snippets, kept apart
            sock.send(ws.send(event.response()))
        elif isinstance(event, Ping):
            sock.send(ws.send(event.response()))


def test_server_sample(
    sockets: tuple[socket.socket, socket.socket], capsys: pytest.CaptureFixture[str]
) -> None:
    ws = WSConnection(ConnectionType.SERVER)
    sock, other = sockets

    client = Peer(other, ConnectionType.CLIENT)
    client.send(Request(host="example.com", target="/foo"))
    ws.receive_data(sock.recv(4096))
    sample_server_events(ws, sock)
    assert capsys.readouterr().out == "Accepting connection request\n"
    assert client.receive(1) == [AcceptConnection()]

    client.send(Ping(payload=b"are you there"), CloseConnection(code=1001, reason="leaving"))
    ws.receive_data(sock.recv(4096))
    sample_server_events(ws, sock)
    assert client.receive(2) == [
        Pong(payload=b"are you there"),
        CloseConnection(code=1001, reason="leaving"),
    ]
    assert ws.state is ConnectionState.CLOSED
    assert client.ws.state is ConnectionState.CLOSED


@pytest.mark.parametrize("has_body", [False, True])
def test_server_can_reject(has_body: bool) -> None:
    """§2.3: a server rejects with RejectConnection (and RejectData for a body)."""
    client = WSConnection(ConnectionType.CLIENT)
    server = WSConnection(ConnectionType.SERVER)
    server.receive_data(client.send(Request(host="example.com", target="/foo")))
    assert isinstance(next(server.events()), Request)
    if has_body:
        data = server.send(
            RejectConnection(status_code=403, headers=[(b"content-length", b"4")], has_body=True)
        )
        assert server.state is ConnectionState.REJECTING
        data += server.send(RejectData(data=b"nope"))
    else:
        data = server.send(RejectConnection(status_code=403))
    assert server.state is ConnectionState.CLOSED
    client.receive_data(data)
    events = list(client.events())
    assert isinstance(events[0], RejectConnection)
    assert events[0].status_code == 403
    body = b"".join(event.data for event in events[1:] if isinstance(event, RejectData))
    assert body == (b"nope" if has_body else b"")
    last = events[-1]
    assert isinstance(last, RejectData)
    assert last.body_finished


def test_closing_states() -> None:
    """§2.5: the state after each step of the closing handshake."""
    client, server = open_pair()
    server.receive_data(client.send(CloseConnection(code=1000)))
    assert client.state is ConnectionState.LOCAL_CLOSING
    [event] = server.events()
    assert isinstance(event, CloseConnection)
    assert server.state is ConnectionState.REMOTE_CLOSING
    client.receive_data(server.send(event.response()))
    assert server.state is ConnectionState.CLOSED
    [reply] = client.events()
    assert isinstance(reply, CloseConnection)
    assert reply.code == 1000
    assert client.state is ConnectionState.CLOSED


def test_close_response_repeats_code_and_reason() -> None:
    assert CloseConnection(code=1001, reason="bye").response() == CloseConnection(1001, "bye")


@pytest.mark.parametrize("pinger", ["client", "server"])
def test_ping_pong(pinger: str) -> None:
    """§2.6: a received ping is answered with ``event.response()``, a pong with its payload."""
    client, server = open_pair()
    a, b = (client, server) if pinger == "client" else (server, client)
    b.receive_data(a.send(Ping(payload=b"1234")))
    [ping] = b.events()
    assert isinstance(ping, Ping)
    a.receive_data(b.send(ping.response()))
    assert list(a.events()) == [Pong(payload=b"1234")]


def test_dropped_connection() -> None:
    """§2.1's note: when recv() returns nothing, call receive_data(None)."""
    client, _server = open_pair()
    client.receive_data(None)
    events = list(client.events())
    assert len(events) == 1
    assert isinstance(events[0], CloseConnection)
    assert events[0].code == 1006
    assert client.state is ConnectionState.CLOSED


# §2.4 Protocol Errors --------------------------------------------------------------


def test_local_protocol_error() -> None:
    """§2.4: sending an event the state does not allow raises LocalProtocolError."""
    client = WSConnection(ConnectionType.CLIENT)
    with pytest.raises(LocalProtocolError):
        client.send(TextMessage(data="too early"))


def test_remote_protocol_error() -> None:
    """§2.4: a peer's bad handshake raises RemoteProtocolError, with a suggested answer."""
    server = WSConnection(ConnectionType.SERVER)
    with pytest.raises(RemoteProtocolError) as caught:
        server.receive_data(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n")
    assert isinstance(caught.value.event_hint, RejectConnection)


# §3.2 Post handshake connection ----------------------------------------------------


def test_post_handshake_connection(sockets: tuple[socket.socket, socket.socket]) -> None:
    sock, other = sockets
    extensions: list[Any] = []  # Agreed extensions: none in this handshake
    # The manual passes the extensions as the first argument, where the
    # connection type belongs. wsproto 1.x reads anything but
    # ConnectionType.CLIENT there as a server, so the sample makes a server
    # connection without extensions; so does this library.
    connection = Connection(extensions)  # type: ignore[arg-type]
    sock.send(connection.send(Message(data=b"Hi")))

    # The peer: a client connection whose handshake also happened elsewhere.
    peer = Connection(ConnectionType.CLIENT)
    peer.receive_data(other.recv(4096))
    assert list(peer.events()) == [BytesMessage(data=b"Hi")]
    other.sendall(peer.send(TextMessage(data="Hello")) + peer.send(Ping(payload=b"?")))

    connection.receive_data(sock.recv(4096))

    events = list(connection.events())
    # As with WSConnection, only without any handshake events
    assert events == [TextMessage(data="Hello"), Ping(payload=b"?")]


def test_post_handshake_connection_with_the_type() -> None:
    """§3.2 as meant: the connection type first, then the agreed extensions."""
    server = Connection(ConnectionType.SERVER, [])
    client = Connection(ConnectionType.CLIENT, [], trailing_data=server.send(Message(data=b"Hi")))
    assert list(client.events()) == [BytesMessage(data=b"Hi")]


# §3.3 HTTP/2 -------------------------------------------------------------------------


def sample_http2_server(request_extensions: list[str]) -> tuple[list[Any], Connection]:
    """§3.3's server snippet; returns its response headers and connection."""
    # WebSocket request has been received
    response_headers: list[Any] = []  # the sample appends a dict to it
    supported_extensions: list[Extension] = [PerMessageDeflate()]
    accepts = server_extensions_handshake(request_extensions, supported_extensions)
    if accepts:
        response_headers.append({"sec-websocket-extensions": accepts})
    # Send the response headers
    connection = Connection(ConnectionType.SERVER, supported_extensions)
    return response_headers, connection


def sample_http2_client(accepted_extensions: list[str], *, as_written: bool) -> Connection:
    """§3.3's client snippet.

    The manual builds the connection with ``supported_extensions``, a name the
    client snippet never defines; it meant ``extensions``, the result of the
    handshake. ``as_written`` takes the name as the snippet implies it: the
    extensions the client supports, which are the ones it proposed.
    """
    # WebSocket response has been received
    proposed_extensions = [PerMessageDeflate()]
    extensions = client_extensions_handshake(accepted_extensions, proposed_extensions)
    if as_written:
        supported_extensions = proposed_extensions
        connection = Connection(ConnectionType.CLIENT, supported_extensions)
    else:
        connection = Connection(ConnectionType.CLIENT, extensions)
    return connection


def offered() -> str:
    """The permessage-deflate offer a client sends, as a header value."""
    offer = PerMessageDeflate().offer()
    assert offer is not False
    return "permessage-deflate" if offer is True else f"permessage-deflate; {offer}"


@pytest.mark.parametrize("as_written", [True, False])
@pytest.mark.parametrize("client_offers", [True, False])
def test_http2_samples(as_written: bool, client_offers: bool) -> None:
    response_headers, server = sample_http2_server([offered()] if client_offers else [])
    accepted = [h["sec-websocket-extensions"].decode() for h in response_headers]
    assert bool(accepted) == client_offers
    if accepted:
        assert accepted[0].startswith("permessage-deflate")
    client = sample_http2_client(accepted, as_written=as_written)

    text = "compress me " * 50
    data = client.send(TextMessage(data=text))
    # RSV1 marks a compressed message (RFC 7692 §6): set exactly when agreed.
    assert bool(data[0] & 0x40) == client_offers
    if client_offers:
        assert len(data) < len(text)
    server.receive_data(data)
    assert "".join(e.data for e in server.events() if isinstance(e, TextMessage)) == text

    client.receive_data(server.send(BytesMessage(data=b"\x00" * 1000)))
    received = b"".join(e.data for e in client.events() if isinstance(e, BytesMessage))
    assert received == b"\x00" * 1000
