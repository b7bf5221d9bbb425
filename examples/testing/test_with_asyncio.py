"""Tests of the ``shout`` handler under pytest-asyncio (strict mode): asyncio only."""

from __future__ import annotations

import asyncio

import pytest
from handlers import shout

from wsproto.anyio import ConnectionRejected
from wsproto.anyio.testing import open_websocket_pair


@pytest.mark.asyncio
async def test_shout_answers_in_capitals() -> None:
    async with open_websocket_pair(shout, resource="/shout") as (client, _):
        await client.send_message("hello")
        assert await client.get_message() == "HELLO"


@pytest.mark.asyncio
async def test_shout_rejects_other_paths() -> None:
    with pytest.raises(ConnectionRejected) as rejected:
        async with open_websocket_pair(shout, resource="/whisper"):
            pass
    assert rejected.value.status_code == 404


@pytest.mark.asyncio
async def test_several_clients_at_once() -> None:
    async def talk(n: int) -> str | bytes:
        async with open_websocket_pair(shout, resource="/shout") as (client, _):
            await client.send_message(f"client {n}")
            return await client.get_message()

    answers = await asyncio.gather(*(talk(n) for n in range(3)))
    assert answers == ["CLIENT 0", "CLIENT 1", "CLIENT 2"]
