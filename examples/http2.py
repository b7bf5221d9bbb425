"""WebSocket over HTTP/2 (RFC 8441) with h2 and wsproto's :class:`Connection`.

Usage::

    python examples/http2.py

Over HTTP/2 a WebSocket is one stream of a shared connection, opened by an
extended CONNECT request. h2 runs the HTTP/2 connection and the stream's
handshake; wsproto's :class:`~wsproto.connection.Connection` runs the
WebSocket on the stream, with the extensions the handshake agreed on
(permessage-deflate here). A client and a server are joined in memory, to show
every step without a network.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import h2.config
import h2.connection
import h2.events
import h2.settings

from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import CloseConnection, Message, Ping, Pong, TextMessage
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.handshake import (
    WEBSOCKET_VERSION,
    client_extensions_handshake,
    server_extensions_handshake,
)
from wsproto.utilities import split_comma_header

EXTENSIONS_HEADER = b"sec-websocket-extensions"


def header_values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """Return the comma-separated items of every ``name`` header."""
    return [item for key, value in headers if key == name for item in split_comma_header(value)]


def offer_header(extensions: Sequence[Extension]) -> bytes:
    """Build the client's ``Sec-WebSocket-Extensions`` value from its extensions' offers."""
    offers = []
    for extension in extensions:
        offer = extension.offer()
        if offer is True:
            offers.append(extension.name)
        elif isinstance(offer, str):
            offers.append(f"{extension.name}; {offer}" if offer else extension.name)
    return ", ".join(offers).encode("ascii")


class Server:
    """An HTTP/2 server that accepts WebSocket streams and echoes messages."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(client_side=False, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)
        self.h2.initiate_connection()
        # RFC 8441 §3: a server announces that it accepts extended CONNECT.
        self.h2.update_settings({h2.settings.SettingCodes.ENABLE_CONNECT_PROTOCOL: 1})
        self.websockets: dict[int, Connection] = {}

    def receive_data(self, data: bytes) -> bytes:
        """Process bytes from the client; return the bytes to send back."""
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.RequestReceived):
                self.handle_request(event)
            elif isinstance(event, h2.events.DataReceived):
                assert event.stream_id is not None
                assert event.data is not None
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.data:  # END_STREAM may come on an empty DATA frame
                    self.handle_data(event.stream_id, event.data)
            elif isinstance(event, h2.events.StreamEnded):
                assert event.stream_id is not None
                ws = self.websockets.pop(event.stream_id, None)
                if ws is not None:
                    ws.receive_data(None)
        return self.h2.data_to_send()

    def handle_request(self, event: h2.events.RequestReceived) -> None:
        """Answer a request: accept an extended CONNECT for a WebSocket, refuse the rest."""
        assert event.stream_id is not None
        assert event.headers is not None
        headers = [(bytes(name), bytes(value)) for name, value in event.headers]
        fields = dict(headers)
        if fields.get(b":method") != b"CONNECT" or fields.get(b":protocol") != b"websocket":
            self.h2.send_headers(event.stream_id, [(b":status", b"400")], end_stream=True)
            return
        print(f"server: extended CONNECT for {fields[b':path'].decode()}")
        # The handshake, as in the manual: agree on extensions, then answer.
        request_extensions = header_values(headers, EXTENSIONS_HEADER)
        supported_extensions: list[Extension] = [PerMessageDeflate()]
        accepts = server_extensions_handshake(request_extensions, supported_extensions)
        response_headers = [(b":status", b"200")]
        if accepts:
            response_headers.append((EXTENSIONS_HEADER, accepts))
            print(f"server: accepting with extensions {accepts.decode()}")
        self.h2.send_headers(event.stream_id, response_headers)
        self.websockets[event.stream_id] = Connection(ConnectionType.SERVER, supported_extensions)

    def handle_data(self, stream_id: int, data: bytes) -> None:
        """Feed a WebSocket stream's data to its connection; echo and answer."""
        ws = self.websockets[stream_id]
        ws.receive_data(data)
        out = bytearray()
        for event in ws.events():
            if isinstance(event, Message):
                unit = "characters" if isinstance(event, TextMessage) else "bytes"
                print(f"server: received {len(event.data)} {unit}, echoing")
                out += ws.send(event)
            elif isinstance(event, Ping):
                print(f"server: received ping {event.payload!r}")
                out += ws.send(event.response())
            elif isinstance(event, CloseConnection):
                print(f"server: received close {event.code}")
                # The client closed (REMOTE_CLOSING), or broke the protocol
                # (still OPEN): reply with the same code. After the end of
                # the stream (CLOSED) there is nobody to reply to.
                if ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                    out += ws.send(event.response())
        if out:
            self.h2.send_data(stream_id, bytes(out))
        if ws.state is not ConnectionState.OPEN:
            # The closing handshake is complete, or the client failed it:
            # end our half of the stream.
            self.h2.end_stream(stream_id)


