"""Interop with ``websockets``' trio implementation over loopback TCP.

websockets runs on a trio loop of its own in a thread (:class:`TrioThread`),
so its trio code meets ours on either of our backends. Both directions: text,
binary and 1 MiB messages with permessage-deflate, pings both ways, close
codes and reasons both ways.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio.to_thread
import pytest
import trio
from websockets.exceptions import ConnectionClosed as PeerClosed
from websockets.trio.client import connect
from websockets.trio.server import Server, ServerConnection, serve

from wsproto.anyio import ConnectionClosed, open_websocket_url

from .conftest import PEER_TIMEOUT
from .ours import LIMITS, MAX_SIZE, MESSAGES, our_server

pytestmark = pytest.mark.anyio

T = TypeVar("T")


class TrioThread:
    """A trio event loop running in a thread of its own, for peers written for trio."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        # A daemon, so that a peer stuck after a failed test cannot hang the run.
        self._thread = threading.Thread(
            target=trio.run, args=(self._main,), name="trio peer", daemon=True
        )
        self._thread.start()
        assert self._ready.wait(PEER_TIMEOUT), "the trio thread did not start"

    async def _main(self) -> None:
        self.token = trio.lowlevel.current_trio_token()
        self._done = trio.Event()
        async with trio.open_nursery() as self.nursery:
            self._ready.set()
            await self._done.wait()
            self.nursery.cancel_scope.cancel()

    async def run(self, function: Callable[[], Awaitable[T]]) -> T:
        """Run ``function()`` on the peer's loop; wait for it without blocking ours."""

        async def bounded() -> T:
            with trio.fail_after(PEER_TIMEOUT):
                return await function()

        call = functools.partial(trio.from_thread.run, bounded, trio_token=self.token)
        return await anyio.to_thread.run_sync(call)

    def stop(self) -> None:
        trio.from_thread.run_sync(self._done.set, trio_token=self.token)
        self._thread.join(PEER_TIMEOUT)


@pytest.fixture(scope="module")
def trio_thread() -> Iterator[TrioThread]:
    thread = TrioThread()
    try:
        yield thread
    finally:
        thread.stop()


# Our client against a websockets trio server.


@dataclass
class PeerServer:
    """What the websockets trio server saw: how each connection ended."""

    port: int = 0
    closes: list[tuple[int | None, str | None]] = field(default_factory=list)
    finished: threading.Semaphore = field(default_factory=lambda: threading.Semaphore(0))

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    async def handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        try:
            if path == "/ping":
                await (await ws.ping(b"from websockets.trio")).wait()
                await ws.send("pong received")
            elif path.startswith("/close/"):
                await ws.aclose(int(path.removeprefix("/close/")), "server bye")
                return
            async for message in ws:
                await ws.send(message)
        except PeerClosed:
            pass  # closed with a code other than 1000/1001: recorded below
        finally:
            self.closes.append((ws.close_code, ws.close_reason))
            self.finished.release()

    async def wait_closed(self) -> tuple[int | None, str | None]:
        """How the next connection ended, once its handler is done."""
        done = await anyio.to_thread.run_sync(self.finished.acquire, True, PEER_TIMEOUT)
        assert done, "the websockets handler did not finish"
        return self.closes.pop(0)


@pytest.fixture
async def peer_server(trio_thread: TrioThread) -> AsyncIterator[PeerServer]:
    peer = PeerServer()

    async def start() -> Server:
        server: Server = await trio_thread.nursery.start(
            functools.partial(serve, peer.handler, 0, host="127.0.0.1", max_size=MAX_SIZE)
        )
        return server

    server = await trio_thread.run(start)
    peer.port = server.listeners[0].socket.getsockname()[1]
    try:
        yield peer
    finally:
        await trio_thread.run(server.aclose)


async def test_client_echo(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/echo", **LIMITS) as ws:
        for message in MESSAGES:
            await ws.send_message(message)
            assert await ws.get_message() == message
        await ws.ping(b"from wsproto")
        await ws.aclose(4001, "client bye")
    assert await peer_server.wait_closed() == (4001, "client bye")
    async with open_websocket_url(peer_server.url + "/ping", **LIMITS) as ws:
        # websockets pings first and waits for our automatic pong.
        assert await ws.get_message() == "pong received"
    assert await peer_server.wait_closed() == (1000, "")


async def test_client_receives_close_code(peer_server: PeerServer) -> None:
    async with open_websocket_url(peer_server.url + "/close/4002", **LIMITS) as ws:
        with pytest.raises(ConnectionClosed) as raised:
            await ws.get_message()
    assert raised.value.reason is not None
    assert (raised.value.reason.code, raised.value.reason.reason) == (4002, "server bye")
    assert await peer_server.wait_closed() == (4002, "server bye")


# A websockets trio client against our server.


async def test_server(trio_thread: TrioThread) -> None:
    async with our_server() as ours:

        async def client() -> dict[str, Any]:
            echoes = []
            async with connect(ours.url + "/echo", max_size=MAX_SIZE) as ws:
                for message in MESSAGES:
                    await ws.send(message)
                    echoes.append(await ws.recv())
                await (await ws.ping(b"from websockets.trio")).wait()
                await ws.aclose(4003, "client bye")
            async with connect(ours.url + "/ping") as ws:
                # We ping first; websockets answers on its own.
                pinged = await ws.recv()
            async with connect(ours.url + "/close/4004") as ws:
                with pytest.raises(PeerClosed):
                    await ws.recv()
            return {
                "echoes": echoes,
                "pinged": pinged,
                "close": (ws.close_code, ws.close_reason),
            }

        result = await trio_thread.run(client)
        closes = await ours.closes(3)
    assert result["echoes"] == MESSAGES
    assert result["pinged"] == "pong received"
    assert result["close"] == (4004, "server bye")
    assert closes == [(4003, "client bye"), (1000, None), (4004, "server bye")]
