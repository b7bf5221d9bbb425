"""aiohttp 3.14.5 (C frame reader): web.WebSocketResponse and ClientSession.ws_connect.

Library defaults; its client offers no compression, so none is negotiated.
The access log is off, as in any production server.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from aiohttp import WSMsgType, web

from bench.adapters import drive


def versions() -> dict[str, str]:
    return {"aiohttp": aiohttp.__version__}


async def echo(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.BINARY:
            await ws.send_bytes(message.data)
        elif message.type is WSMsgType.TEXT:
            await ws.send_str(message.data)
    return ws


def serve(host: str, port: int, options: dict[str, Any]) -> None:
    async def main() -> None:
        app = web.Application()
        app.router.add_get("/bench", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port, backlog=1024).start()
        await asyncio.Event().wait()

    asyncio.run(main())


async def round_trip(ws: Any, payload: bytes) -> bytes:
    await ws.send_bytes(payload)
    reply = await ws.receive()
    if reply.type is not WSMsgType.BINARY:
        raise ConnectionError(f"received {reply.type}")
    data: bytes = reply.data
    return data


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    session: aiohttp.ClientSession | None = None

    async def connect(stack: contextlib.AsyncExitStack) -> Any:
        nonlocal session
        if session is None:  # one session for every connection, closed last
            session = await stack.enter_async_context(aiohttp.ClientSession())
        return await stack.enter_async_context(session.ws_connect(drive.url(command)))

    return drive.client(command, "asyncio", connect, round_trip)
