"""wsproto.anyio.testing: the in-memory byte stream pair and the client/server pair."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from anyio import wait_all_tasks_blocked

from wsproto.anyio import (
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    WebSocketConnection,
    WebSocketRequest,
)
from wsproto.anyio.testing import (
    MemoryByteStream,
    WebSocketPair,
    memory_stream_pair,
    open_websocket_pair,
)

pytestmark = pytest.mark.anyio


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


# The byte stream pair

Streams = tuple[MemoryByteStream, MemoryByteStream]


@pytest.fixture
async def streams() -> AsyncIterator[Streams]:
    """Two joined ends with a 10 000-byte buffer each way, closed afterwards."""
    a, b = memory_stream_pair(buffer_size=10_000)
    async with a, b:
        yield a, b


async def test_bytes_sent_on_one_end_arrive_at_the_other(streams: Streams) -> None:
    a, b = streams
    await a.send(b"hello")
    await b.send(b"world")
    assert await b.receive() == b"hello"
    assert await a.receive() == b"world"


async def test_receive_returns_at_most_max_bytes_and_keeps_the_rest(streams: Streams) -> None:
    a, b = streams
    await a.send(b"abcdefgh")
    await a.send(b"ij")
    assert await b.receive(3) == b"abc"
    assert await b.receive(3) == b"def"
    assert await b.receive() == b"ghij"  # what is buffered comes in one read


async def test_send_eof_ends_the_peer_stream_after_the_buffered_data(streams: Streams) -> None:
    a, b = streams
    await a.send(b"last words")
    await a.send_eof()
    with pytest.raises(anyio.ClosedResourceError):
        await a.send(b"more")
    assert await b.receive(4) == b"last"
    assert await b.receive() == b" words"
    with pytest.raises(anyio.EndOfStream):
        await b.receive()
    # A half-close: the other direction still works.
    await b.send(b"reply")
    assert await a.receive() == b"reply"


async def test_aclose_ends_the_peer_and_closes_this_end(streams: Streams) -> None:
    a, b = streams
    await a.send(b"bye")
    await a.aclose()
    assert await b.receive() == b"bye"
    with pytest.raises(anyio.EndOfStream):
        await b.receive()
    with pytest.raises(anyio.BrokenResourceError):
        await b.send(b"anyone?")
    with pytest.raises(anyio.ClosedResourceError):
        await a.receive()
    with pytest.raises(anyio.ClosedResourceError):
        await a.send(b"x")
    with pytest.raises(anyio.ClosedResourceError):
        await a.send_eof()
    await a.aclose()  # idempotent


async def test_aclose_wakes_a_receive_waiting_on_the_same_end(streams: Streams) -> None:
    a, _ = streams
    errors: list[BaseException] = []

    async def wait() -> None:
        try:
            await a.receive()
        except anyio.ClosedResourceError as exc:
            errors.append(exc)

    async with anyio.create_task_group() as group:
        group.start_soon(wait)
        await wait_all_tasks_blocked()
        await a.aclose()
    assert len(errors) == 1


async def test_a_full_buffer_makes_the_sender_wait(streams: Streams) -> None:
    a, b = streams
    sent = anyio.Event()

    async def send() -> None:
        await a.send(b"x" * 25_000)
        sent.set()

    async with anyio.create_task_group() as group:
        group.start_soon(send)
        await wait_all_tasks_blocked()
        assert not sent.is_set()
        received = await b.receive(100_000)
        assert 0 < len(received) <= 10_000  # never more than the buffer holds
        while len(received) < 25_000:
            received += await b.receive(100_000)
        await sent.wait()
    assert received == b"x" * 25_000


async def test_sizes_must_be_positive(streams: Streams) -> None:
    with pytest.raises(ValueError, match="buffer_size"):
        memory_stream_pair(0)
    with pytest.raises(ValueError, match="max_bytes"):
        await streams[0].receive(0)


async def test_ends_are_anyio_byte_streams(streams: Streams) -> None:
    for end in streams:
        assert isinstance(end, anyio.abc.ByteStream)
        assert end.extra_attributes == {}


@pytest.mark.parametrize("buffer_size", [1, 4095, 4096, 4097, 10_000, 65536])
async def test_the_buffer_never_holds_more_than_its_size(buffer_size: int) -> None:
    a, b = memory_stream_pair(buffer_size)
    async with a, b, anyio.create_task_group() as group:
        group.start_soon(a.send, b"y" * 200_000)
        await wait_all_tasks_blocked()
        # One read returns what the buffer held: nearly all of buffer_size
        # (it is cut into equal pieces of at most 4 KiB), never more.
        received = await b.receive(1_000_000)
        assert buffer_size - 16 < len(received) <= buffer_size
        group.cancel_scope.cancel()


# The WebSocket pair without a handler


async def test_pair_without_handler_connects_both_sides() -> None:
    async with open_websocket_pair(resource="/chat?room=1") as pair:
        assert isinstance(pair, WebSocketPair)
        client, server = pair
        assert pair.client is client
        assert client.is_client
        assert server.is_server
        assert client.path == server.path == "/chat?room=1"
        await client.send_message("hello")
        assert await server.get_message() == "hello"
        await server.send_message(b"\x00\xff")
        assert await client.get_message() == b"\x00\xff"
        await client.ping(b"still there?")
    assert client.closed == server.closed
    assert client.closed is not None
    assert client.closed.code == 1000


async def test_client_closes() -> None:
    async with open_websocket_pair() as (client, server):
        await client.aclose(4000, "done here")
        with pytest.raises(ConnectionClosed) as info:
            await server.get_message()
        assert info.value.reason is not None
        assert (info.value.reason.code, info.value.reason.reason) == (4000, "done here")
        with pytest.raises(ConnectionClosed):
            await client.send_message("too late")


async def test_server_closes() -> None:
    async with open_websocket_pair() as (client, server):
        await server.send_message("last one")
        await server.aclose(1001, "going away")
        assert await client.get_message() == "last one"
        received = [message async for message in client]  # ends quietly on 1001
        assert received == []
        assert client.closed is not None
        assert (client.closed.code, client.closed.name) == (1001, "GOING_AWAY")


async def test_large_messages_and_options_reach_both_sides() -> None:
    async with open_websocket_pair(
        compression=None, max_message_size=2**21, message_queue_size=4, buffer_size=1000
    ) as (client, server):
        big = bytes(range(256)) * 6000  # 1.5 MB through a 1 kB buffer
        async with anyio.create_task_group() as group:
            group.start_soon(client.send_message, big)
            assert await server.get_message() == big
        chunks: list[str] = []
        async with anyio.create_task_group() as group:
            group.start_soon(server.send_message, ["stream", "ed ", "text"])
            async for chunk in client.message_chunks():
                assert isinstance(chunk, str)
                chunks.append(chunk)
        assert "".join(chunks) == "streamed text"


# The WebSocket pair with a handler


async def test_handler_echoes() -> None:
    async with open_websocket_pair(echo) as (client, server):
        for message in ("hi", b"\x01\x02", "é" * 100_000):
            await client.send_message(message)
            assert await client.get_message() == message
    # The handler returned once the client closed, and closed its side.
    assert server.closed is not None
    assert server.closed.code == 1000


async def test_handler_sees_the_request() -> None:
    seen: list[object] = []

    async def handler(request: WebSocketRequest) -> None:
        seen.extend([request.path, request.proposed_subprotocols, request.headers])
        ws = await request.accept(subprotocol="chat.v2")
        await ws.send_message("welcome")

    async with open_websocket_pair(
        handler,
        resource="/room/7",
        subprotocols=["chat.v2", "chat.v1"],
        extra_headers=[(b"X-Test", b"yes")],
    ) as (client, _):
        assert client.subprotocol == "chat.v2"
        assert await client.get_message() == "welcome"
        # The handler returned: the server closes normally, ending the iteration.
        assert [message async for message in client] == []
    path, subprotocols, headers = seen
    assert (path, subprotocols) == ("/room/7", ("chat.v2", "chat.v1"))
    assert (b"x-test", b"yes") in headers  # type: ignore[operator]


async def test_handler_that_rejects() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(403, body=b"go away")

    with pytest.raises(ConnectionRejected) as info:
        async with open_websocket_pair(handler):
            pytest.fail("the handshake should have failed")
    assert type(info.value) is ConnectionRejected
    assert info.value.status_code == 403
    assert info.value.body == b"go away"


async def test_handler_error_after_accept_closes_with_1011_and_is_raised() -> None:
    closes: list[ConnectionClosed] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.get_message()
        raise ZeroDivisionError("handler bug")

    async def use_pair() -> None:
        async with open_websocket_pair(handler) as (client, _):
            await client.send_message("trigger")
            try:
                await client.get_message()
            except ConnectionClosed as exc:
                closes.append(exc)
                raise

    with pytest.raises(ZeroDivisionError, match="handler bug") as info:
        await use_pair()
    assert type(info.value) is ZeroDivisionError  # not a group
    assert [close.reason.code for close in closes if close.reason] == [1011]
    assert any("the client saw ConnectionClosed" in note for note in info.value.__notes__)


async def test_handler_error_is_raised_even_if_the_client_never_noticed() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.accept()
        raise KeyError("oops")

    with pytest.raises(KeyError):
        async with open_websocket_pair(handler):
            pass


async def test_handler_error_before_accept_rejects_with_500_and_is_raised() -> None:
    async def handler(request: WebSocketRequest) -> None:
        raise RuntimeError("could not decide")

    with pytest.raises(RuntimeError, match="could not decide") as info:
        async with open_websocket_pair(handler):
            pytest.fail("the handshake should have failed")
    assert any("status_code=500" in note for note in info.value.__notes__)


async def test_an_error_in_the_test_body_wins_with_a_note() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.accept()
        raise KeyError("handler")

    async def use_pair() -> None:
        async with open_websocket_pair(handler) as (client, _):
            with pytest.raises(ConnectionClosed):
                await client.get_message()
            raise AssertionError("body")

    with pytest.raises(AssertionError, match="body") as info:
        await use_pair()
    assert any("KeyError" in note for note in info.value.__notes__)


async def test_an_error_in_the_body_is_not_wrapped() -> None:
    with pytest.raises(LookupError) as info:
        async with open_websocket_pair(echo):
            raise LookupError("plain")
    assert type(info.value) is LookupError


async def test_a_lingering_handler_is_cancelled_on_exit() -> None:
    cancelled = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        await request.accept()
        try:
            await anyio.sleep_forever()  # never looks at its connection again
        finally:
            cancelled.set()

    async with open_websocket_pair(handler, disconnect_timeout=0.5) as (client, server):
        await client.send_message("ignored")
    assert cancelled.is_set()
    assert server.closed is not None


async def test_a_handler_that_never_answers_times_out() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await anyio.sleep_forever()

    with pytest.raises(ConnectionTimeout):
        async with open_websocket_pair(handler, connect_timeout=0.2, disconnect_timeout=0.2):
            pytest.fail("the handshake should have timed out")


async def test_cancelling_the_test_body_leaves_promptly() -> None:
    with anyio.CancelScope() as scope:
        async with open_websocket_pair(echo) as (client, _):
            scope.cancel()
            await client.get_message()  # cancelled here
    assert scope.cancelled_caught
    assert client.closed is not None


# Back-pressure through the in-memory stream


async def test_a_stalled_reader_stops_the_sender() -> None:
    size = 1000
    total = 200

    async with open_websocket_pair(
        compression=None, message_queue_size=1, buffer_size=4096, ping_interval=None
    ) as (client, server):
        sent = 0

        async def send_all(ws: WebSocketConnection) -> None:
            nonlocal sent
            for n in range(total):
                await ws.send_message(n.to_bytes(2, "big") * (size // 2))
                sent += 1

        async with anyio.create_task_group() as group:
            group.start_soon(send_all, client)
            await wait_all_tasks_blocked()
            # The server's queue holds one message, its reader is stuck
            # delivering the next, and the in-memory buffer is full: the
            # client has to wait, having sent a few kilobytes at most.
            stalled_at = sent
            assert 0 < stalled_at < 12
            await wait_all_tasks_blocked()
            assert sent == stalled_at
            for n in range(total):
                message = await server.get_message()
                assert message == n.to_bytes(2, "big") * (size // 2)
        assert sent == total
