"""Event-loop iterations per echoed message on asyncio: a cost that load does not blur.

``python bench/loop_iterations.py`` (with wsproto importable) echoes messages
between the layer's client and server in one process and counts the asyncio
loop's iterations (``_run_once`` calls) per round trip, both sides together.
Each extra yield on the per-message path shows up as one more iteration,
whatever else the machine is doing.
"""

from __future__ import annotations

import asyncio
from typing import Any

import anyio

from wsproto.anyio import WebSocketRequest, open_websocket_url, serve_websocket

ROUND_TRIPS = 2000


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


async def iterations_per_round_trip(size: int) -> float:
    loop: Any = asyncio.get_running_loop()
    count = 0
    run_once = loop._run_once

    def counted() -> None:
        nonlocal count
        count += 1
        run_once()

    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, echo, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}/"
        async with open_websocket_url(url, compression=None) as ws:
            message = b"x" * size
            for _ in range(50):  # warm up
                await ws.send_message(message)
                await ws.get_message()
            loop._run_once = counted
            for _ in range(ROUND_TRIPS):
                await ws.send_message(message)
                await ws.get_message()
            loop._run_once = run_once
        group.cancel_scope.cancel()
    return count / ROUND_TRIPS


def main() -> None:
    for size in (32, 4096, 256 * 1024):
        print(f"{size} B: {asyncio.run(iterations_per_round_trip(size)):.1f} iterations per echo")


if __name__ == "__main__":
    main()
