"""Tests of the ``shout`` handler under pytest-trio: trio only, trio's own style."""

from __future__ import annotations

import pytest
import trio
from handlers import shout

from wsproto.anyio import open_websocket_url, serve_websocket
from wsproto.anyio.testing import open_websocket_pair


@pytest.mark.trio
async def test_shout_answers_in_capitals() -> None:
    async with open_websocket_pair(shout, resource="/shout") as (client, _):
        await client.send_message("hello")
        assert await client.get_message() == "HELLO"


@pytest.mark.trio
async def test_shout_over_loopback(nursery: trio.Nursery) -> None:
    # pytest-trio's nursery fixture runs the server; it is cancelled when
    # the test ends, which closes every connection and stops the server.
    server = await nursery.start(serve_websocket, shout, "127.0.0.1", 0, None)
    async with open_websocket_url(f"ws://127.0.0.1:{server.port}/shout") as ws:
        await ws.send_message("over TCP")
        assert await ws.get_message() == "OVER TCP"
