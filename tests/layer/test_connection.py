"""WebSocketConnection on both backends: messages, streaming, ping/pong, closing,
back-pressure, limits, keepalive and cancellation.

Most tests put our client against a :class:`~tests.layer.helpers.RawPeer` (the
protocol core driven by hand), so they see exactly the frames the layer wrote
and can make the peer misbehave; many run over loopback TCP and over an
in-memory byte stream.
"""

from __future__ import annotations

import hashlib
import socket
import time
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from contextlib import aclosing
from typing import Any

import anyio
import pytest

from wsproto.anyio import (
    CloseReason,
    ConnectionClosed,
    WebSocketConnection,
    open_websocket_url,
    wrap_client_stream,
)
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    Pong,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate

from .helpers import RawPeer, Transport, client_with_peer, echo, running_server, tcp_listener

pytestmark = pytest.mark.anyio

both_transports = pytest.mark.parametrize("transport", ["tcp", "memory"])


def frames_of(events: list[Event]) -> list[Event]:
    """The data messages among ``events``."""
    return [event for event in events if isinstance(event, Message)]


def join(pieces: list[str | bytes]) -> str | bytes:
    """A message from its pieces (all text or all binary)."""
    texts = [piece for piece in pieces if isinstance(piece, str)]
    if pieces and len(texts) == len(pieces):
        return "".join(texts)
    blobs = [piece for piece in pieces if isinstance(piece, bytes)]
    assert len(blobs) == len(pieces), "a message mixes text and binary pieces"
    return b"".join(blobs)


async def expect_closed(ws: WebSocketConnection, code: int) -> ConnectionClosed:
    """``get_message`` raises ConnectionClosed with ``code``; return it."""
    with pytest.raises(ConnectionClosed) as info:
        await ws.get_message()
    assert info.value.reason is not None
    assert info.value.reason.code == code, info.value.reason
    return info.value


async def collect(ws: WebSocketConnection) -> list[str | bytes | ConnectionClosed]:
    """What ``async for message in ws`` gives, and the ConnectionClosed it ends with, if any."""
    received: list[str | bytes | ConnectionClosed] = []
    try:
        async for message in ws:
            received.append(message)  # noqa: PERF401 (the list is wanted on error too)
    except ConnectionClosed as exc:
        received.append(exc)
    return received


async def expect_failed(ws: WebSocketConnection, peer: RawPeer, code: int) -> None:
    """The connection fails with ``code``: the peer gets it in a close frame, get_message raises it.

    The consumer waits in get_message meanwhile: the layer answers a failing
    close only once the application has taken the messages before it.
    """
    async with anyio.create_task_group() as group:
        group.start_soon(expect_closed, ws, code)
        close = await peer.expect(CloseConnection)
    assert close.code == code


# Sending and receiving whole messages