class Client:
    """An HTTP/2 client that opens one WebSocket stream."""

    def __init__(self) -> None:
        config = h2.config.H2Configuration(client_side=True, header_encoding=None)
        self.h2 = h2.connection.H2Connection(config)
        self.h2.initiate_connection()
        self.stream_id: int | None = None
        self.ws: Connection | None = None
        self.proposed_extensions: list[Extension] = [PerMessageDeflate()]

    def open(self, authority: str, path: str) -> None:
        """Send the extended CONNECT request (RFC 8441 §4)."""
        if not self.h2.remote_settings.enable_connect_protocol:
            raise RuntimeError("the server does not accept WebSocket streams")
        self.stream_id = self.h2.get_next_available_stream_id()
        headers = [
            (b":method", b"CONNECT"),
            (b":protocol", b"websocket"),
            (b":scheme", b"https"),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
            (b"sec-websocket-version", WEBSOCKET_VERSION),
            (EXTENSIONS_HEADER, offer_header(self.proposed_extensions)),
        ]
        self.h2.send_headers(self.stream_id, headers)

    def send(self, event: Message[str] | Message[bytes] | Ping | CloseConnection) -> None:
        """Send a WebSocket event on the stream."""
        assert self.ws is not None
        assert self.stream_id is not None
        data = self.ws.send(event)
        print(f"client: sending {type(event).__name__} in {len(data)} bytes")
        self.h2.send_data(self.stream_id, data)

    def receive_data(self, data: bytes) -> bytes:
        """Process bytes from the server; return the bytes to send back."""
        for event in self.h2.receive_data(data):
            if isinstance(event, h2.events.ResponseReceived):
                assert event.headers is not None
                headers = [(bytes(name), bytes(value)) for name, value in event.headers]
                if dict(headers).get(b":status") != b"200":
                    raise RuntimeError("the server refused the WebSocket stream")
                # The handshake, as in the manual: keep what the server accepted.
                accepted_extensions = header_values(headers, EXTENSIONS_HEADER)
                extensions = client_extensions_handshake(
                    accepted_extensions, self.proposed_extensions
                )
                names = ", ".join(extension.name for extension in extensions) or "none"
                print(f"client: WebSocket open, extensions: {names}")
                self.ws = Connection(ConnectionType.CLIENT, extensions)
            elif isinstance(event, h2.events.DataReceived):
                assert event.stream_id is not None
                assert event.data is not None
                assert self.ws is not None
                self.h2.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if event.data:  # END_STREAM may come on an empty DATA frame
                    self.handle_data(self.ws, event.data)
            elif isinstance(event, h2.events.StreamEnded):
                assert event.stream_id is not None
                assert self.ws is not None
                self.ws.receive_data(None)
                self.h2.end_stream(event.stream_id)
                print("client: stream ended")
        return self.h2.data_to_send()

    @staticmethod
    def handle_data(ws: Connection, data: bytes) -> None:
        """Feed the stream's data to the WebSocket connection and show what arrived."""
        ws.receive_data(data)
        for event in ws.events():
            if isinstance(event, TextMessage):
                print(f"client: received {len(event.data)} characters: {event.data[:18]!r}...")
            elif isinstance(event, Pong):
                print(f"client: received pong {event.payload!r}")
            elif isinstance(event, CloseConnection):
                print(f"client: received close {event.code}")


def exchange(client: Client, server: Server) -> None:
    """Carry bytes back and forth until neither side has anything left to send."""
    to_server = client.h2.data_to_send()
    while to_server:
        to_client = server.receive_data(to_server)
        to_server = client.receive_data(to_client) if to_client else b""


def main() -> None:
    """Open a WebSocket stream, exchange a message and a ping, and close it."""
    client, server = Client(), Server()
    exchange(client, server)  # connection prefaces and settings, both ways

    client.open("example.com", "/chat")
    exchange(client, server)

    client.send(TextMessage(data="Hello over HTTP/2! " * 8))
    exchange(client, server)

    client.send(Ping(payload=b"ping"))
    exchange(client, server)

    client.send(CloseConnection(code=1000, reason="bye"))
    exchange(client, server)
    assert client.ws is not None
    print(f"client: WebSocket {client.ws.state.name}")


if __name__ == "__main__":
    main()
