"""websockets 17: its asyncio implementation or its trio one (``options["backend"]``).

Library defaults (permessage-deflate offered by its client and accepted by its
server, keepalive pings every 20 s), as for every library.
"""

from __future__ import annotations

import contextlib
from typing import Any

import websockets

from bench.adapters import drive


def versions() -> dict[str, object]:
    try:
        from websockets import speedups  # noqa: F401
    except ImportError:
        return {"websockets": websockets.__version__, "speedups": False}
    return {"websockets": websockets.__version__, "speedups": True}


async def echo(ws: Any) -> None:
    async for message in ws:
        await ws.send(message)


def serve(host: str, port: int, options: dict[str, Any]) -> None:
    if options["backend"] == "trio":
        import trio
        from websockets.trio.server import serve as trio_serve

        trio.run(lambda: trio_serve(echo, port, host=host, backlog=1024))
        return
    import asyncio

    from websockets.asyncio.server import serve as asyncio_serve

    async def main() -> None:
        async with asyncio_serve(echo, host, port, backlog=1024) as server:
            await server.serve_forever()

    asyncio.run(main())


async def round_trip(ws: Any, payload: bytes) -> bytes:
    await ws.send(payload)
    reply: bytes = await ws.recv()
    return reply


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    if options["backend"] == "trio":
        from websockets.trio.client import connect as trio_connect

        async def connect(stack: contextlib.AsyncExitStack) -> Any:
            return await stack.enter_async_context(trio_connect(drive.url(command)))

    else:
        from websockets.asyncio.client import connect as asyncio_connect

        async def connect(stack: contextlib.AsyncExitStack) -> Any:
            return await stack.enter_async_context(asyncio_connect(drive.url(command)))

    return drive.client(command, options["backend"], connect, round_trip)
