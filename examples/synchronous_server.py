"""A blocking WebSocket echo server built on the wsproto core and ``socket``.

Usage::

    python synchronous_server.py HOST PORT

Port 0 picks a free port. The server prints the address it listens on, then
serves one connection at a time until interrupted: it accepts WebSocket
upgrade requests, echoes every message, answers pings and completes closing
handshakes. A request that is not a WebSocket upgrade gets an HTTP error
response.
"""

from __future__ import annotations

import socket
import sys

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)
from wsproto.utilities import RemoteProtocolError

RECEIVE_BYTES = 4096


def describe(data: str | bytes) -> str:
    """Return ``repr(data)``, shortened if long."""
    text = repr(data)
    return text if len(text) <= 60 else f"{text[:50]}... ({len(data)} in all)"


def handle_connection(sock: socket.socket) -> None:
    """Speak WebSocket on an accepted socket until the connection ends."""
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        data = sock.recv(RECEIVE_BYTES)
        # An empty read means the peer closed the TCP connection: tell wsproto
        # with None, so that its state and events reflect it.
        try:
            ws.receive_data(data or None)
        except RemoteProtocolError as error:
            # Not a valid upgrade request: answer with the suggested HTTP
            # response (e.g. 400 Bad Request) and drop the connection.
            print(f"server: bad request: {error}", flush=True)
            if error.event_hint is not None:
                sock.sendall(ws.send(error.event_hint))
            return
        out = bytearray()
        for event in ws.events():
            if isinstance(event, Request):
                print(f"server: upgrade request for {event.target}", flush=True)
                out += ws.send(AcceptConnection())
            elif isinstance(event, Message):
                # Echo each piece as it arrives: a large message never has to
                # be held whole. Send text pieces back as text, bytes as bytes.
                kind = "text" if isinstance(event, TextMessage) else "bytes"
                print(f"server: received {kind} {describe(event.data)}, echoing", flush=True)
                out += ws.send(event)
            elif isinstance(event, Ping):
                print(f"server: received ping {event.payload!r}, answering", flush=True)
                out += ws.send(event.response())
            elif isinstance(event, CloseConnection):
                print(f"server: received close {event.code} {event.reason!r}", flush=True)
                # Reply if the peer closed (REMOTE_CLOSING) or broke the
                # protocol (the state is then still OPEN, and the reply
                # carries the error code); after an EOF (code 1006) there is
                # nobody to tell. Either way the connection is over.
                if ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                    out += ws.send(event.response())
                data = b""
        if out:
            sock.sendall(out)
        if ws.state is ConnectionState.CLOSED or not data:
            # The server tears down the TCP connection once the closing
            # handshake is complete (RFC 6455 §7.1.1).
            return


def serve(host: str, port: int) -> None:
    """Listen on ``host:port`` and handle one connection after another."""
    with socket.create_server((host, port)) as listener:
        bound_host, bound_port = listener.getsockname()[:2]
        print(f"server: listening on {bound_host}:{bound_port}", flush=True)
        while True:
            conn, address = listener.accept()
            print(f"server: connection from {address[0]}:{address[1]}", flush=True)
            with conn:
                handle_connection(conn)
            print("server: connection closed", flush=True)


def main(argv: list[str]) -> int:
    """Run the server with the command line's arguments until interrupted."""
    if len(argv) != 3:
        print(f"usage: {argv[0]} HOST PORT", file=sys.stderr)
        return 2
    try:
        serve(argv[1], int(argv[2]))
    except KeyboardInterrupt:
        print("server: stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
