"""A blocking WebSocket client built on the wsproto core and ``socket``.

Usage::

    python synchronous_client.py ws://HOST:PORT/PATH [MESSAGE]

It connects, performs the opening handshake, sends a text message and a ping,
prints the echo and the pong that come back, then closes the connection
cleanly: it sends a close frame, waits for the server's reply and for the
server to end the TCP connection.
"""

from __future__ import annotations

import socket
import sys
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Ping,
    Pong,
    RejectConnection,
    Request,
    TextMessage,
)

RECEIVE_BYTES = 4096


def describe(data: str | bytes) -> str:
    """Return ``repr(data)``, shortened if long."""
    text = repr(data)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(data)} in all)"


def receive_events(ws: WSConnection, sock: socket.socket) -> list[Event] | None:
    """Block until the network delivers data, then return the events it made.

    Returns ``None`` once the server has closed the TCP connection. Pings are
    answered here, as every WebSocket endpoint must.
    """
    data = sock.recv(RECEIVE_BYTES)
    # recv() returns b"" when the server closed the TCP connection; wsproto
    # learns about it from receive_data(None).
    ws.receive_data(data or None)
    events = list(ws.events())
    for event in events:
        if isinstance(event, Ping) and ws.state is ConnectionState.OPEN:
            sock.sendall(ws.send(event.response()))
    return events if data else None


def wait_for(ws: WSConnection, sock: socket.socket, kind: type[Event]) -> list[Event]:
    """Receive events until one of type ``kind`` arrives or the connection ends."""
    seen: list[Event] = []
    while ws.state is not ConnectionState.CLOSED:
        events = receive_events(ws, sock)
        if events is None:
            break
        seen.extend(events)
        if any(isinstance(event, kind) for event in events):
            break
    return seen


def run(url: str, message: str) -> int:
    """Talk to the server at ``url``; return the exit status (0 when all went well)."""
    parts = urlsplit(url)
    if parts.scheme != "ws" or parts.hostname is None:
        print(f"client: expected a ws:// URL, got {url!r}", file=sys.stderr)
        return 2
    port = parts.port or 80
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query

    ws = WSConnection(ConnectionType.CLIENT)
    with socket.create_connection((parts.hostname, port)) as sock:
        print(f"client: connected to {parts.hostname}:{port}, requesting {target}", flush=True)
        sock.sendall(ws.send(Request(host=parts.netloc, target=target)))
        for event in wait_for(ws, sock, AcceptConnection):
            if isinstance(event, RejectConnection):
                print(f"client: rejected with status {event.status_code}", flush=True)
                return 1
        if ws.state is not ConnectionState.OPEN:
            print("client: the server closed the connection during the handshake", flush=True)
            return 1
        print("client: connection established", flush=True)

        print(f"client: sending text {describe(message)}", flush=True)
        sock.sendall(ws.send(TextMessage(data=message)))
        # A message may arrive in several pieces; join them.
        pieces: list[str] = []
        finished = False
        while not finished and ws.state is ConnectionState.OPEN:
            events = receive_events(ws, sock) or []
            for event in events:
                if isinstance(event, TextMessage):
                    pieces.append(event.data)
                    finished = event.message_finished
        echo = "".join(pieces)
        print(f"client: received echo {describe(echo)}", flush=True)
        if echo != message:
            print("client: the echo differs from the message sent", flush=True)
            return 1

        payload = b"are you there?"
        print(f"client: sending ping {payload!r}", flush=True)
        sock.sendall(ws.send(Ping(payload=payload)))
        for event in wait_for(ws, sock, Pong):
            if isinstance(event, Pong):
                print(f"client: received pong {event.payload!r}", flush=True)

        print("client: closing", flush=True)
        sock.sendall(ws.send(CloseConnection(code=1000, reason="done")))
        # Wait for the server's close reply. The server then ends the TCP
        # connection (RFC 6455 §7.1.1); read until that EOF.
        for event in wait_for(ws, sock, CloseConnection):
            if isinstance(event, CloseConnection):
                print(f"client: received close {event.code} {event.reason!r}", flush=True)
        while sock.recv(RECEIVE_BYTES):
            pass
        print(f"client: connection {ws.state.name}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    """Run the client with the command line's arguments."""
    if len(argv) not in (2, 3):
        print(f"usage: {argv[0]} ws://HOST:PORT/PATH [MESSAGE]", file=sys.stderr)
        return 2
    return run(argv[1], argv[2] if len(argv) == 3 else "Hello, WebSocket!")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
