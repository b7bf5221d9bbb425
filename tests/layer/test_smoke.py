"""A client and a server talking over loopback TCP, on both backends."""

from __future__ import annotations

import anyio
import pytest

from wsproto.anyio import ConnectionClosed, WebSocketRequest, open_websocket_url, serve_websocket

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


async def test_cancelled_client_block_still_closes_cleanly() -> None:
    """Leaving open_websocket because of a cancellation sends a close the server sees."""
    seen: list[int] = []
    handler_done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as exc:
            seen.append(exc.reason.code if exc.reason is not None else -1)
        finally:
            handler_done.set()

    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, handler, "127.0.0.1", 0, None)
        with anyio.CancelScope() as scope:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                scope.cancel()
                await ws.get_message()
        assert scope.cancelled_caught
        assert ws.closed is not None
        assert ws.closed.code == 1000
        await handler_done.wait()
        group.cancel_scope.cancel()
    assert seen == [1000]
