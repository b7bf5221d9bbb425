"""Helpers for the engine's tests: an engine, a core connection playing its peer, a clock.

No event loop and no sockets: the bytes an engine is fed are what a real core
peer sends, and what the engine answers is parsed by that same peer.
"""

from __future__ import annotations

import pytest

from tests.frames import client_frame, server_frame
from wsproto import ConnectionType, WSConnection
from wsproto.anyio._engine import Engine, Step
from wsproto.anyio._handshake import Handshake
from wsproto.events import AcceptConnection, CloseConnection, Event, Request, TextMessage

#: Run a test with the engine as the server, then as the client.
both_roles = pytest.mark.parametrize("client", [False, True], ids=["server", "client"])


class Clock:
    """A clock that moves only when the test says so."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Answered:
    """A ping's waiter that records being set."""

    def __init__(self) -> None:
        self.is_set = False

    def set(self) -> None:
        self.is_set = True

    async def wait(self) -> None:  # pragma: no cover (nothing waits here)
        raise AssertionError


def receive(core: WSConnection, data: bytes | None) -> list[Event]:
    """The events ``core`` (the peer) parses from ``data``, which must be bytes."""
    assert data is not None
    core.receive_data(data)
    return list(core.events())


def steps(engine: Engine, out: list[bytes] | None = None) -> list[Step]:
    """Every step the engine has for what it was fed (bytes to write go to ``out``)."""
    found = []
    while (step := engine.next([] if out is None else out)) is not None:
        found.append(step)
    return found


def pieces(data: bytes, size: int) -> list[bytes]:
    """``data`` cut into reads of ``size`` bytes."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def new_server(
    max_fragments: int | None = None, clock: Clock | None = None
) -> tuple[Engine, WSConnection]:
    """A server's engine waiting for the request, and the client core playing its peer."""
    engine = Engine(
        WSConnection(ConnectionType.SERVER),
        Handshake(),
        path=None,
        max_fragments=max_fragments,
        clock=clock or Clock(),
    )
    return engine, WSConnection(ConnectionType.CLIENT)


def new_client(
    max_fragments: int | None = None, clock: Clock | None = None
) -> tuple[Engine, WSConnection]:
    """A client's engine (offering subprotocol "chat") and the server core that read its request."""
    handshake = Handshake("example.com", ["chat"], [(b"x-hello", b"1")])
    engine = Engine(
        WSConnection(ConnectionType.CLIENT),
        handshake,
        path="/chat",
        max_fragments=max_fragments,
        clock=clock or Clock(),
    )
    peer = WSConnection(ConnectionType.SERVER)
    (request,) = receive(peer, engine.ws.send(handshake.client_request("/chat")))
    assert isinstance(request, Request)
    return engine, peer


def open_pair(
    client: bool, max_fragments: int | None = None, clock: Clock | None = None
) -> tuple[Engine, WSConnection]:
    """An open engine (a client's or a server's) and its peer; the handshake is dropped."""
    if client:
        engine, peer = new_client(max_fragments, clock)
        engine.feed(peer.send(AcceptConnection()))
        assert isinstance(engine.next([]), AcceptConnection)
    else:
        engine, peer = new_server(max_fragments, clock)
        engine.feed(peer.send(Request(host="example.com", target="/chat")))
        assert isinstance(engine.next([]), Request)
        assert isinstance(receive(peer, engine.accept(None, None, []))[0], AcceptConnection)
    engine.drop_handshake()
    assert engine.open
    return engine, peer


def close_first(client: bool, code: int, reason: str) -> tuple[Engine, WSConnection]:
    """An open engine that sent a close frame (``code``, ``reason``), which the peer has read."""
    engine, peer = open_pair(client)
    close = engine.start_close(code, reason)
    assert close is not None
    assert isinstance(receive(peer, engine.close_frame(close))[0], CloseConnection)
    return engine, peer


def peer_frame(engine: Engine, opcode: int, payload: bytes) -> bytes:
    """A hand-built frame from the engine's peer, for what its core would never send."""
    return server_frame(opcode, payload) if engine.client else client_frame(opcode, payload)


def fragmented(peer: WSConnection, *parts: str) -> bytes:
    """One text message from the peer, in one frame per part."""
    frames = [peer.send(TextMessage(part, message_finished=False)) for part in parts[:-1]]
    return b"".join(frames) + peer.send(TextMessage(parts[-1]))
