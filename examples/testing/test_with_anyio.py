"""Tests of the ``shout`` handler under anyio's pytest plugin, on asyncio and on trio."""

from __future__ import annotations

import pytest
from handlers import shout

from wsproto.anyio import ConnectionClosed, ConnectionRejected
from wsproto.anyio.testing import open_websocket_pair

pytestmark = pytest.mark.anyio


async def test_shout_answers_in_capitals() -> None:
    async with open_websocket_pair(shout, resource="/shout") as (client, _):
        await client.send_message("hello")
        assert await client.get_message() == "HELLO"
        await client.send_message(b"bytes too")
        assert await client.get_message() == b"BYTES TOO"


async def test_shout_rejects_other_paths() -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_pair(shout, resource="/whisper"):
            pass
    assert rejected.value.status_code == 404
    assert rejected.value.body == b"try /shout\n"


async def test_server_side_close_reaches_the_client() -> None:
    # Without a handler, the pair hands over the server's side of the
    # connection: drive it directly to test a client's code.
    async with open_websocket_pair() as (client, server):
        await server.aclose(4000, "bye")
        with pytest.raises(ConnectionClosed) as closed:
            await client.get_message()
        assert closed.value.reason is not None
        assert (closed.value.reason.code, closed.value.reason.reason) == (4000, "bye")