@both_transports
async def test_send_message_text_and_binary(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        for message in ("hello", "é€😀", "", b"\x00\xff", b""):
            await ws.send_message(message)
            assert await peer.receive_message() == (message, 1)
        await ws.send_message(bytearray(b"array"))  # accepted too
        assert await peer.receive_message() == (b"array", 1)
        await ws.send_message(memoryview(b"view"))
        assert await peer.receive_message() == (b"view", 1)


@both_transports
async def test_get_message_returns_str_for_text_and_bytes_for_binary(transport: Transport) -> None:
    async with client_with_peer(transport, message_queue_size=4) as (ws, peer, _):
        await peer.send(TextMessage("text"), BytesMessage(b"bin"))
        await peer.send(TextMessage(""), BytesMessage(b""))
        received = [await ws.get_message() for _ in range(4)]
        assert received == ["text", b"bin", "", b""]
        assert [type(message) for message in received] == [str, bytes, str, bytes]


@both_transports
async def test_many_messages_in_one_write_arrive_in_order(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(*(TextMessage(f"m{i}") for i in range(200)))
        assert [await ws.get_message() for _ in range(200)] == [f"m{i}" for i in range(200)]


@both_transports
async def test_message_split_across_many_reads_is_reassembled(transport: Transport) -> None:
    async with client_with_peer(transport, buffer=1000) as (ws, peer, _):
        text = "aé€😀" * 5000  # multi-byte characters, cut anywhere below
        wire = peer.ws.send(TextMessage(text)) + peer.ws.send(BytesMessage(bytes(range(256)) * 400))
        for start in range(0, len(wire), 997):
            await peer.stream.send(wire[start : start + 997])
        assert await ws.get_message() == text
        assert await ws.get_message() == bytes(range(256)) * 400


async def test_echo_server_round_trip() -> None:
    async with (
        running_server(echo) as server,
        open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws,
    ):
        for message in ("x", b"y", "z" * 100_000, b"w" * 500_000):
            await ws.send_message(message)
            assert await ws.get_message() == message


# async for


@both_transports
@pytest.mark.parametrize("code", [1000, 1001])
async def test_async_for_ends_on_normal_close(transport: Transport, code: int) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(TextMessage("a"), BytesMessage(b"b"), CloseConnection(code, "bye"))
        received = [message async for message in ws]
        assert received == ["a", b"b"]
        assert ws.closed == CloseReason(code, "bye")
        reply = await peer.expect(CloseConnection)
        assert reply.code == code


@both_transports
@pytest.mark.parametrize("code", [1002, 1011, 3000, 4000])
async def test_async_for_raises_on_other_close_codes(transport: Transport, code: int) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(TextMessage("a"), CloseConnection(code, "broken"))
        received = await collect(ws)
        assert received[:-1] == ["a"]
        error = received[-1]
        assert isinstance(error, ConnectionClosed)
        assert error.reason == CloseReason(code, "broken")


@both_transports
async def test_async_for_raises_when_transport_drops(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(TextMessage("last words"))
        await peer.stream.aclose()
        received = await collect(ws)
        assert received[:-1] == ["last words"]
        error = received[-1]
        assert isinstance(error, ConnectionClosed)
        assert error.reason is not None
        assert error.reason.code == 1006


@both_transports
async def test_leaving_async_for_early_keeps_the_connection_usable(transport: Transport) -> None:
    # No unfinished async generator is left behind either: trio would warn
    # (a ResourceWarning, an error here) when it is collected.
    async with client_with_peer(transport, message_queue_size=4) as (ws, peer, _):
        await peer.send(TextMessage("first"), TextMessage("second"), TextMessage("third"))
        async for message in ws:
            assert message == "first"
            break
        with pytest.raises(LookupError):  # noqa: PT012 (raised from inside the loop)
            async for message in ws:
                raise LookupError(message)
        assert await ws.get_message() == "third"


# Sending a message in fragments


def _pieces_list(pieces: list[Any]) -> list[Any]:
    return list(pieces)


def _pieces_generator(pieces: list[Any]) -> Iterator[Any]:
    yield from pieces


async def _pieces_async_generator(pieces: list[Any]) -> AsyncIterator[Any]:
    for piece in pieces:
        await anyio.lowlevel.checkpoint()
        yield piece


@both_transports
@pytest.mark.parametrize("source", [_pieces_list, _pieces_generator, _pieces_async_generator])
@pytest.mark.parametrize(
    "pieces", [[b"ab", b"cd", b"", b"ef"], ["ab", "é€", "😀"]], ids=["bytes", "text"]
)
async def test_iterable_is_sent_as_one_fragmented_message(
    transport: Transport, source: Any, pieces: list[Any]
) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await ws.send_message(source(pieces))
        joined = b"".join(pieces) if isinstance(pieces[0], bytes) else "".join(pieces)
        assert await peer.receive_message() == (joined, len(pieces))
        await ws.send_message(source(pieces[:1]))
        assert await peer.receive_message() == (pieces[0], 1)


async def test_fragmented_message_arrives_whole_at_our_server() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for i in range(50):
            yield bytes([i]) * 10_000

    async with (
        running_server(echo) as server,
        open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws,
    ):
        await ws.send_message(chunks())
        assert await ws.get_message() == b"".join([bytes([i]) * 10_000 for i in range(50)])
        await ws.send_message(iter(["un", "deux", "trois"]))
        assert await ws.get_message() == "undeuxtrois"


async def test_empty_iterable_sends_no_message() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await ws.send_message([])
        await ws.send_message("next")
        assert await peer.receive_message() == ("next", 1)


async def test_mixed_piece_types_before_sending_anything_leave_the_connection_usable() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        with pytest.raises(TypeError):
            await ws.send_message(["text", b"bytes"])
        with pytest.raises(TypeError):
            await ws.send_message([1, 2])  # type: ignore[list-item]
        assert ws.closed is None
        await ws.send_message("fine")
        assert await peer.receive_message() == ("fine", 1)


@pytest.mark.parametrize("failure", ["type", "iterator"])
async def test_failure_in_the_middle_of_a_fragmented_message_fails_the_connection(
    failure: str,
) -> None:
    # Part of the message is on the wire; anything sent next would continue
    # it, so the peer would take it for the rest of this message. The
    # connection closes with 1011 instead (as websockets does).
    def pieces() -> Iterator[str | bytes]:
        yield "first "
        yield "second "
        if failure == "type":
            yield b"bytes"
        else:
            raise LookupError("the source failed")

    async with client_with_peer("memory") as (ws, peer, _):
        with pytest.raises(TypeError if failure == "type" else LookupError):
            await ws.send_message(pieces())
        assert ws.closed is not None
        assert ws.closed.code == 1011
        with pytest.raises(ConnectionClosed):
            await ws.send_message("more")
        events = await peer.drain()
        assert frames_of(events) == [TextMessage("first ", message_finished=False)]
        closes = [event for event in events if isinstance(event, CloseConnection)]
        assert closes[0].code == 1011


async def test_ping_goes_out_between_fragments_of_a_message() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        next_piece = anyio.Event()

        async def pieces() -> AsyncIterator[bytes]:
            yield b"one"
            yield b"two"
            await next_piece.wait()
            yield b"three"

        async with anyio.create_task_group() as group:
            group.start_soon(ws.send_message, pieces())
            assert await peer.next_event() == BytesMessage(b"one", message_finished=False)
            group.start_soon(ws.ping, b"between")
            assert await peer.next_event() == Ping(b"between")
            await peer.send(Pong(b"between"))
            next_piece.set()
        assert await peer.next_event() == BytesMessage(b"two", message_finished=False)
        assert await peer.next_event() == BytesMessage(b"three", message_finished=True)
        assert ws.latency is not None


async def test_concurrent_senders_never_interleave_messages() -> None:
    async with client_with_peer("tcp") as (ws, peer, _):

        async def sender(tag: int) -> None:
            for i in range(20):
                await ws.send_message([bytes([tag]) * 5000] * (1 + i % 4))

        async with anyio.create_task_group() as group:
            for tag in range(5):
                group.start_soon(sender, tag)
            for _ in range(100):
                message, frames = await peer.receive_message()
                assert isinstance(message, bytes)
                assert message == message[:1] * len(message)
                assert len(message) == 5000 * frames


# Receiving a message as a stream of chunks


@both_transports
async def test_message_chunks_arrive_before_the_message_is_complete(transport: Transport) -> None:
    frame_size = 65536
    frames = 64  # 4 MiB
    half_seen = anyio.Event()
    expected = hashlib.sha256()
    for i in range(frames):
        expected.update(bytes([i]) * frame_size)

    async with client_with_peer(transport, max_message_size=None) as (ws, peer, _):

        async def send_message() -> None:
            for i in range(frames):
                if i == frames // 2:
                    # The second half goes out only once the consumer has
                    # the first: a layer holding the whole message deadlocks.
                    await half_seen.wait()
                last = i == frames - 1
                await peer.send(BytesMessage(bytes([i]) * frame_size, message_finished=last))

        received = 0
        largest = 0
        digest = hashlib.sha256()
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(send_message)
                async for chunk in ws.message_chunks():
                    assert isinstance(chunk, bytes)
                    digest.update(chunk)
                    received += len(chunk)
                    largest = max(largest, len(chunk))
                    if received >= frames // 2 * frame_size:
                        half_seen.set()
        assert received == frames * frame_size
        assert digest.digest() == expected.digest()
        assert largest <= 65536  # at most one read's worth at a time
        await peer.send(TextMessage("after"))
        assert await ws.get_message() == "after"


async def test_message_chunks_keep_memory_bounded() -> None:
    frame_size = 65536
    frames = 256  # a 16 MiB message
    async with client_with_peer("tcp", max_message_size=None) as (ws, peer, _):

        async def send_message() -> None:
            for i in range(frames):
                last = i == frames - 1
                await peer.send(BytesMessage(b"m" * frame_size, message_finished=last))

        was_tracing = tracemalloc.is_tracing()
        tracemalloc.start()
        try:
            tracemalloc.reset_peak()
            baseline = tracemalloc.get_traced_memory()[0]
            received = 0
            async with anyio.create_task_group() as group:
                group.start_soon(send_message)
                async for chunk in ws.message_chunks():
                    received += len(chunk)
            peak = tracemalloc.get_traced_memory()[1] - baseline
        finally:
            if not was_tracing:
                tracemalloc.stop()
        assert received == frames * frame_size
        # The whole message is 16 MiB; streamed, a few reads' worth is alive at once.
        assert peak < 4 * 2**20, f"peak {peak} bytes while streaming a 16 MiB message"


@both_transports
async def test_get_message_takes_a_message_larger_than_a_handover(transport: Transport) -> None:
    # Over 1 MiB, the reader hands a message spanning many reads over in pieces.
    frame_size = 65536
    frames = 40  # 2.5 MiB
    async with client_with_peer(transport, max_message_size=None) as (ws, peer, _):

        async def send_message() -> None:
            for i in range(frames):
                last = i == frames - 1
                await peer.send(BytesMessage(bytes([i]) * frame_size, message_finished=last))

        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(send_message)
                message = await ws.get_message()
        assert message == b"".join(bytes([i]) * frame_size for i in range(frames))


async def test_a_huge_message_nobody_takes_stops_the_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The reader holds at most HANDOVER_SIZE of a message before handing it
    # over, so with the queue full it stops reading: the peer's writes stall.
    monkeypatch.setattr("wsproto.anyio._engine.HANDOVER_SIZE", 65536)
    frame_size = 16384
    frames = 1024  # 16 MiB
    sent = 0
    async with client_with_peer("memory", buffer=1, max_message_size=None) as (ws, peer, _):

        async def send_message() -> None:
            nonlocal sent
            for i in range(frames):
                last = i == frames - 1
                await peer.send(BytesMessage(b"x" * frame_size, message_finished=last))
                sent += 1

        async with anyio.create_task_group() as group:
            group.start_soon(send_message)
            await anyio.wait_all_tasks_blocked()
            # One piece queued, one waiting to be, one being gathered, a write in flight.
            assert sent * frame_size < 4 * 65536
            received = 0
            async with aclosing(ws.message_chunks()) as chunks:
                async for chunk in chunks:
                    received += len(chunk)
        assert received == frames * frame_size


@both_transports
async def test_message_chunks_of_a_message_that_arrived_whole(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(TextMessage("whole"))
        assert [chunk async for chunk in ws.message_chunks()] == ["whole"]
        await peer.send(BytesMessage(b"a", message_finished=False))
        await peer.send(BytesMessage(b"b", message_finished=False))
        await peer.send(BytesMessage(b"c"))
        assert join([chunk async for chunk in ws.message_chunks()]) == b"abc"


async def test_message_chunks_stopped_early_drop_the_rest_of_the_message() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.send(BytesMessage(b"head", message_finished=False))
        async with aclosing(ws.message_chunks()) as chunks:
            async for chunk in chunks:
                assert chunk == b"head"
                break
        await peer.send(BytesMessage(b"tail", message_finished=False), BytesMessage(b"end"))
        await peer.send(BytesMessage(b"next message"))
        assert await ws.get_message() == b"next message"


async def test_message_chunks_stopped_after_the_last_chunk_drop_nothing() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.send(BytesMessage(b"head", message_finished=False))
        async with aclosing(ws.message_chunks()) as chunks:
            assert await chunks.__anext__() == b"head"
            await peer.send(BytesMessage(b"tail"))
            assert await chunks.__anext__() == b"tail"
        await peer.send(BytesMessage(b"next message"))
        assert await ws.get_message() == b"next message"


async def test_message_chunks_continue_what_a_cancelled_get_message_started(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Every read's share of a message is handed over at once, not in 1 MiB pieces.
    monkeypatch.setattr("wsproto.anyio._engine.HANDOVER_SIZE", 1)
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.send(TextMessage("one ", message_finished=False), Ping(b"sync"))
        assert await peer.expect(Pong) == Pong(b"sync")  # the first piece is queued
        with anyio.move_on_after(0.05):
            await ws.get_message()  # takes "one ", then waits for the rest
        await peer.send(TextMessage("two"))
        assert join([chunk async for chunk in ws.message_chunks()]) == "one two"


# Ping and pong


@both_transports
async def test_ping_returns_when_the_matching_pong_arrives(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        returned = anyio.Event()

        async def ping() -> None:
            await ws.ping(b"abc")
            returned.set()

        async with anyio.create_task_group() as group:
            group.start_soon(ping)
            assert await peer.expect(Ping) == Ping(b"abc")
            await anyio.wait_all_tasks_blocked()
            assert not returned.is_set()
            await peer.send(Pong(b"other"))  # not the matching payload
            await anyio.wait_all_tasks_blocked()
            assert not returned.is_set()
            before = time.monotonic()
            await peer.send(Pong(b"abc"))
            await returned.wait()
        assert ws.latency is not None
        assert 0 <= ws.latency < time.monotonic() - before + 10


async def test_ping_measures_latency_against_our_server() -> None:
    async with (
        running_server(echo) as server,
        open_websocket_url(f"ws://127.0.0.1:{server.port}/", ping_interval=None) as ws,
    ):
        assert ws.latency is None
        await ws.ping()
        assert ws.latency is not None
        assert 0 <= ws.latency < 5


async def test_ping_without_payload_picks_unique_random_ones() -> None:
    async with client_with_peer("memory") as (ws, peer, _), anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(ws.ping)
        payloads = [(await peer.expect(Ping)).payload for _ in range(3)]
        assert len(set(payloads)) == 3
        assert all(len(payload) == 4 for payload in payloads)
        await peer.send(*(Pong(payload) for payload in payloads))


async def test_ping_payload_in_flight_cannot_be_reused() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        async with anyio.create_task_group() as group:
            group.start_soon(ws.ping, b"x")
            await peer.expect(Ping)
            with pytest.raises(ValueError, match="already in flight"):
                await ws.ping(b"x")
            await peer.send(Pong(b"x"))
        async with anyio.create_task_group() as group:
            group.start_soon(ws.ping, b"x")  # answered: the payload is free again
            assert await peer.expect(Ping) == Ping(b"x")
            await peer.send(Pong(b"x"))


async def test_pong_answers_every_earlier_ping_too() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        done: list[bytes] = []

        async def ping(payload: bytes) -> None:
            await ws.ping(payload)
            done.append(payload)

        async with anyio.create_task_group() as group:
            for payload in (b"1", b"2", b"3"):
                group.start_soon(ping, payload)
                assert await peer.expect(Ping) == Ping(payload)
            await peer.send(Pong(b"2"))  # RFC 6455 §5.5.3: answering only the latest is allowed
            await anyio.wait_all_tasks_blocked()
            assert sorted(done) == [b"1", b"2"]
            await peer.send(Pong(b"3"))
        assert sorted(done) == [b"1", b"2", b"3"]


async def test_unsolicited_pong_is_ignored() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.send(Pong(b"heartbeat"), TextMessage("after"))
        assert await ws.get_message() == "after"
        assert ws.latency is None


@both_transports
async def test_peer_ping_is_answered(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(Ping(b"are you there"))
        assert await peer.expect(Pong) == Pong(b"are you there")
        assert ws.closed is None


async def test_pong_sends_an_unsolicited_pong() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await ws.pong(b"beat")
        assert await peer.expect(Pong) == Pong(b"beat")
        await ws.pong()
        assert await peer.expect(Pong) == Pong(b"")


async def test_ping_in_flight_raises_when_the_connection_drops() -> None:
    async with client_with_peer("memory") as (ws, peer, _):

        async def drop() -> None:
            await peer.expect(Ping)
            await peer.stream.aclose()

        async with anyio.create_task_group() as group:
            group.start_soon(drop)
            with pytest.raises(ConnectionClosed) as info:
                await ws.ping(b"never answered")
        assert info.value.reason is not None
        assert info.value.reason.code == 1006


# Closing


@both_transports
async def test_aclose_sends_code_and_reason_and_waits_for_the_peer(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        assert ws.closed is None
        closed = anyio.Event()

        async def close() -> None:
            await ws.aclose(4000, "bye")
            closed.set()

        async with anyio.create_task_group() as group:
            group.start_soon(close)
            assert await peer.expect(CloseConnection) == CloseConnection(4000, "bye")
            await anyio.wait_all_tasks_blocked()
            assert not closed.is_set()  # waiting for the peer's close
            await peer.send(CloseConnection(4000, "bye"))
            await peer.stream.aclose()
        assert ws.closed == CloseReason(4000, "bye")
        assert ws.closed is not None
        assert ws.closed.name == "PRIVATE_RESERVED"


@both_transports
async def test_aclose_is_idempotent_and_operations_after_it_raise(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        async with anyio.create_task_group() as group:
            group.start_soon(peer.finish)
            await ws.aclose()
        assert ws.closed == CloseReason(1000, None)
        assert ws.closed.name == "NORMAL_CLOSURE"
        await ws.aclose(1011, "again")  # does nothing
        assert ws.closed == CloseReason(1000, None)
        for operation in (
            ws.get_message(),
            ws.send_message("x"),
            ws.send_message([b"x"]),
            ws.ping(),
            ws.pong(),
        ):
            with pytest.raises(ConnectionClosed) as info:
                await operation
            assert info.value.reason == CloseReason(1000, None)
        with pytest.raises(ConnectionClosed):
            async for _ in ws.message_chunks():
                pass
        assert [message async for message in ws] == []


async def test_local_close_discards_messages_not_yet_received() -> None:
    async with client_with_peer("memory", message_queue_size=4) as (ws, peer, _):
        await peer.send(TextMessage("unread"), Ping(b"sync"))
        await peer.expect(Pong)
        async with anyio.create_task_group() as group:
            group.start_soon(peer.finish)
            await ws.aclose()
        with pytest.raises(ConnectionClosed):
            await ws.get_message()


async def test_closing_as_async_context_manager() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        async with anyio.create_task_group() as group:
            group.start_soon(peer.finish)
            async with ws as same:
                assert same is ws
        assert ws.closed == CloseReason(1000, None)


@both_transports
async def test_peer_close_keeps_queued_messages_readable(transport: Transport) -> None:
    async with client_with_peer(transport, message_queue_size=4) as (ws, peer, _):
        await peer.send(TextMessage("one"), BytesMessage(b"two"), CloseConnection(1000, "done"))
        assert await peer.expect(CloseConnection) == CloseConnection(1000, "done")
        assert ws.closed == CloseReason(1000, "done")  # closed, messages still queued
        with pytest.raises(ConnectionClosed):
            await ws.send_message("too late")
        assert await ws.get_message() == "one"
        assert await ws.get_message() == b"two"
        error = await expect_closed(ws, 1000)
        assert error.reason == CloseReason(1000, "done")


@both_transports
async def test_peer_close_with_an_error_code_is_answered_after_the_messages(
    transport: Transport,
) -> None:
    async with client_with_peer(transport, message_queue_size=4) as (ws, peer, _):
        await peer.send(TextMessage("one"), CloseConnection(4001, "maintenance"))
        assert await ws.get_message() == "one"
        await expect_failed(ws, peer, 4001)
        assert ws.closed == CloseReason(4001, "maintenance")
        assert ws.closed.name == "PRIVATE_RESERVED"


async def test_peer_close_without_code() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.stream.send(b"\x88\x00")  # a close frame with no payload
        error = await expect_closed(ws, 1005)
        assert error.reason is not None
        assert error.reason.name == "NO_STATUS_RCVD"


@both_transports
async def test_peer_dropping_tcp_mid_frame_gives_1006(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        whole = peer.ws.send(TextMessage("complete"))
        cut = peer.ws.send(BytesMessage(b"x" * 1000))[:14]  # the header and 10 bytes of payload
        await peer.stream.send(whole + cut)
        await peer.stream.aclose()
        assert await ws.get_message() == "complete"
        error = await expect_closed(ws, 1006)
        assert error.reason is not None
        assert error.reason.name == "ABNORMAL_CLOSURE"
        assert ws.closed is not None
        assert ws.closed.code == 1006


async def test_invalid_utf8_from_the_peer_closes_with_1007() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.stream.send(b"\x81\x02\xc3\x28")  # a text frame: invalid UTF-8
        await expect_failed(ws, peer, 1007)


# Back-pressure


@pytest.mark.parametrize("queue_size", [1, 4])
async def test_full_queue_stops_reading_exactly(queue_size: int) -> None:
    # A zero-buffer in-memory transport: the peer's write completes only when
    # the reader takes it, so we can count exactly how far the peer gets.
    total = 40
    async with client_with_peer("memory", buffer=0, message_queue_size=queue_size) as (ws, peer, _):
        sent = 0

        async def flood() -> None:
            nonlocal sent
            for i in range(total):
                await peer.send(BytesMessage(bytes([i]) * 1000))
                sent += 1

        async with anyio.create_task_group() as group:
            group.start_soon(flood)
            await anyio.wait_all_tasks_blocked()
            # queue_size messages queued, one more held by the waiting reader.
            assert sent == queue_size + 1
            assert await ws.get_message() == bytes([0]) * 1000
            await anyio.wait_all_tasks_blocked()
            assert sent == queue_size + 2
            for i in range(1, total):
                assert await ws.get_message() == bytes([i]) * 1000
        assert sent == total


async def test_stalled_consumer_blocks_the_peer_through_tcp_and_memory_stays_bounded() -> None:
    frame_size = 65536
    total_frames = 512  # 32 MiB if nothing pushed back
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        accepted: list[RawPeer] = []
        ready = anyio.Event()

        async def accept() -> None:
            stream = await listener.accept()
            stream.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 65536
            )
            peer, _ = await RawPeer.accept(stream)
            accepted.append(peer)
            ready.set()

        group.start_soon(accept)
        stream = await anyio.connect_tcp("127.0.0.1", port)
        raw_socket = stream.extra(anyio.abc.SocketAttribute.raw_socket)
        raw_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        async with anyio.create_task_group() as client_group:
            ws = await wrap_client_stream(
                client_group, stream, "localhost", "/", message_queue_size=1, ping_interval=None
            )
            await ready.wait()
            peer = accepted[0]
            frame = peer.ws.send(BytesMessage(b"p" * frame_size))
            sent_bytes = 0

            async def flood() -> None:
                nonlocal sent_bytes
                for _ in range(total_frames):
                    await peer.stream.send(frame)
                    sent_bytes += len(frame)

            was_tracing = tracemalloc.is_tracing()
            tracemalloc.start()
            try:
                baseline = tracemalloc.get_traced_memory()[0]
                client_group.start_soon(flood)
                # Wait for the flood to stall: no progress over 0.3 s. (A
                # bounded wait to show that something does NOT happen.)
                last = -1
                while sent_bytes != last:
                    last = sent_bytes
                    await anyio.sleep(0.3)
                grown = tracemalloc.get_traced_memory()[0] - baseline
            finally:
                if not was_tracing:
                    tracemalloc.stop()
            receive_buffer = raw_socket.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            send_buffer = peer.stream.extra(anyio.abc.SocketAttribute.raw_socket).getsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF
            )
            # Kernel buffers on both sides, plus the queue (1 message), the
            # reader's held message and one read.
            bound = receive_buffer + send_buffer + 3 * len(frame) + 2**20
            assert sent_bytes < bound, (sent_bytes, bound)
            assert sent_bytes < total_frames * len(frame) // 4
            assert grown < 2 * 2**20, f"the receiving side grew by {grown} bytes"
            for _ in range(total_frames):
                assert await ws.get_message() == b"p" * frame_size
            assert sent_bytes == total_frames * len(frame)
            client_group.start_soon(peer.finish)
            await ws.aclose()


async def test_send_waits_for_the_transport() -> None:
    async with client_with_peer("memory", buffer=0) as (ws, peer, _):
        sent = anyio.Event()

        async def send() -> None:
            await ws.send_message(b"x" * 1000)
            sent.set()

        async with anyio.create_task_group() as group:
            group.start_soon(send)
            await anyio.wait_all_tasks_blocked()
            assert not sent.is_set()
            assert await peer.receive_message() == (b"x" * 1000, 1)
        assert sent.is_set()


async def test_ping_arriving_while_a_send_waits_for_the_transport_is_answered_after_it() -> None:
    # The peer does not read, so a large send stalls holding the write lock;
    # the pong waits for it (on asyncio the read callback cannot write it at
    # once and leaves it to the reader task) and follows the message.
    big = b"b" * (32 * 2**20)
    async with client_with_peer("tcp") as (ws, peer, _), anyio.create_task_group() as group:
        group.start_soon(ws.send_message, big)
        await anyio.sleep(0.1)  # let the send fill the socket buffers
        await peer.send(Ping(b"while sending"))
        assert await peer.receive_message() == (big, 1)
        assert await peer.expect(Pong) == Pong(b"while sending")


async def test_messages_wait_in_order_for_room_in_a_full_queue_over_tcp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A queue of one: a whole message and the pieces of a large one (handed
    # over every 16 KiB) wait for the consumer, in order, without loss.
    monkeypatch.setattr("wsproto.anyio._engine.HANDOVER_SIZE", 16384)
    large = bytes(range(256)) * 4096  # 1 MiB
    async with client_with_peer("tcp", message_queue_size=1, max_message_size=None) as (
        ws,
        peer,
        _,
    ):

        async def send() -> None:
            await peer.send(*(TextMessage(f"m{i}") for i in range(10)))
            for start in range(0, len(large), 8192):
                last = start + 8192 >= len(large)
                await peer.send(BytesMessage(large[start : start + 8192], message_finished=last))
            await peer.send(TextMessage("after"))

        async with anyio.create_task_group() as group:
            group.start_soon(send)
            await anyio.sleep(0.1)  # let the queue fill and the reader wait
            assert [await ws.get_message() for _ in range(10)] == [f"m{i}" for i in range(10)]
            assert await ws.get_message() == large
            assert await ws.get_message() == "after"


@both_transports
async def test_an_error_in_the_reader_reaches_the_application(
    transport: Transport, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A bug inside the reader is not lost in the event loop's data callback
    # (where our asyncio transport has the reader's work done): it ends the
    # client's task group like any reader failure.
    def broken_add(*_: object) -> None:
        raise RuntimeError("a bug in the reader")

    async def receive_one() -> None:
        async with client_with_peer(transport) as (ws, peer, _):
            await peer.send(TextMessage("x"))
            await ws.get_message()

    monkeypatch.setattr("wsproto.anyio._engine.Engine._gather", broken_add)
    with pytest.raises(BaseExceptionGroup) as info:
        await receive_one()
    matched, _ = info.value.split(RuntimeError)
    assert matched is not None
    assert "a bug in the reader" in repr(matched)


# Limits


@both_transports
@pytest.mark.parametrize("fragmented", [False, True])
async def test_max_message_size_closes_with_1009(transport: Transport, fragmented: bool) -> None:
    async with client_with_peer(transport, max_message_size=1000) as (ws, peer, _):
        await peer.send(BytesMessage(b"x" * 1000))
        assert await ws.get_message() == b"x" * 1000  # the limit itself is fine
        if fragmented:
            await peer.send(BytesMessage(b"y" * 600, message_finished=False))
            await peer.send(BytesMessage(b"y" * 600))
        else:
            await peer.send(TextMessage("y" * 1001))
        await expect_failed(ws, peer, 1009)


async def test_max_message_size_counts_decompressed_bytes() -> None:
    accept_options = {"extensions": [PerMessageDeflate()]}
    async with client_with_peer("memory", max_message_size=1000, accept_options=accept_options) as (
        ws,
        peer,
        _,
    ):
        wire = peer.ws.send(BytesMessage(b"z" * 100_000))
        assert len(wire) < 1000  # compressed, it is small
        await peer.stream.send(wire)
        await expect_failed(ws, peer, 1009)


@pytest.mark.parametrize("one_write", [True, False])
async def test_max_fragments_closes_with_1009(one_write: bool) -> None:
    async with client_with_peer("memory", max_fragments=10) as (ws, peer, _):

        async def send_in_frames(count: int) -> None:
            events = [BytesMessage(b"f", message_finished=i == count - 1) for i in range(count)]
            if one_write:
                await peer.send(*events)
            else:
                for event in events:
                    await peer.send(event)

        await send_in_frames(10)
        assert await ws.get_message() == b"f" * 10  # the limit itself is fine
        async with anyio.create_task_group() as group:
            # Pieces of a message spread over reads are handed over as they
            # come, so the consumer must be reading for the reader to go on.
            group.start_soon(expect_closed, ws, 1009)
            await send_in_frames(11)
            close = await peer.expect(CloseConnection)
        assert close.code == 1009


# Keepalive


@both_transports
async def test_keepalive_closes_with_1011_when_the_peer_never_answers(transport: Transport) -> None:
    start = time.monotonic()
    async with client_with_peer(transport, ping_interval=0.05, ping_timeout=0.2) as (ws, peer, _):
        # The peer reads nothing, so it never answers a ping.
        with anyio.fail_after(10):
            error = await expect_closed(ws, 1011)
        assert time.monotonic() - start < 5
        assert error.reason is not None
        assert error.reason.name == "INTERNAL_ERROR"
        events = await peer.drain()
        assert isinstance(events[0], Ping)
        closes = [event for event in events if isinstance(event, CloseConnection)]
        assert closes[0].code == 1011


@both_transports
async def test_keepalive_with_an_answering_peer_stays_open_and_measures_latency(
    transport: Transport,
) -> None:
    async with client_with_peer(transport, ping_interval=0.05, ping_timeout=0.2) as (ws, peer, _):
        start = time.monotonic()
        pings = 0
        while pings < 3 or time.monotonic() - start < 0.5:  # past the ping timeout
            ping = await peer.expect(Ping)
            pings += 1
            await peer.send(ping.response())
            if pings > 1:
                # The next ping comes only after the last one was answered.
                assert ws.latency is not None
                assert ws.latency >= 0
        assert ws.closed is None
        await ws.send_message("still open")
        assert await peer.receive_message() == ("still open", 1)


@both_transports
async def test_keepalive_does_not_blame_the_peer_while_the_application_is_behind(
    transport: Transport,
) -> None:
    # With the inbox full the client reads nothing, so the pongs wait unread
    # behind the messages: that is no reason to fail the connection (1011).
    async with client_with_peer(
        transport, ping_interval=0.05, ping_timeout=0.1, message_queue_size=1
    ) as (ws, peer, _):

        async def answer_pings() -> None:
            while True:
                event = await peer.next_event()
                if isinstance(event, Ping):
                    await peer.send(event.response())

        async with anyio.create_task_group() as group:
            group.start_soon(answer_pings)
            await peer.send(*(TextMessage(f"m{i}") for i in range(5)))
            await anyio.sleep(1)  # ten ping timeouts, without reading
            assert ws.closed is None
            assert [await ws.get_message() for _ in range(5)] == [f"m{i}" for i in range(5)]
            with anyio.fail_after(5):
                while ws.latency is None:  # the pongs are read now
                    await anyio.sleep(0.01)
            assert ws.closed is None
            group.cancel_scope.cancel()


async def test_keepalive_against_our_server() -> None:
    async with (
        running_server(echo, ping_interval=None) as server,
        open_websocket_url(
            f"ws://127.0.0.1:{server.port}/", ping_interval=0.02, ping_timeout=1
        ) as ws,
    ):
        with anyio.fail_after(5):
            while ws.latency is None:
                await ws.send_message("tick")  # each echo is a round trip
                assert await ws.get_message() == "tick"
        assert ws.closed is None


# Cancellation


@both_transports
async def test_cancelled_get_message_leaves_the_connection_usable(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        with anyio.move_on_after(0.05) as scope:
            await ws.get_message()
        assert scope.cancelled_caught
        assert ws.closed is None
        await peer.send(TextMessage("later"))
        assert await ws.get_message() == "later"
        await ws.send_message("reply")
        assert await peer.receive_message() == ("reply", 1)


@both_transports
async def test_cancelled_get_message_keeps_a_partly_received_message(transport: Transport) -> None:
    async with client_with_peer(transport) as (ws, peer, _):
        await peer.send(TextMessage("first half, ", message_finished=False), Ping(b"sync"))
        # The pong goes out after the piece before it was queued.
        await peer.expect(Pong)
        with anyio.move_on_after(0.05) as scope:
            await ws.get_message()
        assert scope.cancelled_caught
        await peer.send(TextMessage("second half"))
        assert await ws.get_message() == "first half, second half"


async def test_cancelled_send_blocked_by_backpressure_is_never_half_written() -> None:
    big = bytes(range(256)) * 4096  # 1 MiB
    async with client_with_peer("tcp") as (ws, peer, _):
        # The peer reads nothing until a send was cancelled.
        attempts = 0
        while True:
            attempts += 1
            assert attempts < 200, "the transport never pushed back"
            with anyio.move_on_after(0.2) as scope:
                await ws.send_message(big)
            if scope.cancelled_caught:
                break
        events: list[Event] = []

        async def read_until_end() -> None:
            while True:
                event = await peer.next_event()
                events.append(event)
                if isinstance(event, CloseConnection) or event == BytesMessage(b"after"):
                    return

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(read_until_end)
                usable = ws.closed is None
                if usable:
                    # The transport took all of the message or none of it.
                    await ws.send_message(b"after")
                else:
                    # Documented: a write cut short aborts the connection (1006).
                    assert ws.closed is not None
                    assert ws.closed.code == 1006
                    with pytest.raises(ConnectionClosed):
                        await ws.send_message(b"after")
        messages: list[bytes] = []
        pieces: list[bytes] = []
        for event in events:
            if isinstance(event, BytesMessage):
                pieces.append(event.data)
                if event.message_finished:
                    messages.append(b"".join(pieces))
                    pieces.clear()
        if usable:
            assert messages[-1] == b"after"
            messages.pop()
        else:
            assert isinstance(events[-1], CloseConnection)
            assert events[-1].code == 1006  # dropped, not a protocol error
        # Every message the peer saw is whole: the sends that returned, and
        # perhaps the cancelled one, never a part of it followed by more.
        assert attempts - 1 <= len(messages) <= attempts
        assert all(message == big for message in messages)


async def test_cancelled_send_waiting_behind_another_leaves_the_connection_usable() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        release = anyio.Event()

        async def slow_pieces() -> AsyncIterator[str]:
            yield "slow "
            yield "long "  # a piece goes out once the next one is known
            await release.wait()
            yield "message"

        async with anyio.create_task_group() as group:
            group.start_soon(ws.send_message, slow_pieces())
            assert await peer.next_event() == TextMessage("slow ", message_finished=False)
            with anyio.move_on_after(0.05) as scope:
                await ws.send_message("cut in line")  # waits for the message in progress
            assert scope.cancelled_caught
            release.set()
        assert await peer.next_event() == TextMessage("long ", message_finished=False)
        assert await peer.next_event() == TextMessage("message")
        assert ws.closed is None
        await ws.send_message("next")
        assert await peer.receive_message() == ("next", 1)


async def test_cancelled_fragmented_send_fails_the_connection() -> None:
    async with client_with_peer("memory") as (ws, peer, _):

        async def pieces() -> AsyncIterator[str]:
            yield "never "
            yield "sent "  # "never " goes out once the next piece is known
            await anyio.sleep_forever()
            yield "finished"  # pragma: no cover

        with anyio.move_on_after(0.05):
            await ws.send_message(pieces())
        assert ws.closed is not None
        assert ws.closed.code == 1011
        events = await peer.drain()
        assert frames_of(events) == [TextMessage("never ", message_finished=False)]
        assert next(e.code for e in events if isinstance(e, CloseConnection)) == 1011


async def test_cancelled_ping_leaves_the_connection_usable() -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        with anyio.move_on_after(0.05) as scope:
            await ws.ping(b"slow")
        assert scope.cancelled_caught
        assert await peer.expect(Ping) == Ping(b"slow")
        await peer.send(Pong(b"slow"))  # a late answer: nobody waits for it
        await peer.send(TextMessage("still fine"))
        assert await ws.get_message() == "still fine"
        async with anyio.create_task_group() as group:
            group.start_soon(ws.ping, b"slow")  # the payload is free again
            assert await peer.expect(Ping) == Ping(b"slow")
            await peer.send(Pong(b"slow"))


async def test_cancelled_aclose_still_finishes_closing() -> None:
    async with client_with_peer("memory", disconnect_timeout=0.3) as (ws, peer, _):
        with anyio.CancelScope() as scope:
            scope.cancel()
            start = time.monotonic()
            await ws.aclose()  # shielded: it runs to the end, bounded
        assert time.monotonic() - start < 3
        assert ws.closed == CloseReason(1000, None)
        assert (await peer.expect(CloseConnection)).code == 1000
