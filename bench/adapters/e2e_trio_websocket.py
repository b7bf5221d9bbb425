"""trio-websocket 0.12.2 (on real wsproto 1.3.2): the API our layer follows.

It negotiates no extensions; keepalive is off unless asked for.
"""

from __future__ import annotations

import contextlib
from importlib.metadata import version
from typing import Any

import trio
from trio_websocket import ConnectionClosed, open_websocket_url, serve_websocket

from bench.adapters import drive


def versions() -> dict[str, str]:
    return {name: version(name) for name in ("trio-websocket", "wsproto", "trio")}


async def echo(request: Any) -> None:
    ws = await request.accept()
    with contextlib.suppress(ConnectionClosed):
        while True:
            await ws.send_message(await ws.get_message())


def serve(host: str, port: int, options: dict[str, Any]) -> None:
    trio.run(lambda: serve_websocket(echo, host, port, ssl_context=None))


async def round_trip(ws: Any, payload: bytes) -> bytes:
    await ws.send_message(payload)
    reply: bytes = await ws.get_message()
    return reply


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    async def connect(stack: contextlib.AsyncExitStack) -> Any:
        return await stack.enter_async_context(open_websocket_url(drive.url(command)))

    return drive.client(command, "trio", connect, round_trip)
