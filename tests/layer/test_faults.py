"""Faults, on both backends, in both roles: every one ends in the documented way, leaks nothing.

The hostile peer is a raw loopback socket, driven by hand or by the protocol
core (:class:`~tests.layer.helpers.RawPeer`), so it can do what no
well-behaved endpoint does: reset or half-close mid-frame, stop reading,
send after its close, never answer a close or a ping, drop a TLS handshake,
answer an upgrade wrongly. Each test checks the outcome the docs promise
(exception and close code), then, from outside the layer, that no task and no
file descriptor outlives it; on the server side, that the server goes on
serving new clients.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import ssl
import struct
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
import trustme
from anyio.abc import ByteStream, Listener, SocketAttribute, SocketStream, TaskGroup
from anyio.streams.buffered import BufferedByteReceiveStream

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import (
    ConnectionClosed,
    DisconnectionTimeout,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
    wrap_client_stream,
)
from wsproto.events import AcceptConnection, CloseConnection, Ping, Request, TextMessage

from .helpers import GONE, PeerGone, RawPeer, echo, memory_stream_pair, tcp_listener

pytestmark = pytest.mark.anyio

PAYLOAD = "x" * 100


# From outside: file descriptors and tasks


def open_fds() -> int:
    """File descriptors this process holds (the listing's own included, always the same)."""
    return len(os.listdir("/proc/self/fd"))


@asynccontextmanager
async def no_leaks() -> AsyncIterator[None]:
    """Fail if the block leaves a task running or a file descriptor open."""
    fds = open_fds()
    tasks = len(anyio.get_running_tasks())
    yield
    # A transport closed just now may give its descriptor back a loop
    # iteration later (asyncio closes sockets in a callback): a few
    # checkpoints, bounded in number, let that happen.
    for _ in range(50):
        if open_fds() <= fds and len(anyio.get_running_tasks()) <= tasks:
            break
        await anyio.sleep(0)
    assert len(anyio.get_running_tasks()) == tasks, anyio.get_running_tasks()
    assert open_fds() == fds, sorted(os.listdir("/proc/self/fd"))


# Servers and the raw clients that misbehave against them


def code_of(exc: ConnectionClosed) -> int | None:
    return exc.reason.code if exc.reason is not None else None


class Outcome:
    """What a handler saw: the close reason its connection ended with."""

    def __init__(self) -> None:
        self.codes: list[int | None] = []
        self.done = anyio.Event()
        self.connections: list[WebSocketConnection] = []

    def record(self, exc: ConnectionClosed) -> None:
        self.codes.append(code_of(exc))
        self.done.set()

    async def receive(self, request: WebSocketRequest) -> None:
        """Accept, then receive until the connection ends."""
        ws = await request.accept()
        self.connections.append(ws)
        try:
            while True:
                await ws.get_message()
        except ConnectionClosed as exc:
            self.record(exc)


@asynccontextmanager
async def server(
    handler: Callable[[WebSocketRequest], Awaitable[None]],
    context: ssl.SSLContext | None = None,
    **options: Any,
) -> AsyncIterator[WebSocketServer]:
    """A server with no leaks, that must still serve a new client when the block ends."""
    options.setdefault("ping_interval", None)
    async with no_leaks(), anyio.create_task_group() as group:
        served: WebSocketServer = await group.start(
            partial(serve_websocket, handler, "127.0.0.1", 0, context, **options)
        )
        yield served
        group.cancel_scope.cancel()


async def still_serves(port: int, context: ssl.SSLContext | None = None) -> None:
    """A well-behaved client gets an echo (the handler must echo on path /echo)."""
    scheme = "wss" if context is not None else "ws"
    with anyio.fail_after(30):
        async with open_websocket_url(f"{scheme}://127.0.0.1:{port}/echo", context) as ws:
            await ws.send_message("still here")
            assert await ws.get_message() == "still here"


def dispatch(
    handler: Callable[[WebSocketRequest], Awaitable[None]],
) -> Callable[[WebSocketRequest], Awaitable[None]]:
    """``handler`` for the fault, the echo handler for /echo (the "still serves" check)."""

    async def route(request: WebSocketRequest) -> None:
        if request.path == "/echo":
            await echo(request)
        else:
            await handler(request)

    return route


async def raw_client(port: int) -> RawPeer:
    """A client made of the core and a TCP socket, past the opening handshake."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    peer = RawPeer(stream, WSConnection(ConnectionType.CLIENT))
    await peer.stream.send(peer.ws.send(Request(host="127.0.0.1", target="/fault")))
    await peer.expect(AcceptConnection)
    return peer


def reset_on_close(stream: ByteStream) -> None:
    """Make closing the socket send a TCP reset instead of a FIN."""
    sock: socket.socket = stream.extra(SocketAttribute.raw_socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def half_frame(ws: WSConnection) -> bytes:
    """The first half of a text frame as ``ws`` would send it."""
    frame = ws.send(TextMessage(PAYLOAD))
    return frame[: len(frame) // 2]


def raw_frame(opcode: int, payload: bytes, *, masked: bool) -> bytes:
    """One final frame built by hand (the core refuses to send what some faults need)."""
    header = bytes([0x80 | opcode])
    if not masked:
        return header + bytes([len(payload)]) + payload
    key = b"\x01\x02\x03\x04"
    masked_payload = bytes(byte ^ key[i % 4] for i, byte in enumerate(payload))
    return header + bytes([0x80 | len(payload)]) + key + masked_payload


CLOSE_1000 = struct.pack("!H", 1000)


async def until_closed(stream: ByteStream) -> None:
    """Read and drop everything until the other end closes the connection."""
    while True:
        try:
            await stream.receive()
        except GONE:
            return


async def answer_close(peer: RawPeer) -> None:
    """Read everything up to the other side's close, answer it, close TCP.

    (A transport that ends first, on a connection already failed, is fine too.)
    """
    try:
        while not isinstance(event := await peer.next_event(), CloseConnection):
            pass
        if event.code != 1006:
            await peer.send(event.response())
    except PeerGone:
        pass
    await peer.stream.aclose()


# Our client against raw servers


@asynccontextmanager
async def raw_server(
    behave: Callable[[SocketStream], Awaitable[None]],
) -> AsyncIterator[int]:
    """A TCP server that runs ``behave`` on its first connection; yields the port."""
    async with no_leaks(), tcp_listener() as (listener, port), anyio.create_task_group() as group:

        async def serve_one() -> None:
            stream = await listener.accept()
            try:
                await behave(stream)
            finally:
                await stream.aclose()

        group.start_soon(serve_one)
        yield port


async def accept_raw(stream: SocketStream) -> RawPeer:
    """Answer the client's upgrade with the core, without extensions."""
    peer, _ = await RawPeer.accept(stream)
    return peer


# 1. A peer that resets mid-frame; 2. one that half-closes mid-frame


@pytest.mark.parametrize("how", ["reset", "half-close"])
async def test_server_a_client_that_resets_or_half_closes_mid_frame(how: str) -> None:
    outcome = Outcome()
    async with server(dispatch(outcome.receive)) as served:
        peer = await raw_client(served.port)
        await peer.stream.send(half_frame(peer.ws))
        if how == "reset":
            reset_on_close(peer.stream)
            await peer.stream.aclose()
        else:
            await peer.stream.send_eof()
            # We still read: the server must close the connection of its own accord.
            with anyio.fail_after(30):
                await until_closed(peer.stream)
            await peer.stream.aclose()
        with anyio.fail_after(30):
            await outcome.done.wait()
        assert outcome.codes == [1006]
        await still_serves(served.port)


@pytest.mark.parametrize("how", ["reset", "half-close"])
async def test_client_a_server_that_resets_or_half_closes_mid_frame(how: str) -> None:
    async def behave(stream: SocketStream) -> None:
        peer = await accept_raw(stream)
        await stream.send(half_frame(peer.ws))
        if how == "reset":
            reset_on_close(stream)
        else:
            await stream.send_eof()
            await until_closed(stream)

    async with raw_server(behave) as port:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
        assert code_of(info.value) == 1006
        assert ws.closed is not None
        assert ws.closed.code == 1006


# 3. A peer that stops reading while we send: sends block, memory stays bounded

MESSAGE_SIZE = 64 * 1024
#: Far more than the kernel buffers along the way hold (the receiver's buffer
#: is pinned to 64 KiB; the sender's grows to tcp_wmem's maximum, 4 MiB).
MESSAGES = 512
#: What may be sent before sends block: kernel buffers plus the transport's.
SENT_BOUND = 16 * 2**20


def numbered(i: int) -> bytes:
    return i.to_bytes(8, "big") + bytes(MESSAGE_SIZE - 8)


async def read_numbered(peer: RawPeer, count: int) -> None:
    """Read ``count`` binary messages, checking each arrives whole and in order."""
    for i in range(count):
        data, _ = await peer.receive_message()
        assert isinstance(data, bytes)
        assert len(data) == MESSAGE_SIZE
        assert int.from_bytes(data[:8], "big") == i


def pin_receive_buffer(stream: ByteStream) -> None:
    sock: socket.socket = stream.extra(SocketAttribute.raw_socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)


async def test_server_a_client_that_stops_reading_blocks_the_handler_s_sends() -> None:
    sent: list[int] = []
    finished = anyio.Event()

    async def sender(request: WebSocketRequest) -> None:
        ws = await request.accept()
        for i in range(MESSAGES):
            await ws.send_message(numbered(i))
            sent.append(i)
        finished.set()
        await ws.get_message()  # the client closes

    async with server(dispatch(sender), compression=None) as served:
        peer = await raw_client(served.port)
        pin_receive_buffer(peer.stream)
        await anyio.wait_all_tasks_blocked()
        assert 0 < len(sent) * MESSAGE_SIZE < SENT_BOUND
        assert not finished.is_set()
        with anyio.fail_after(60):
            await read_numbered(peer, MESSAGES)
            await finished.wait()
        await peer.send(CloseConnection(1000))
        await peer.finish()
        await still_serves(served.port)


async def test_client_a_server_that_stops_reading_blocks_our_sends() -> None:
    reading = anyio.Event()
    done = anyio.Event()

    async def behave(stream: SocketStream) -> None:
        pin_receive_buffer(stream)
        peer = await accept_raw(stream)
        await reading.wait()
        await read_numbered(peer, MESSAGES)
        done.set()
        await peer.finish()

    async with raw_server(behave) as port:
        sent: list[int] = []
        url = f"ws://127.0.0.1:{port}/"
        async with (
            open_websocket_url(url, ping_interval=None, compression=None) as ws,
            anyio.create_task_group() as group,
        ):

            async def send_all() -> None:
                for i in range(MESSAGES):
                    await ws.send_message(numbered(i))
                    sent.append(i)

            group.start_soon(send_all)
            await anyio.wait_all_tasks_blocked()
            assert 0 < len(sent) * MESSAGE_SIZE < SENT_BOUND
            reading.set()
            with anyio.fail_after(60):
                await done.wait()
        assert len(sent) == MESSAGES
        assert ws.closed is not None
        assert ws.closed.code == 1000


# 4. A peer that sends after its close


async def test_server_a_client_that_sends_after_its_close() -> None:
    outcome = Outcome()
    async with server(dispatch(outcome.receive)) as served:
        peer = await raw_client(served.port)
        await peer.send(CloseConnection(1000, "bye"))
        await peer.stream.send(raw_frame(0x1, b"after the close", masked=True) * 3)
        reply = await peer.expect(CloseConnection)
        assert reply.code == 1000
        with anyio.fail_after(30):
            await outcome.done.wait()
            assert await peer.drain() == []  # nothing after the reply; TCP ends
        await peer.stream.aclose()
        assert outcome.codes == [1000]
        await still_serves(served.port)


async def test_client_a_server_that_sends_after_its_close() -> None:
    replies: list[int] = []

    async def behave(stream: SocketStream) -> None:
        peer = await accept_raw(stream)
        await peer.send(CloseConnection(1000, "bye"))
        await stream.send(raw_frame(0x1, b"after the close", masked=False) * 3)
        replies.append((await peer.expect(CloseConnection)).code)
        await stream.aclose()

    async with raw_server(behave) as port:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
        assert code_of(info.value) == 1000
        assert info.value.reason is not None
        assert info.value.reason.reason == "bye"
    assert replies == [1000]


# 5. A peer that never answers our close: we end within disconnect_timeout

DISCONNECT_TIMEOUT = 0.5


async def test_server_a_client_that_never_answers_the_close() -> None:
    closed: list[int | None] = []
    done = anyio.Event()

    async def closer(request: WebSocketRequest) -> None:
        ws = await request.accept()
        start = anyio.current_time()
        await ws.aclose(4000, "go away")
        assert anyio.current_time() - start >= DISCONNECT_TIMEOUT
        closed.append(ws.closed.code if ws.closed is not None else None)
        done.set()

    async with server(dispatch(closer), disconnect_timeout=DISCONNECT_TIMEOUT) as served:
        peer = await raw_client(served.port)
        # Read the close, answer nothing, keep TCP open: the server drops it.
        assert (await peer.expect(CloseConnection)).code == 4000
        with anyio.fail_after(30):
            await done.wait()
            await until_closed(peer.stream)
        await peer.stream.aclose()
        assert closed == [4000]
        await still_serves(served.port)


async def test_client_a_server_that_never_answers_the_close() -> None:
    async def behave(stream: SocketStream) -> None:
        peer = await accept_raw(stream)
        assert (await peer.expect(CloseConnection)).code == 1000
        await until_closed(stream)

    async with raw_server(behave) as port:
        start = anyio.current_time()
        with anyio.fail_after(30), pytest.raises(DisconnectionTimeout):
            async with open_websocket_url(
                f"ws://127.0.0.1:{port}/", ping_interval=None, disconnect_timeout=DISCONNECT_TIMEOUT
            ):
                pass
        assert anyio.current_time() - start >= DISCONNECT_TIMEOUT


# 6. A peer that never answers pings, keepalive on: 1011


async def test_server_a_client_that_never_answers_pings() -> None:
    outcome = Outcome()
    async with server(
        dispatch(outcome.receive), ping_interval=0.05, ping_timeout=0.2, disconnect_timeout=1
    ) as served:
        peer = await raw_client(served.port)
        with anyio.fail_after(30):
            await outcome.done.wait()
            events = await peer.drain()  # no pong, no close reply: the server drops TCP
        await peer.stream.aclose()
        assert outcome.codes == [1011]
        assert isinstance(events[0], Ping)
        closes = [event.code for event in events if isinstance(event, CloseConnection)]
        assert closes[0] == 1011
        await still_serves(served.port)


async def test_client_a_server_that_never_answers_pings() -> None:
    seen: list[str] = []

    async def behave(stream: SocketStream) -> None:
        peer = await accept_raw(stream)
        while True:
            event = await peer.next_event()
            seen.append(type(event).__name__)
            if isinstance(event, CloseConnection):
                seen.append(str(event.code))
                return  # and drop TCP without answering

    async with raw_server(behave) as port:
        url = f"ws://127.0.0.1:{port}/"
        async with open_websocket_url(url, ping_interval=0.05, ping_timeout=0.2) as ws:
            with anyio.fail_after(30), pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
        assert code_of(info.value) == 1011
    assert seen[0] == "Ping"
    assert seen[-2:] == ["CloseConnection", "1011"]


# 7. A TLS peer that drops during the TLS handshake


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


def client_hello() -> bytes:
    """The first flight of a TLS client: a ClientHello."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


@pytest.mark.parametrize("how", ["after-hello", "mid-hello", "reset"])
async def test_server_a_tls_client_that_drops_during_the_tls_handshake(
    how: str,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    outcome = Outcome()
    async with server(dispatch(outcome.receive), server_context) as served:
        for _ in range(3):
            stream = await anyio.connect_tcp("127.0.0.1", served.port)
            hello = client_hello()
            if how == "mid-hello":
                await stream.send(hello[: len(hello) // 2])
            else:
                await stream.send(hello)
                assert await stream.receive()  # the server's first flight: mid-handshake
            if how == "reset":
                reset_on_close(stream)
            await stream.aclose()
        await still_serves(served.port, client_context)
    # Dropped handshakes concern those clients only: nothing above DEBUG, no traceback.
    # (asyncio's debug mode may warn about slow callbacks on a loaded machine.)
    complaints = [r for r in caplog.records if r.levelno > logging.DEBUG and r.name != "asyncio"]
    assert complaints == []
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []
    assert outcome.codes == []


@pytest.mark.parametrize("how", ["reset", "close"])
async def test_client_a_tls_server_that_drops_during_the_tls_handshake(
    how: str, client_context: ssl.SSLContext
) -> None:
    # Regression: on trio, anyio's BrokenResourceError (reset) and EndOfStream
    # (close) escaped open_websocket, documented to raise OSError.
    async def behave(stream: SocketStream) -> None:
        await stream.receive()  # the ClientHello
        if how == "reset":
            reset_on_close(stream)

    async with raw_server(behave) as port:
        with anyio.fail_after(30), pytest.raises(OSError) as info:  # noqa: PT011 (documented)
            async with open_websocket_url(f"wss://127.0.0.1:{port}/", client_context):
                pytest.fail("the TLS handshake cannot succeed")  # pragma: no cover
        assert not isinstance(info.value, BaseExceptionGroup)


# 8. A 101 with a wrong accept key; garbage after a valid 101


async def test_client_a_101_with_a_wrong_accept_key_is_a_handshake_error() -> None:
    async def behave(stream: SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            request += await stream.receive()
        await stream.send(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: d3Jvbmcga2V5IGhlcmU=\r\n\r\n"
        )
        await until_closed(stream)

    async with raw_server(behave) as port:
        with anyio.fail_after(30), pytest.raises(HandshakeError):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", ping_interval=None):
                pytest.fail("the accept key is wrong")  # pragma: no cover


async def test_client_garbage_after_a_valid_101_closes_with_1002() -> None:
    replies: list[int] = []

    async def behave(stream: SocketStream) -> None:
        peer = RawPeer(stream, WSConnection(ConnectionType.SERVER))
        await peer.expect(Request)
        # The 101 and, in the same write, a frame with a reserved opcode.
        await stream.send(peer.ws.send(AcceptConnection()) + b"\x8f\x00garbage")
        replies.append((await peer.expect(CloseConnection)).code)

    async with raw_server(behave) as port:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/", ping_interval=None) as ws:
            with anyio.fail_after(30), pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
        assert code_of(info.value) == 1002
    assert replies == [1002]


# 9. A server that accepts TCP and closes during the handshake (and its mirror)


@pytest.mark.parametrize("how", ["close", "reset", "partial-response"])
async def test_client_a_server_that_closes_during_the_handshake(how: str) -> None:
    async def behave(stream: SocketStream) -> None:
        await stream.receive()
        if how == "partial-response":
            await stream.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: webso")
        elif how == "reset":
            reset_on_close(stream)

    async with raw_server(behave) as port:
        with anyio.fail_after(30), pytest.raises(HandshakeError) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", ping_interval=None):
                pytest.fail("the server left")  # pragma: no cover
        assert not isinstance(info.value, BaseExceptionGroup)


@pytest.mark.parametrize("how", ["close", "reset"])
async def test_server_a_client_that_leaves_during_the_handshake(how: str) -> None:
    outcome = Outcome()
    async with server(dispatch(outcome.receive)) as served:
        for _ in range(3):
            stream = await anyio.connect_tcp("127.0.0.1", served.port)
            await stream.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: webs")
            if how == "reset":
                reset_on_close(stream)
            await stream.aclose()
        await still_serves(served.port)
    assert outcome.codes == []


# 10. A handler (or a client task) cancelled in the middle of a send


async def test_server_a_handler_cancelled_mid_send(anyio_backend_name: str) -> None:
    scopes: list[anyio.CancelScope] = []
    after: list[int | None] = []
    done = anyio.Event()

    async def sender(request: WebSocketRequest) -> None:
        ws = await request.accept()
        with anyio.CancelScope() as scope:
            scopes.append(scope)
            for i in range(MESSAGES):
                await ws.send_message(numbered(i))
        after.append(ws.closed.code if ws.closed is not None else None)
        done.set()
        if ws.closed is None:
            await ws.send_message("after the cancel")

    async with server(dispatch(sender), compression=None) as served:
        peer = await raw_client(served.port)
        pin_receive_buffer(peer.stream)
        await anyio.wait_all_tasks_blocked()
        scopes[0].cancel()
        with anyio.fail_after(30):
            await done.wait()
        # Part of a frame may be on the wire (trio), or queued in the transport
        # (asyncio, dropped): either way the connection is closed (1006).
        assert after == [1006]
        with anyio.fail_after(60):
            await peer.drain()
        await peer.stream.aclose()
        await still_serves(served.port)


async def test_client_a_task_cancelled_mid_send(anyio_backend_name: str) -> None:
    reading = anyio.Event()

    async def behave(stream: SocketStream) -> None:
        pin_receive_buffer(stream)
        peer = await accept_raw(stream)
        await reading.wait()
        await answer_close(peer)

    async with raw_server(behave) as port, anyio.create_task_group() as group:
        url = f"ws://127.0.0.1:{port}/"
        async with open_websocket_url(
            url, ping_interval=None, compression=None, disconnect_timeout=30
        ) as ws:
            with anyio.CancelScope() as scope:
                group.start_soon(cancel_when_blocked, scope)
                for i in range(MESSAGES):
                    await ws.send_message(numbered(i))
            assert scope.cancelled_caught
            # A write cut short closes the connection (1006), on every backend.
            assert ws.closed is not None
            assert ws.closed.code == 1006
            reading.set()
        assert ws.closed is not None
        assert ws.closed.code == 1006


async def cancel_when_blocked(scope: anyio.CancelScope) -> None:
    await anyio.wait_all_tasks_blocked()
    scope.cancel()


# 11. The listener out of file descriptors: the server backs off and recovers

EMFILE_SERVER = Path(__file__).with_name("emfile_server.py")
#: Descriptors the server may still open once its limit is lowered.
SPARE = 4


async def test_server_out_of_file_descriptors_backs_off_and_recovers(
    anyio_backend_name: str,
) -> None:
    # The server runs in a process of its own, with its RLIMIT_NOFILE lowered,
    # so that this process never runs short of descriptors.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, str(EMFILE_SERVER), anyio_backend_name, str(SPARE)]
    async with await anyio.open_process(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    ) as process:
        assert process.stdin is not None
        assert process.stdout is not None
        assert process.stderr is not None
        out = BufferedByteReceiveStream(process.stdout)
        err = BufferedByteReceiveStream(process.stderr)
        with anyio.fail_after(60):
            port = int((await out.receive_until(b"\n", 100)).split()[1])
            # More connections than the server has descriptors for: the
            # accept that finds none fails with EMFILE, and the server warns.
            held = [await anyio.connect_tcp("127.0.0.1", port) for _ in range(SPARE + 4)]
            warning = await err.receive_until(b"\n", 10_000)
        expected = b"WARNING wsproto.anyio.server accept() failed: [Errno 24]"
        assert warning.startswith(expected), warning
        for stream in held:
            await stream.aclose()
        # Descriptors are free again: the server accepts a new client at once.
        await still_serves_echo(port)
        await process.stdin.send(b"stop\n")
        with anyio.fail_after(60):
            summary = (await out.receive_until(b"\n", 100)).split()
            assert await process.wait() == 0
        rest = b""
        async for chunk in process.stderr:
            rest += chunk
    failures, span = int(summary[1]), float(summary[3])
    assert failures >= 1
    # Backing off from 50 ms: a few tries a second at most. A spinning accept
    # loop would fail thousands of times a second.
    assert failures <= 2 + 20 * span, (failures, span)
    # One warning for the streak; no traceback, no other complaint.
    assert b"Traceback" not in rest, rest
    assert b"ERROR" not in rest, rest


async def still_serves_echo(port: int) -> None:
    with anyio.fail_after(60):
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send_message("recovered")
            assert await ws.get_message() == "recovered"


class FlakyListener(Listener[ByteStream]):
    """A listener whose accept loop fails with ``errors`` first, then serves ``stream``."""

    def __init__(self, errors: list[BaseException], stream: ByteStream) -> None:
        self.errors = errors
        self.stream = stream
        self.calls = 0

    async def serve(
        self, handler: Callable[[ByteStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        assert task_group is not None
        task_group.start_soon(handler, self.stream)
        await anyio.sleep_forever()

    async def aclose(self) -> None:
        await self.stream.aclose()

    @property
    def extra_attributes(self) -> dict[Any, Callable[[], Any]]:
        return {}


def broken_by(error: OSError) -> anyio.BrokenResourceError:
    broken = anyio.BrokenResourceError()
    broken.__cause__ = error
    return broken


async def test_server_every_form_of_running_short_is_outlived(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The forms listeners report it in: the OSError itself (asyncio, trio's
    # own listeners), anyio's BrokenResourceError from it (anyio on trio), and
    # either inside a listener's task group; for each of the four errnos.
    errors: list[BaseException] = [
        OSError(errno.ENOBUFS, "No buffer space available"),
        broken_by(OSError(errno.ENOMEM, "Cannot allocate memory")),
        ExceptionGroup("accept loop", [OSError(errno.ENFILE, "Too many open files in system")]),
        ExceptionGroup("accept loop", [broken_by(OSError(errno.EMFILE, "Too many open files"))]),
    ]
    client_end, server_end = memory_stream_pair(64)
    listener = FlakyListener(errors, server_end)
    async with no_leaks(), anyio.create_task_group() as group:
        served = WebSocketServer(echo, [listener], ping_interval=None)
        await group.start(served.run)
        ws = await wrap_client_stream(group, client_end, "localhost", "/")
        await ws.send_message("served after four failures")
        assert await ws.get_message() == "served after four failures"
        await ws.aclose()
        group.cancel_scope.cancel()
    assert listener.calls == 5
    warnings = [r for r in caplog.records if r.name == "wsproto.anyio.server"]
    # Rate-limited: one warning for the streak.
    assert [r.levelno for r in warnings] == [logging.WARNING]
    assert "No buffer space available" in warnings[0].getMessage()


async def test_server_other_accept_errors_still_end_the_server() -> None:
    # Regression: the error came out of run() wrapped in an exception group.
    stream, other_end = memory_stream_pair()
    listener = FlakyListener([OSError(errno.EBADF, "Bad file descriptor")], stream)
    served = WebSocketServer(echo, [listener], ping_interval=None)
    with pytest.raises(OSError, match="Bad file descriptor") as info:
        await served.run()
    assert not isinstance(info.value, BaseExceptionGroup)
    await other_end.aclose()
