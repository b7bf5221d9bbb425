"""Our anyio layer (wsproto.anyio), on asyncio or on trio (``options["backend"]``).

Library defaults on both sides: the own client offers permessage-deflate and
our server accepts it, so own-client rounds are compressed; the raw client
offers no extension, so the server-CPU figures are uncompressed. Keepalive
pings (every 20 s) never fire within a timed run.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version
from typing import Any

import anyio

from bench.adapters import drive
from wsproto.anyio import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)


def versions() -> dict[str, str]:
    return {"wsproto": version("wsproto"), "anyio": version("anyio")}


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.send_message(await ws.get_message())


def serve(host: str, port: int, options: dict[str, Any]) -> None:
    anyio.run(serve_websocket, echo, host, port, None, backend=options["backend"])


async def connect(command: dict[str, Any], stack: contextlib.AsyncExitStack) -> WebSocketConnection:
    return await stack.enter_async_context(open_websocket_url(drive.url(command)))


async def round_trip(ws: WebSocketConnection, payload: bytes) -> bytes:
    await ws.send_message(payload)
    reply = await ws.get_message()
    assert isinstance(reply, bytes)
    return reply


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    return drive.client(
        command, options["backend"], lambda stack: connect(command, stack), round_trip
    )
