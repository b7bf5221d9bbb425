"""A client and a server talking over loopback TCP, on both backends."""

from __future__ import annotations

import anyio
import pytest

from wsproto.anyio import WebSocketRequest, open_websocket_url, serve_websocket

pytestmark = pytest.mark.anyio


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


async def test_echo_over_tcp() -> None:
    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, echo, "127.0.0.1", 0, None)
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/echo") as ws:
            for message in ("hello", b"\x00\x01", "é" * 70000, b"z" * 300000):
                await ws.send_message(message)
                assert await ws.get_message() == message
            assert ws.path == "/echo"
        assert ws.closed is not None
        assert ws.closed.code == 1000
        group.cancel_scope.cancel()
