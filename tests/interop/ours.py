"""Our side of the interop tests: the messages exchanged and an echo server.

The server's routes are the ones every peer's scripts use:

- ``/echo`` echoes every message;
- ``/fragments`` sends :data:`PIECES` as one message, a frame each, then echoes;
- ``/ping`` pings, waits for the pong, sends ``"pong received"``, then echoes;
- ``/close/CODE`` closes with CODE and the reason ``"server bye"``;
- ``/headers`` sends the request's headers as JSON (``{name: value}``), then echoes;
- ``/reject`` refuses the upgrade: 403 with :data:`REJECTION` as the body.

Every route accepts the first of :data:`SUBPROTOCOLS` the client offers.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Listener

from wsproto.anyio import ConnectionClosed, WebSocketConnection, WebSocketRequest, WebSocketServer

from .conftest import PEER_TIMEOUT
from .wire import CountingListener

LARGE = 2**20
# Every end accepts messages up to twice the largest one sent.
MAX_SIZE = 2 * LARGE
MESSAGES: list[str | bytes] = [
    "hello",
    "žluťoučký kůň 🐎",
    b"\x00\x01\xfe\xff",
    "compressible text " * (LARGE // 18),
    os.urandom(LARGE),  # incompressible: deflate must still round-trip it
]
PIECES = ["frag", "ment", "ed ", "message"]
# The subprotocols every server supports, in its order of preference.
SUBPROTOCOLS = ["chat.v2", "chat.v1"]
REJECTION = b"no entry\n"
LIMITS: dict[str, Any] = {"max_message_size": MAX_SIZE, "ping_interval": None}


class OurServer:
    """Our echo server, counting its bytes and reporting how each connection ended."""

    def __init__(self, wire: CountingListener) -> None:
        self.wire = wire
        self.url = ""
        self._send_close, self._closes = anyio.create_memory_object_stream[tuple[int, str | None]](
            math.inf
        )

    async def closes(self, count: int) -> list[tuple[int, str | None]]:
        """How the first ``count`` connections ended, once their handlers are done."""
        with anyio.fail_after(PEER_TIMEOUT):
            return [await self._closes.receive() for _ in range(count)]

    async def handler(self, request: WebSocketRequest) -> None:
        if request.path == "/reject":
            plain = [(b"content-type", b"text/plain")]
            await request.reject(403, extra_headers=plain, body=REJECTION)
            return
        offered = request.proposed_subprotocols
        ws = await request.accept(subprotocol=next((p for p in SUBPROTOCOLS if p in offered), None))
        try:
            if request.path == "/fragments":
                await ws.send_message(iter(PIECES))
            elif request.path == "/ping":
                await ws.ping(b"from wsproto")
                await ws.send_message("pong received")
            elif request.path == "/headers":
                sent = {name.decode(): value.decode() for name, value in request.headers}
                await ws.send_message(json.dumps(sent))
            elif request.path.startswith("/close/"):
                await ws.aclose(int(request.path.removeprefix("/close/")), "server bye")
            await echo(ws)
        finally:
            assert ws.closed is not None
            self._send_close.send_nowait((ws.closed.code, ws.closed.reason))


async def echo(ws: WebSocketConnection) -> None:
    try:
        async for message in ws:
            await ws.send_message(message)
    except ConnectionClosed:
        pass


@asynccontextmanager
async def our_server(unix_socket: Path | None = None) -> AsyncIterator[OurServer]:
    """Our server on a free port of 127.0.0.1 (``.url``), or on ``unix_socket``."""
    listener: Listener[Any]
    if unix_socket is None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    else:
        listener = await anyio.create_unix_listener(unix_socket)
    ours = OurServer(CountingListener(listener))
    with ours._send_close, ours._closes:
        async with anyio.create_task_group() as group:
            server = WebSocketServer(ours.handler, [ours.wire], **LIMITS)
            await group.start(server.run)
            if unix_socket is None:
                ours.url = f"ws://127.0.0.1:{server.port}"
            yield ours
            group.cancel_scope.cancel()
