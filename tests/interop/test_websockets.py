"""Interop with the ``websockets`` library (its asyncio API) over loopback TCP.

Both directions: its client against our server, our client against its
server, with permessage-deflate negotiated (checked from both ends and on the
wire); text, binary, 1 MiB and fragmented messages; pings both ways; close
codes both ways; subprotocols and refused upgrades both ways.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed as PeerClosed
from websockets.exceptions import InvalidStatus
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from wsproto.anyio import (
    ConnectionClosed,
    ConnectionRejected,
    open_websocket_url,
    wrap_client_stream,
)

from .conftest import PEER_TIMEOUT, AsyncioThread
from .ours import (
    LARGE,
    LIMITS,
    MAX_SIZE,
    MESSAGES,
    PIECES,
    REJECTION,
    SUBPROTOCOLS,
    our_server,
)
from .wire import CountingListener, CountingStream

pytestmark = pytest.mark.anyio


def negotiated(connection: ServerConnection | ClientConnection) -> list[str]:
    """The extensions websockets agreed on for ``connection``."""
    return [str(extension.name) for extension in connection.protocol.extensions]


# Our client against a websockets server.


@dataclass
class PeerServer:
    """What the websockets server (in the asyncio thread) saw on each connection."""

    port: int = 0
    extensions: list[list[str]] = field(default_factory=list)
    offers: list[str | None] = field(default_factory=list)
    closes: list[tuple[int | None, str | None]] = field(default_factory=list)
    finished: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        self.extensions.append(negotiated(ws))
        self.offers.append(ws.request.headers.get("Sec-WebSocket-Extensions"))
        path = ws.request.path
        try:
            if path == "/fragments":
                await ws.send(PIECES)
            elif path == "/ping":
                await (await ws.ping(b"from websockets"))
                await ws.send("pong received")
            elif path.startswith("/close/"):
                await ws.close(int(path.removeprefix("/close/")), "server bye")
                return
            async for message in ws:
                await ws.send(message)
        except PeerClosed:
            pass  # closed with a code other than 1000/1001: recorded below
        finally:
            self.closes.append((ws.close_code, ws.close_reason))
            self.finished.release()

    async def wait_closed(self) -> list[tuple[int | None, str | None]]:
        """How the one connection ended, once its handler is done."""
        done = await anyio.to_thread.run_sync(self.finished.acquire, True, PEER_TIMEOUT)
        assert done, "the websockets handler did not finish"
        return self.closes


@pytest.fixture
async def peer_server(asyncio_thread: AsyncioThread) -> AsyncIterator[PeerServer]:
    peer = PeerServer()

    def process_request(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == "/reject":
            return connection.respond(HTTPStatus.FORBIDDEN, REJECTION.decode())
        return None

    def select_subprotocol(
        connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        return next((Subprotocol(p) for p in SUBPROTOCOLS if p in offered), None)

    async def start() -> Server:
        return await serve(
            peer.handler,
            "127.0.0.1",
            0,
            max_size=MAX_SIZE,
            process_request=process_request,
            select_subprotocol=select_subprotocol,
        )

    server = await asyncio_thread.run(start())
    peer.port = server.sockets[0].getsockname()[1]
    try:
        yield peer
    finally:

        async def stop() -> None:
            server.close()
            await server.wait_closed()

        await asyncio_thread.run(stop())


async def test_client_negotiates_deflate(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/echo", **LIMITS) as ws:
        await ws.send_message("hi")
        assert await ws.get_message() == "hi"
    assert peer_server.extensions == [["permessage-deflate"]]
    assert peer_server.offers[0] is not None
    assert peer_server.offers[0].startswith("permessage-deflate")


@pytest.mark.parametrize("message", MESSAGES, ids=["text", "utf8", "binary", "large", "random"])
async def test_client_echo(peer_server: PeerServer, message: str | bytes) -> None:
    async with open_websocket_url(peer_server.url + "/echo", **LIMITS) as ws:
        await ws.send_message(message)
        assert await ws.get_message() == message
    assert await peer_server.wait_closed() == [(1000, "")]


async def test_client_compresses_on_the_wire(peer_server: PeerServer) -> None:
    """1 MiB of repetitive text costs a few kilobytes each way once deflated."""
    message = MESSAGES[3]
    async with anyio.create_task_group() as group:
        stream = CountingStream(await anyio.connect_tcp("127.0.0.1", peer_server.port))
        ws = await wrap_client_stream(group, stream, "127.0.0.1", "/echo", **LIMITS)
        await ws.send_message(message)
        assert await ws.get_message() == message
        await ws.aclose()
        group.cancel_scope.cancel()
    assert 0 < stream.sent < LARGE // 50
    assert 0 < stream.received < LARGE // 50


async def test_client_fragments(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/fragments", **LIMITS) as ws:
        assert await ws.get_message() == "".join(PIECES)
        await ws.send_message(PIECES)
        assert await ws.get_message() == "".join(PIECES)
        await ws.send_message(piece.encode() for piece in PIECES)
        assert await ws.get_message() == "".join(PIECES).encode()


async def test_client_pings(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/ping", **LIMITS) as ws:
        # websockets pings first and waits for our automatic pong.
        assert await ws.get_message() == "pong received"
        await ws.ping(b"from wsproto")
        await ws.ping()
        assert ws.latency is not None


async def test_client_close_code(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/echo", **LIMITS) as ws:
        await ws.aclose(4001, "client bye")
    assert ws.closed is not None
    assert (ws.closed.code, ws.closed.reason) == (4001, "client bye")
    assert await peer_server.wait_closed() == [(4001, "client bye")]


async def test_client_receives_close_code(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/close/4002", **LIMITS) as ws:
        with pytest.raises(ConnectionClosed) as raised:
            await ws.get_message()
    assert raised.value.reason is not None
    assert (raised.value.reason.code, raised.value.reason.reason) == (4002, "server bye")
    assert ws.closed == raised.value.reason


async def test_client_negotiates_a_subprotocol(peer_server: PeerServer) -> None:
    async with open_websocket_url(
        peer_server.url + "/echo", subprotocols=["chat.v1", "chat.v2"], **LIMITS
    ) as ws:
        assert ws.subprotocol == "chat.v2"  # the server's preference
    async with open_websocket_url(peer_server.url + "/echo", **LIMITS) as ws:
        assert ws.subprotocol is None


async def test_client_rejected(peer_server: PeerServer) -> None:
    with pytest.raises(ConnectionRejected) as raised:
        async with open_websocket_url(peer_server.url + "/reject", **LIMITS):
            pytest.fail("the server accepted")
    assert raised.value.status_code == 403
    assert raised.value.body == REJECTION
    assert (b"content-type", b"text/plain; charset=utf-8") in raised.value.headers


# A websockets client against our server.


PeerClient = Callable[[str], Coroutine[Any, Any, Any]]


async def run_peer(
    asyncio_thread: AsyncioThread, client: PeerClient
) -> tuple[list[tuple[int, str | None]], Any, CountingListener]:
    """Run a websockets client coroutine (one connection) against our server.

    Returns how our side saw the connection end, what the client returned,
    and the byte counts of our side.
    """
    async with our_server() as ours:
        result = await asyncio_thread.run(client(ours.url))
        closes = await ours.closes(1)
    return closes, result, ours.wire


async def test_server_negotiates_deflate(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        async with connect(url + "/echo") as ws:
            await ws.send("hi")
            assert ws.response is not None
            return {
                "echo": await ws.recv(),
                "extensions": negotiated(ws),
                "header": ws.response.headers.get("Sec-WebSocket-Extensions"),
            }

    _, result, _ = await run_peer(asyncio_thread, client)
    assert result["echo"] == "hi"
    assert result["extensions"] == ["permessage-deflate"]
    assert result["header"].startswith("permessage-deflate")


async def test_server_echo(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        echoes = []
        async with connect(url + "/echo", max_size=MAX_SIZE) as ws:
            for message in MESSAGES:
                await ws.send(message)
                echoes.append(await ws.recv())
        return {"echoes": echoes, "close": (ws.close_code, ws.close_reason)}

    closes, result, wire = await run_peer(asyncio_thread, client)
    assert result["echoes"] == MESSAGES
    assert result["close"] == (1000, "")
    assert closes == [(1000, None)]
    # 2 MiB each way, of which the 1 MiB of repetitive text went deflated.
    assert LARGE < wire.received < LARGE + LARGE // 50
    assert LARGE < wire.sent < LARGE + LARGE // 50


async def test_server_fragments(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        async with connect(url + "/fragments") as ws:
            received = [piece async for piece in ws.recv_streaming()]
            await ws.send(PIECES)
            echo = await ws.recv()
        return {"received": received, "echo": echo}

    _, result, _ = await run_peer(asyncio_thread, client)
    # Our server sent a frame per piece; websockets reassembles ours.
    assert result["received"] == PIECES
    assert result["echo"] == "".join(PIECES)


async def test_server_pings(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        async with connect(url + "/ping") as ws:
            # We ping first; websockets answers on its own.
            message = await ws.recv()
            latency = await (await ws.ping(b"from websockets"))
        return {"message": message, "latency": latency}

    _, result, _ = await run_peer(asyncio_thread, client)
    assert result["message"] == "pong received"
    assert result["latency"] >= 0


async def test_server_close_code(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        async with connect(url + "/echo") as ws:
            await ws.close(4003, "client bye")
        return {}

    closes, _, _ = await run_peer(asyncio_thread, client)
    assert closes == [(4003, "client bye")]


async def test_server_sends_close_code(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        async with connect(url + "/close/4004") as ws:
            with pytest.raises(PeerClosed):
                await ws.recv()
        return {"close": (ws.close_code, ws.close_reason)}

    closes, result, _ = await run_peer(asyncio_thread, client)
    assert result["close"] == (4004, "server bye")
    assert closes == [(4004, "server bye")]


async def test_server_negotiates_a_subprotocol(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        offered = [Subprotocol("chat.v1"), Subprotocol("chat.v2")]
        async with connect(url + "/echo", subprotocols=offered) as ws:
            chosen = ws.subprotocol
        async with connect(url + "/echo") as ws:
            none = ws.subprotocol
        return {"chosen": chosen, "none": none}

    async with our_server() as ours:
        result = await asyncio_thread.run(client(ours.url))
        await ours.closes(2)
    assert result == {"chosen": "chat.v2", "none": None}


async def test_server_rejects(asyncio_thread: AsyncioThread) -> None:
    async def client(url: str) -> dict[str, Any]:
        with pytest.raises(InvalidStatus) as raised:
            async with connect(url + "/reject"):
                pass
        response = raised.value.response
        return {"status": response.status_code, "body": response.body, "headers": response.headers}

    async with our_server() as ours:
        result = await asyncio_thread.run(client(ours.url))
    assert result["status"] == 403
    assert result["body"] == REJECTION
    assert result["headers"]["Content-Type"] == "text/plain"
