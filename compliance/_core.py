"""The core testee: the I/O-free core driven by plain blocking sockets.

One thread per connection. Both roles offer or accept permessage-deflate with
whatever parameters the peer proposes.
"""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from wsproto import ConnectionType, WSConnection
from wsproto.connection import ConnectionState
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Message,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import RemoteProtocolError

RECEIVE_SIZE = 65536
# A peer that stops talking must not hold a thread forever.
SOCKET_TIMEOUT = 60.0


def _pump_events(ws: WSConnection, sock: socket.socket, parts: list[str | bytes]) -> bool:
    """Answer every pending event; return False once the connection is over."""
    out = bytearray()
    alive = True
    for event in ws.events():
        if isinstance(event, Request):
            out += ws.send(AcceptConnection(extensions=[PerMessageDeflate()]))
        elif isinstance(event, Message):
            parts.append(event.data)
            if event.message_finished:
                if isinstance(event, TextMessage):
                    out += ws.send(TextMessage("".join(parts)))  # type: ignore[arg-type]
                else:
                    out += ws.send(type(event)(b"".join(parts)))  # type: ignore[arg-type]
                parts.clear()
        elif isinstance(event, Ping):
            out += ws.send(event.response())
        elif isinstance(event, CloseConnection):
            # The peer closed, or broke the protocol (still OPEN): reply.
            if ws.state in (ConnectionState.OPEN, ConnectionState.REMOTE_CLOSING):
                out += ws.send(event.response())
            alive = False
        elif isinstance(event, AcceptConnection | RejectConnection):
            pass
    if out:
        sock.sendall(out)
    return alive


def serve_connection(sock: socket.socket, ws: WSConnection, initial: bytes = b"") -> None:
    """Run one connection until its closing handshake or the peer goes away."""
    parts: list[str | bytes] = []
    sock.settimeout(SOCKET_TIMEOUT)
    try:
        data = initial
        while True:
            if data:
                try:
                    ws.receive_data(data)
                except RemoteProtocolError as exc:
                    if exc.event_hint is not None:
                        sock.sendall(ws.send(exc.event_hint))
                    return
                if not _pump_events(ws, sock, parts):
                    return
            data = sock.recv(RECEIVE_SIZE)
            if not data:
                ws.receive_data(None)
                _pump_events(ws, sock, parts)
                return
    except OSError:
        return
    finally:
        # The server tears down TCP (RFC 6455 §7.1.1); a client waits for it
        # briefly, then closes too.
        sock.close()


def run_server(port: int) -> None:
    listener = socket.create_server(("127.0.0.1", port))
    print(f"LISTENING {listener.getsockname()[1]}", flush=True)
    while True:
        sock, _ = listener.accept()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        ws = WSConnection(ConnectionType.SERVER)
        threading.Thread(target=serve_connection, args=(sock, ws), daemon=True).start()


def _client_request(url: str, target: str) -> tuple[socket.socket, WSConnection]:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or 80
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ws = WSConnection(ConnectionType.CLIENT)
    offer = PerMessageDeflate(client_max_window_bits=15)
    sock.sendall(ws.send(Request(host=f"{host}:{port}", target=target, extensions=[offer])))
    return sock, ws


def _fetch_text(url: str, target: str) -> str:
    sock, ws = _client_request(url, target)
    text: list[str] = []
    with sock:
        while True:
            data = sock.recv(RECEIVE_SIZE)
            ws.receive_data(data or None)
            for event in ws.events():
                if isinstance(event, TextMessage):
                    text.append(event.data)
                elif isinstance(event, CloseConnection):
                    if ws.state is ConnectionState.REMOTE_CLOSING:
                        sock.sendall(ws.send(event.response()))
                    return "".join(text)
            if not data:
                return "".join(text)


def run_client(url: str, agent: str) -> None:
    base = url.rstrip("/")
    count = int(_fetch_text(base, "/getCaseCount"))
    for case in range(1, count + 1):
        sock, ws = _client_request(base, f"/runCase?case={case}&agent={agent}")
        serve_connection(sock, ws)
    _fetch_text(base, f"/updateReports?agent={agent}")
    print(f"ran {count} cases", flush=True)
