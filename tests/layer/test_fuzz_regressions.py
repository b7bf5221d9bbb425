"""Regression tests for what the stateful layer test and its follow-ups found."""

from __future__ import annotations

import anyio
import pytest

from wsproto import WSConnection
from wsproto.anyio import ConnectionClosed, wrap_client_stream
from wsproto.anyio.testing import MemoryByteStream, memory_stream_pair
from wsproto.connection import ConnectionType
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

pytestmark = pytest.mark.anyio


async def raw_server_handshake(stream: MemoryByteStream) -> WSConnection:
    """Answer the client's handshake with the core alone; return the open connection."""
    ws = WSConnection(ConnectionType.SERVER)
    while True:
        ws.receive_data(await stream.receive())
        if any(isinstance(event, Request) for event in ws.events()):
            break
    await stream.send(ws.send(AcceptConnection()))
    return ws


async def test_messages_before_a_close_survive_a_peer_that_hangs_up_at_once() -> None:
    """A peer sends messages and its close frame, then closes the transport at once.

    RFC 6455 §7.1.1 lets a server close TCP right after its close frame. Our
    close reply then cannot be written, but the messages that came before the
    close were received: get_message must still return them, then raise
    ConnectionClosed with the peer's code.

    Found following up the stateful layer test: the failed reply aborted the
    connection before the peer's code was noted, so the close read 1006 (both
    backends), and the abort dropped the messages still queued (on trio, about
    one run in two).
    """
    client_stream, server_stream = memory_stream_pair()
    async with anyio.create_task_group() as group:
        server_task = anyio.Event()
        sent = ["one", "two", "three"]

        async def server() -> None:
            ws = await raw_server_handshake(server_stream)
            data = b"".join(ws.send(TextMessage(text)) for text in sent)
            data += ws.send(CloseConnection(1000, "done"))
            await server_stream.send(data)
            await server_stream.aclose()
            server_task.set()

        group.start_soon(server)
        with anyio.fail_after(30):
            client = await wrap_client_stream(
                group, client_stream, "localhost", "/", message_queue_size=1, ping_interval=None
            )
            await server_task.wait()
            await anyio.wait_all_tasks_blocked()
            received = [await client.get_message() for _ in sent]
            with pytest.raises(ConnectionClosed) as caught:
                await client.get_message()
        assert received == sent
        assert caught.value.reason is not None
        assert caught.value.reason.code == 1000
        await client.aclose()
