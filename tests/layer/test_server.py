"""The server side of the layer over loopback TCP and Unix sockets, on both backends.

Well-behaved clients are the layer's own; misbehaving ones (silent, slow,
oversized, deaf to the close, dropping TCP) are raw sockets driven by hand or
by the core.
"""

from __future__ import annotations

import errno
import logging
import os
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any, Literal

import anyio
import pytest
import trio
from anyio.abc import (
    ByteStream,
    Listener,
    SocketAttribute,
    SocketListener,
    TaskGroup,
    TaskStatus,
)

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    Endpoint,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
    wrap_client_stream,
    wrap_server_stream,
)
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from .helpers import RawPeer

pytestmark = pytest.mark.anyio

#: The tests that pass trio objects run on trio only (the anyio_backend fixture
#: parametrised with that one backend).
trio_only = pytest.mark.parametrize("anyio_backend", [pytest.param(("trio", {}), id="trio")])

Handler = Callable[[WebSocketRequest], Any]


def ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


@asynccontextmanager
async def running(handler: Handler, **options: Any) -> AsyncIterator[WebSocketServer]:
    """A server on 127.0.0.1 for the duration of the block, cancelled at its end."""
    async with anyio.create_task_group() as group:
        server: WebSocketServer = await group.start(
            partial(serve_websocket, handler, "127.0.0.1", 0, None, **options)
        )
        yield server
        group.cancel_scope.cancel()


def url(server: WebSocketServer, resource: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{resource}"


async def assert_echoes(ws: WebSocketConnection, message: str | bytes = "ping") -> None:
    await ws.send_message(message)
    assert await ws.get_message() == message


# Raw clients


class RawResponse:
    """An HTTP response read off a raw socket until the server closed it."""

    def __init__(self, raw: bytes) -> None:
        head, _, self.body = raw.partition(b"\r\n\r\n")
        status_line, *lines = head.split(b"\r\n")
        version, status, *_ = status_line.split(b" ", 2)
        assert version == b"HTTP/1.1"
        self.status = int(status)
        self.headers = [tuple(line.split(b":", 1)) for line in lines]

    def header(self, name: bytes) -> list[bytes]:
        return [value.strip() for key, value in self.headers if key.lower() == name.lower()]


async def read_until_closed(stream: ByteStream) -> bytes:
    received = bytearray()
    with anyio.fail_after(10):
        try:
            while True:
                received += await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass
    return bytes(received)


async def raw_exchange(port: int, request: bytes) -> RawResponse:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        await stream.send(request)
        return RawResponse(await read_until_closed(stream))


def upgrade_request(*extra: bytes, version: bytes = b"13") -> bytes:
    return b"\r\n".join(
        [
            b"GET /raw HTTP/1.1",
            b"Host: 127.0.0.1",
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            b"Sec-WebSocket-Version: " + version,
            *extra,
            b"",
            b"",
        ]
    )


async def raw_websocket(port: int, resource: str = "/raw") -> tuple[ByteStream, WSConnection]:
    """Open a WebSocket with the core alone: the test decides what is sent after."""
    ws = WSConnection(ConnectionType.CLIENT)
    stream = await anyio.connect_tcp("127.0.0.1", port)
    await stream.send(ws.send(Request(host="127.0.0.1", target=resource)))
    while True:
        ws.receive_data(await stream.receive())
        for event in ws.events():
            assert isinstance(event, AcceptConnection), event
            return stream, ws


async def assert_not_listening(port: int) -> None:
    with pytest.raises(OSError, match="connection attempts failed") as info:
        await anyio.connect_tcp("127.0.0.1", port)
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def set_linger_zero(stream: ByteStream) -> None:
    """Make closing the socket send a TCP reset instead of a FIN."""
    sock: socket.socket = stream.extra(SocketAttribute.raw_socket)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


# Starting a server


async def test_start_returns_the_listening_server() -> None:
    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, echo, "127.0.0.1", 0, None)
        assert isinstance(server, WebSocketServer)
        assert server.port > 0
        assert server.listeners == [Endpoint("127.0.0.1", server.port, False)]
        assert server.connections == frozenset()
        async with open_websocket_url(url(server)) as ws:
            await assert_echoes(ws)
        group.cancel_scope.cancel()


async def test_serve_websocket_awaited_directly_serves_until_cancelled() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with anyio.create_task_group() as group:

        async def serve() -> None:
            await serve_websocket(echo, "127.0.0.1", port, None)

        group.start_soon(serve)
        # Nothing tells a direct caller when the socket listens: try until it does.
        with anyio.fail_after(10):
            while True:
                try:
                    stream = await anyio.connect_tcp("127.0.0.1", port)
                except OSError:
                    await anyio.sleep(0.01)
                else:
                    await stream.aclose()
                    break
        async with open_websocket_url(f"ws://127.0.0.1:{port}/direct") as ws:
            await assert_echoes(ws, b"direct")
        group.cancel_scope.cancel()
    await assert_not_listening(port)


async def test_a_server_needs_a_listener() -> None:
    with pytest.raises(ValueError, match="at least one listener"):
        WebSocketServer(echo, [])


# The request


async def test_request_attributes() -> None:
    seen: dict[str, Any] = {}

    async def handler(request: WebSocketRequest) -> None:
        seen["path"] = request.path
        seen["host"] = request.host
        seen["headers"] = request.headers
        seen["subprotocols"] = request.proposed_subprotocols
        seen["local"] = request.local
        seen["remote"] = request.remote
        ws = await request.accept()
        seen["ws"] = (ws.path, ws.is_server, ws.is_client, ws.local, ws.remote)
        seen["handshake_headers"] = ws.handshake_headers
        await ws.send_message("done")
        await ws.get_message()

    async with running(handler) as server:
        port = server.port
        async with open_websocket_url(
            url(server, "/chat/room?user=ann&x=1"),
            subprotocols=["second", "first", "third"],
            extra_headers=[(b"X-One", b"1"), (b"X-Two", b"2"), (b"X-One", b"3")],
        ) as ws:
            assert await ws.get_message() == "done"
            client_local, client_remote = ws.local, ws.remote
    assert seen["path"] == "/chat/room?user=ann&x=1"
    assert seen["host"] == f"127.0.0.1:{port}"
    names = {name.lower() for name, _ in seen["headers"]}
    assert not names & {b"host", b"sec-websocket-protocol", b"sec-websocket-extensions"}
    custom = [(name.lower(), value) for name, value in seen["headers"] if name.lower()[:2] == b"x-"]
    assert custom == [(b"x-one", b"1"), (b"x-two", b"2"), (b"x-one", b"3")]
    assert seen["subprotocols"] == ("second", "first", "third")
    assert type(seen["subprotocols"]) is tuple
    assert seen["local"] == Endpoint("127.0.0.1", port, False)
    assert seen["local"] == client_remote
    assert seen["remote"] == client_local
    assert isinstance(client_local, Endpoint)
    assert client_local.address == "127.0.0.1"
    assert seen["ws"] == ("/chat/room?user=ann&x=1", True, False, seen["local"], seen["remote"])
    assert type(seen["handshake_headers"]) is tuple
    shaken = [(name.lower(), value) for name, value in seen["handshake_headers"]]
    assert [header for header in shaken if header[0][:2] == b"x-"] == custom


async def test_request_without_subprotocols_proposes_an_empty_tuple() -> None:
    proposed: list[tuple[str, ...]] = []

    async def handler(request: WebSocketRequest) -> None:
        proposed.append(request.proposed_subprotocols)
        await request.accept()

    async with running(handler) as server, open_websocket_url(url(server)) as ws:
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
    assert proposed == [()]


async def test_accept_with_subprotocol_and_headers() -> None:
    server_side: list[str | None] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept(
            subprotocol="chat.v2", extra_headers=[(b"X-Served-By", b"test"), (b"X-Order", b"2")]
        )
        server_side.append(ws.subprotocol)
        await echo_all(ws)

    async with (
        running(handler) as server,
        open_websocket_url(url(server), subprotocols=["chat.v1", "chat.v2"]) as ws,
    ):
        assert ws.subprotocol == "chat.v2"
        headers = [(name.lower(), value) for name, value in ws.handshake_headers]
        assert [h for h in headers if h[0][:2] == b"x-"] == [
            (b"x-served-by", b"test"),
            (b"x-order", b"2"),
        ]
        await assert_echoes(ws)
    assert server_side == ["chat.v2"]


async def echo_all(ws: WebSocketConnection) -> None:
    async for message in ws:
        await ws.send_message(message)


async def test_accept_with_an_unproposed_subprotocol_raises_value_error() -> None:
    errors: list[Exception] = []

    async def handler(request: WebSocketRequest) -> None:
        try:
            await request.accept(subprotocol="never-proposed")
        except ValueError as exc:
            errors.append(exc)
        ws = await request.accept(subprotocol="proposed")
        await echo_all(ws)

    async with (
        running(handler) as server,
        open_websocket_url(url(server), subprotocols=["proposed"]) as ws,
    ):
        assert ws.subprotocol == "proposed"
        await assert_echoes(ws)
    assert len(errors) == 1
    assert type(errors[0]) is ValueError


async def test_reject_with_status_headers_and_body() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(403, extra_headers=[(b"X-Reason", b"members only")], body=b"go away\n")

    async with running(handler) as server:
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(url(server)):
                pytest.fail("the handshake was refused")  # pragma: no cover
    assert type(info.value) is ConnectionRejected
    assert info.value.status_code == 403
    headers = [(name.lower(), value) for name, value in info.value.headers]
    assert (b"x-reason", b"members only") in headers
    assert info.value.body == b"go away\n"


async def test_reject_without_body() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(404)

    async with running(handler) as server:
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(url(server)):
                pytest.fail("the handshake was refused")  # pragma: no cover
    assert info.value.status_code == 404
    assert info.value.body is None


# What the handler's outcome does to its connection


async def test_handler_returning_closes_with_1000() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("bye")

    async with running(handler) as server, open_websocket_url(url(server)) as ws:
        assert [message async for message in ws] == ["bye"]
        assert ws.closed is not None
        assert ws.closed.code == 1000
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason is not None
        assert info.value.reason.code == 1000


async def test_handler_raising_after_accept_closes_with_1011_and_the_server_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        if request.path == "/boom":
            await ws.get_message()
            raise RuntimeError("handler bug")
        await echo_all(ws)

    caplog.set_level(logging.ERROR, logger="wsproto.anyio")
    async with running(handler) as server:
        async with open_websocket_url(url(server)) as bystander:
            async with open_websocket_url(url(server, "/boom")) as ws:
                await ws.send_message("trigger")
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason is not None
                assert info.value.reason.code == 1011
                assert info.value.reason.name == "INTERNAL_ERROR"
            # The connection open meanwhile is untouched, and new ones are served.
            await assert_echoes(bystander)
        async with open_websocket_url(url(server, "/after")) as ws:
            await assert_echoes(ws)
    errors = [record for record in caplog.records if record.name == "wsproto.anyio.server"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)


async def test_handler_raising_before_accept_answers_500(caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: WebSocketRequest) -> None:
        if request.path == "/boom":
            raise RuntimeError("handler bug")
        await echo(request)

    caplog.set_level(logging.ERROR, logger="wsproto.anyio")
    async with running(handler) as server:
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(url(server, "/boom")):
                pytest.fail("the handshake was refused")  # pragma: no cover
        assert info.value.status_code == 500
        async with open_websocket_url(url(server)) as ws:
            await assert_echoes(ws)


async def test_handler_seeing_the_client_close_returns_cleanly() -> None:
    outcome: list[int | None] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await ws.get_message()
        except ConnectionClosed as exc:
            outcome.append(exc.reason.code if exc.reason else None)
            raise

    finished = [anyio.Event(), anyio.Event()]

    async def watched(request: WebSocketRequest) -> None:
        index = len(outcome)
        try:
            await handler(request)
        finally:
            finished[index].set()

    async with running(watched) as server:
        async with open_websocket_url(url(server)) as ws:
            await ws.aclose(4000, "client done")
        await finished[0].wait()
        # A ConnectionClosed escaping the handler is not a server error.
        async with open_websocket_url(url(server)) as ws:
            pass
        # Before the server shuts down, which would cancel the handler.
        await finished[1].wait()
    assert outcome == [4000, 1000]


async def test_misusing_the_request_after_accept_closes_with_1011_at_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    errors: list[Exception] = []

    async def handler(request: WebSocketRequest) -> None:
        await request.accept()
        try:
            if request.path == "/reject":
                await request.reject(400)
            else:
                await request.accept()
        except Exception as exc:
            errors.append(exc)
            raise

    caplog.set_level(logging.CRITICAL, logger="wsproto.anyio")
    # A long disconnect timeout: waiting on it would show as a hang.
    async with running(handler, disconnect_timeout=30) as server:
        for path in ("/reject", "/accept"):
            async with open_websocket_url(url(server, path)) as ws:
                with anyio.fail_after(5), pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
            assert info.value.reason is not None
            assert info.value.reason.code == 1011
    assert len(errors) == 2


async def test_a_handler_returning_without_deciding_refuses_the_handshake() -> None:
    async def handler(request: WebSocketRequest) -> None:
        pass

    async with running(handler) as server:
        with anyio.fail_after(5), pytest.raises(HandshakeError) as info:
            async with open_websocket_url(url(server)):
                pytest.fail("nobody accepted")  # pragma: no cover
        assert not isinstance(info.value, BaseExceptionGroup)


# Listeners


async def test_several_hosts_share_one_port() -> None:
    hosts = ["127.0.0.1", "::1"] if ipv6_loopback() else ["127.0.0.1"]
    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, echo, hosts, 0, None)
        port = server.port
        assert server.listeners == [Endpoint(host, port, False) for host in hosts]
        for host in hosts:
            shown = f"[{host}]" if ":" in host else host
            async with open_websocket_url(f"ws://{shown}:{port}/") as ws:
                await assert_echoes(ws, host)
                assert isinstance(ws.remote, Endpoint)
                assert ws.remote.address == host
        group.cancel_scope.cancel()


async def test_listeners_on_different_ports() -> None:
    first = await anyio.create_tcp_listener(local_host="127.0.0.1")
    second = await anyio.create_tcp_listener(local_host="127.0.0.1")
    server = WebSocketServer(echo, [first, second])
    ports = [first.extra(SocketAttribute.local_port), second.extra(SocketAttribute.local_port)]
    assert server.listeners == [Endpoint("127.0.0.1", port, False) for port in ports]
    with pytest.raises(RuntimeError, match="not on one TCP port"):
        server.port  # noqa: B018
    async with anyio.create_task_group() as group:
        assert await group.start(server.run) is server
        for port in ports:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                await assert_echoes(ws, str(port))
        group.cancel_scope.cancel()


async def test_a_failed_bind_is_a_single_os_error_and_closes_what_was_bound() -> None:
    # The second address is the first one again: its bind fails once the first
    # listener holds the port, which must then be closed (no ResourceWarning).
    async with anyio.create_task_group() as group:
        with pytest.raises(OSError, match="in use") as info:
            await group.start(serve_websocket, echo, ["127.0.0.1", "127.0.0.1"], 0, None)
    assert info.value.errno == errno.EADDRINUSE


async def test_a_listener_without_an_address_is_listed_by_repr() -> None:
    listener = NotifyingListener(await anyio.create_tcp_listener(local_host="127.0.0.1"))
    listener.hide_address = True
    async with anyio.create_task_group() as group:
        server = await group.start(WebSocketServer(echo, [listener]).run)
        assert server.listeners == [repr(listener)]
        with pytest.raises(RuntimeError):
            server.port  # noqa: B018
        group.cancel_scope.cancel()


async def test_existing_anyio_listener() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(SocketAttribute.local_port)
    async with anyio.create_task_group() as group:
        server = await group.start(WebSocketServer(echo, [listener]).run)
        assert server.port == port
        assert server.listeners == [Endpoint("127.0.0.1", port, False)]
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await assert_echoes(ws)
        group.cancel_scope.cancel()
    # Stopping the server closed the listener it was given.
    await assert_not_listening(port)


async def test_unix_socket_listener(tmp_path: Path) -> None:
    path = tmp_path / "ws.sock"
    seen: list[tuple[object, object, str]] = []

    async def handler(request: WebSocketRequest) -> None:
        seen.append((request.local, request.remote, request.path))
        await echo(request)

    listener = await anyio.create_unix_listener(path)
    async with anyio.create_task_group() as group:
        server = await group.start(WebSocketServer(handler, [listener]).run)
        assert server.listeners == [str(path)]
        with pytest.raises(RuntimeError):
            server.port  # noqa: B018
        async with anyio.create_task_group() as clients:
            stream = await anyio.connect_unix(path)
            ws = await wrap_client_stream(clients, stream, "localhost", "/over-unix")
            await assert_echoes(ws, "unix")
            await assert_echoes(ws, b"\x00" * 100_000)
            assert ws.remote == str(path)
            await ws.aclose()
            assert ws.closed is not None
            assert ws.closed.code == 1000
        group.cancel_scope.cancel()
    assert len(seen) == 1
    assert seen[0][0] == str(path)
    assert seen[0][2] == "/over-unix"


class NotifyingListener(Listener[ByteStream]):
    """A listener of the test's own that reports each connection it hands over."""

    def __init__(self, inner: Listener[Any]) -> None:
        self.inner = inner
        self.accepted = anyio.Event()
        self.hide_address = False

    async def serve(
        self, handler: Callable[[ByteStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        async def notify(stream: ByteStream) -> None:
            self.accepted.set()
            await handler(stream)

        await self.inner.serve(notify, task_group)

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def extra_attributes(self) -> Any:
        return {} if self.hide_address else self.inner.extra_attributes


async def test_a_listener_of_the_users_own() -> None:
    listener = NotifyingListener(await anyio.create_tcp_listener(local_host="127.0.0.1"))
    async with anyio.create_task_group() as group:
        server = await group.start(WebSocketServer(echo, [listener]).run)
        async with open_websocket_url(url(server)) as ws:
            await assert_echoes(ws)
        assert listener.accepted.is_set()
        group.cancel_scope.cancel()


# Where handlers run


async def hold_task_group(*, task_status: TaskStatus[TaskGroup]) -> None:
    """Provide a task group whose body is not the caller's, to cancel it alone."""
    async with anyio.create_task_group() as group:
        task_status.started(group)
        await anyio.sleep_forever()


async def test_handler_nursery_runs_the_handlers() -> None:
    async with anyio.create_task_group() as clients:
        handlers = await clients.start(hold_task_group)
        async with anyio.create_task_group() as serving:
            server = await serving.start(
                partial(serve_websocket, echo, "127.0.0.1", 0, None, handler_nursery=handlers)
            )
            port = server.port
            ws = await connect(clients, port)
            await assert_echoes(ws)
            serving.cancel_scope.cancel()
        # The server stopped listening, but its connection lives on in the
        # handler nursery...
        await assert_not_listening(port)
        await assert_echoes(ws, "still here")
        # ...until that nursery is cancelled: the server's connections go away.
        handlers.cancel_scope.cancel()
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason is not None
        assert info.value.reason.code == 1001
        await ws.aclose()


async def connect(group: TaskGroup | trio.Nursery, port: int) -> WebSocketConnection:
    stream = await anyio.connect_tcp("127.0.0.1", port)
    return await wrap_client_stream(group, stream, f"127.0.0.1:{port}", "/")


# Limits


async def test_max_connections() -> None:
    finished_send, finished = anyio.create_memory_object_stream[str](10)

    async def handler(request: WebSocketRequest) -> None:
        try:
            await echo(request)
        finally:
            finished_send.send_nowait(request.path)

    with finished_send, finished:
        async with running(handler, max_connections=2) as server:
            async with open_websocket_url(url(server, "/1")) as first:
                async with open_websocket_url(url(server, "/2")) as second:
                    assert len(server.connections) == 2
                    with pytest.raises(ConnectionRejected) as info:
                        async with open_websocket_url(url(server, "/3")):
                            pytest.fail("the server is full")  # pragma: no cover
                    assert info.value.status_code == 503
                    assert (b"retry-after", b"1") in [
                        (name.lower(), value) for name, value in info.value.headers
                    ]
                    # The connections already open carry on.
                    await assert_echoes(first)
                    await assert_echoes(second)
                assert await finished.receive() == "/2"
                assert len(server.connections) == 1
                async with open_websocket_url(url(server, "/4")) as fourth:
                    await assert_echoes(fourth)
                    await assert_echoes(first)
            assert sorted([await finished.receive(), await finished.receive()]) == ["/1", "/4"]
            assert server.connections == frozenset()


@pytest.mark.parametrize("option", ["handshake_timeout", "connect_timeout"])
async def test_a_silent_client_is_cut_off_at_the_handshake_timeout(option: str) -> None:
    called: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        called.append(request.path)  # pragma: no cover

    async with (
        running(handler, **{option: 0.5}) as server,
        await anyio.connect_tcp("127.0.0.1", server.port) as stream,
    ):
        start = time.monotonic()
        assert await read_until_closed(stream) == b""
        elapsed = time.monotonic() - start
    assert 0.4 < elapsed < 5
    assert called == []


async def test_a_client_dribbling_its_request_is_cut_off_at_the_handshake_timeout() -> None:
    request = upgrade_request()
    sent = 0

    async with running(echo, handshake_timeout=0.5) as server:
        # Timed from before connecting: the server's clock starts when it
        # accepts, which a loaded machine may do well before connect returns.
        start = time.monotonic()
        stream = await anyio.connect_tcp("127.0.0.1", server.port)

        async def dribble() -> None:
            nonlocal sent
            try:
                for byte in request[:-1]:
                    await stream.send(bytes([byte]))
                    sent += 1
                    await anyio.sleep(0.05)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                pass

        async with stream, anyio.create_task_group() as group:
            group.start_soon(dribble)
            response = await read_until_closed(stream)
            elapsed = time.monotonic() - start
            group.cancel_scope.cancel()
    assert response == b""
    assert 0.4 < elapsed < 5
    assert 0 < sent < len(request) - 1


async def test_an_incomplete_request_does_not_block_shutdown() -> None:
    listener = NotifyingListener(await anyio.create_tcp_listener(local_host="127.0.0.1"))
    server = WebSocketServer(echo, [listener], handshake_timeout=30, disconnect_timeout=30)
    port = listener.extra(SocketAttribute.local_port)
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        async with anyio.create_task_group() as group:
            await group.start(server.run)
            await stream.send(upgrade_request()[:40])
            await listener.accepted.wait()
            start = time.monotonic()
            group.cancel_scope.cancel()
        elapsed = time.monotonic() - start
        assert await read_until_closed(stream) == b""
    assert elapsed < 5


@pytest.mark.parametrize("complete", [True, False], ids=["complete", "unterminated"])
async def test_an_oversized_handshake_gets_431(complete: bool) -> None:
    called: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        called.append(request.path)  # pragma: no cover

    big = b"X-Big: " + b"a" * (17 * 1024)
    data = upgrade_request(big) if complete else upgrade_request()[:-2] + big
    async with running(handler) as server:
        response = await raw_exchange(server.port, data)
    assert response.status == 431
    assert called == []


async def test_a_plain_http_request_gets_400() -> None:
    async with running(echo) as server:
        response = await raw_exchange(
            server.port, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/html\r\n\r\n"
        )
        assert response.status == 400
        # The server is still fine.
        async with open_websocket_url(url(server)) as ws:
            await assert_echoes(ws)


async def test_garbage_gets_400() -> None:
    async with running(echo) as server:
        response = await raw_exchange(server.port, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\r\n\r\n")
        assert response.status == 400


async def test_a_wrong_websocket_version_gets_426() -> None:
    async with running(echo) as server:
        response = await raw_exchange(server.port, upgrade_request(version=b"8"))
    assert response.status == 426
    assert response.header(b"Sec-WebSocket-Version") == [b"13"]


async def test_a_valid_raw_upgrade_gets_101() -> None:
    async with running(echo) as server, await anyio.connect_tcp("127.0.0.1", server.port) as stream:
        await stream.send(upgrade_request())
        head = b""
        while b"\r\n\r\n" not in head:
            head += await stream.receive()
    response = RawResponse(head)
    assert response.status == 101
    assert response.header(b"Sec-WebSocket-Accept") == [b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="]


@pytest.mark.parametrize("compressible", [True, False], ids=["compressible", "random"])
async def test_max_message_size_closes_with_1009(compressible: bool) -> None:
    server_saw: list[int | None] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(await ws.get_message())
        try:
            await ws.get_message()
        except ConnectionClosed as exc:
            server_saw.append(exc.reason.code if exc.reason else None)

    big = b"a" * 2000 if compressible else os.urandom(2000)
    async with (
        running(handler, max_message_size=1024) as server,
        open_websocket_url(url(server)) as ws,
    ):
        await assert_echoes(ws, b"b" * 1024)
        await ws.send_message(big)
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason is not None
        assert info.value.reason.code == 1009
        assert info.value.reason.name == "MESSAGE_TOO_BIG"
    assert server_saw == [1009]


# Going away


async def test_cancelling_the_server_closes_every_connection_with_1001() -> None:
    accepted_send, accepted = anyio.create_memory_object_stream[str](10)
    client_codes: list[int | None] = []
    raw_frames: list[CloseConnection] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        accepted_send.send_nowait(request.path)
        await ws.get_message()

    async def polite_client(port: int) -> None:
        async with open_websocket_url(f"ws://127.0.0.1:{port}/polite") as ws:
            try:
                await ws.get_message()
            except ConnectionClosed as exc:
                client_codes.append(exc.reason.code if exc.reason else None)

    async def deaf_client(port: int) -> None:
        # Reads what comes, never answers the close, never closes its socket.
        stream, ws = await raw_websocket(port, "/deaf")
        async with stream:
            accepted_send.send_nowait("/deaf client")
            try:
                while True:
                    ws.receive_data(await stream.receive())
                    raw_frames.extend(e for e in ws.events() if isinstance(e, CloseConnection))
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass

    with accepted_send, accepted:
        async with anyio.create_task_group() as clients:
            async with anyio.create_task_group() as serving:
                server = await serving.start(
                    partial(serve_websocket, handler, "127.0.0.1", 0, None, disconnect_timeout=0.5)
                )
                clients.start_soon(polite_client, server.port)
                clients.start_soon(deaf_client, server.port)
                paths = {await accepted.receive() for _ in range(3)}
                assert paths == {"/polite", "/deaf", "/deaf client"}
                assert len(server.connections) == 2
                start = time.monotonic()
                serving.cancel_scope.cancel()
            elapsed = time.monotonic() - start
    # The server waited for the deaf client's answer, but no longer than
    # disconnect_timeout.
    assert 0.4 < elapsed < 3
    assert client_codes == [1001]
    assert [(event.code, event.reason) for event in raw_frames] == [(1001, "server shutting down")]


async def test_shutdown_is_quick_when_every_client_answers() -> None:
    ready = anyio.Event()
    codes: list[int | None] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        ready.set()
        await ws.get_message()

    async with anyio.create_task_group() as clients:

        async def client(port: int) -> None:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                codes.append(info.value.reason.code if info.value.reason else None)

        async with anyio.create_task_group() as serving:
            server = await serving.start(
                partial(serve_websocket, handler, "127.0.0.1", 0, None, disconnect_timeout=30)
            )
            clients.start_soon(client, server.port)
            await ready.wait()
            start = time.monotonic()
            serving.cancel_scope.cancel()
        elapsed = time.monotonic() - start
    assert elapsed < 5
    assert codes == [1001]


# The peer going away


@pytest.mark.parametrize("how", ["fin", "reset", "mid-frame"])
async def test_the_client_dropping_tcp_gives_the_handler_1006(how: str) -> None:
    outcome_send, outcome = anyio.create_memory_object_stream[object](1)
    accepted = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        accepted.set()
        try:
            await ws.get_message()
        except ConnectionClosed as exc:
            outcome_send.send_nowait(exc)
        else:  # pragma: no cover
            outcome_send.send_nowait("a message")

    with outcome_send, outcome:
        async with running(handler) as server:
            stream, ws = await raw_websocket(server.port)
            await accepted.wait()
            if how == "reset":
                set_linger_zero(stream)
            elif how == "mid-frame":
                frame = ws.send(TextMessage("x" * 1000))
                await stream.send(frame[:500])
            await stream.aclose()
            result = await outcome.receive()
    assert isinstance(result, ConnectionClosed)
    assert result.reason is not None
    assert result.reason.code == 1006
    assert result.reason.name == "ABNORMAL_CLOSURE"


async def test_a_client_leaving_before_its_request_does_not_disturb_the_server() -> None:
    listener = NotifyingListener(await anyio.create_tcp_listener(local_host="127.0.0.1"))
    async with anyio.create_task_group() as group:
        server = await group.start(WebSocketServer(echo, [listener]).run)
        stream = await anyio.connect_tcp("127.0.0.1", server.port)
        set_linger_zero(stream)
        await stream.aclose()
        await listener.accepted.wait()
        async with open_websocket_url(url(server)) as ws:
            await assert_echoes(ws)
        group.cancel_scope.cancel()


# wrap_server_stream


async def test_wrap_server_stream_over_an_anyio_stream() -> None:
    multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
    tcp = multi.listeners[0]
    assert isinstance(tcp, SocketListener)
    port = tcp.extra(SocketAttribute.local_port)
    async with multi, anyio.create_task_group() as group:

        async def serve_one() -> None:
            stream = await tcp.accept()
            request = await wrap_server_stream(group, stream)
            assert request.path == "/wrapped?q=1"
            assert request.proposed_subprotocols == ("p",)
            assert request.local == Endpoint("127.0.0.1", port, False)
            ws = await request.accept(subprotocol="p")
            await echo_all(ws)

        group.start_soon(serve_one)
        async with open_websocket_url(
            f"ws://127.0.0.1:{port}/wrapped?q=1", subprotocols=["p"]
        ) as ws:
            assert ws.subprotocol == "p"
            await assert_echoes(ws)


async def test_wrap_server_stream_when_the_client_leaves_first() -> None:
    multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
    tcp = multi.listeners[0]
    assert isinstance(tcp, SocketListener)
    async with multi, anyio.create_task_group() as group:
        client = await anyio.connect_tcp("127.0.0.1", tcp.extra(SocketAttribute.local_port))
        await client.send(b"GET / HT")
        await client.aclose()
        stream = await tcp.accept()
        with pytest.raises(ConnectionClosed):
            await wrap_server_stream(group, stream)


async def test_wrap_server_stream_cancelled_while_waiting_closes_the_stream() -> None:
    multi = await anyio.create_tcp_listener(local_host="127.0.0.1")
    tcp = multi.listeners[0]
    assert isinstance(tcp, SocketListener)
    async with (
        multi,
        await anyio.connect_tcp("127.0.0.1", tcp.extra(SocketAttribute.local_port)) as client,
    ):
        stream = await tcp.accept()
        async with anyio.create_task_group() as group:
            with anyio.CancelScope() as scope:
                group.start_soon(cancel_soon, scope)
                await wrap_server_stream(group, stream)
            assert scope.cancelled_caught
        assert await read_until_closed(client) == b""


async def cancel_soon(scope: anyio.CancelScope) -> None:
    await anyio.sleep(0.05)
    scope.cancel()


# trio objects, on trio


async def hold_nursery(*, task_status: trio.TaskStatus[trio.Nursery]) -> None:
    async with trio.open_nursery() as nursery:
        task_status.started(nursery)
        await trio.sleep_forever()


@trio_only
async def test_trio_nursery_as_handler_nursery() -> None:
    async with trio.open_nursery() as clients:
        handlers = await clients.start(hold_nursery)
        async with anyio.create_task_group() as serving:
            server = await serving.start(
                partial(serve_websocket, echo, "127.0.0.1", 0, None, handler_nursery=handlers)
            )
            ws = await connect(clients, server.port)
            await assert_echoes(ws)
            serving.cancel_scope.cancel()
        await assert_echoes(ws, "still here")
        handlers.cancel_scope.cancel()
        with pytest.raises(ConnectionClosed) as info:
            await ws.get_message()
        assert info.value.reason is not None
        assert info.value.reason.code == 1001
        await ws.aclose()


@trio_only
async def test_trio_listeners() -> None:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    async with trio.open_nursery() as nursery:
        server = await nursery.start(WebSocketServer(echo, listeners).run)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/trio") as ws:
            await assert_echoes(ws, "trio listener")
        assert server.port == port
        assert server.listeners == [Endpoint("127.0.0.1", port, False)]
        nursery.cancel_scope.cancel()


@trio_only
async def test_trio_stream_in_wrap_server_stream() -> None:
    (listener,) = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listener.socket.getsockname()[1]
    async with listener, trio.open_nursery() as nursery:

        async def serve_one() -> None:
            stream = await listener.accept()
            request = await wrap_server_stream(nursery, stream)
            assert request.path == "/trio-stream"
            assert request.local == Endpoint("127.0.0.1", port, False)
            await echo_all(await request.accept())

        nursery.start_soon(serve_one)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/trio-stream") as ws:
            await assert_echoes(ws)
            await assert_echoes(ws, b"\xff" * 70_000)


# Keepalive: one task pings every connection


async def raw_client(port: int) -> RawPeer:
    """A hand-driven client (the core over TCP) that has opened a connection."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    peer = RawPeer(stream, WSConnection(ConnectionType.CLIENT))
    await peer.send(Request(host="127.0.0.1", target="/"))
    await peer.expect(AcceptConnection)
    return peer


async def test_server_keepalive_pings_every_connection_and_measures_latency() -> None:
    seen: list[WebSocketConnection] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        seen.append(ws)
        await echo_all(ws)

    # A generous ping_timeout: the pings are answered, and a loaded machine
    # must not make an answer late enough to close the connection with 1011.
    async with running(
        handler, ping_interval=0.05, ping_timeout=10, disconnect_timeout=1
    ) as server:
        peers = [await raw_client(server.port) for _ in range(3)]
        with anyio.fail_after(30):
            for _ in range(3):  # each answered, so the next one comes
                for peer in peers:
                    ping = await peer.expect(Ping)
                    await peer.send(ping.response())
        assert all(ws.closed is None and ws.latency is not None for ws in seen)
        for peer in peers:
            await peer.send(CloseConnection(1000))
            await peer.finish()


async def test_server_keepalive_closes_a_silent_connection_with_1011() -> None:
    closed = anyio.Event()
    reasons: list[CloseReason | None] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await ws.get_message()
        except ConnectionClosed as exc:
            reasons.append(exc.reason)
            closed.set()

    async with running(
        handler, ping_interval=0.05, ping_timeout=0.2, disconnect_timeout=1
    ) as server:
        silent = await raw_client(server.port)
        with anyio.fail_after(10):
            await closed.wait()
            events = await silent.drain()
        await silent.stream.aclose()
        assert reasons[0] is not None
        assert reasons[0].code == 1011
        assert isinstance(events[0], Ping)
        closes = [event.code for event in events if isinstance(event, CloseConnection)]
        assert closes[0] == 1011


async def test_server_without_keepalive_sends_no_ping() -> None:
    async with running(echo, ping_interval=None) as server:
        peer = await raw_client(server.port)
        await anyio.sleep(0.2)
        await peer.send(BytesMessage(b"first"))
        # The echo is the first thing the server sends: no ping came before it.
        assert await peer.receive_message() == (b"first", 1)
        await peer.send(CloseConnection(1000))
        await peer.finish()


# An idle connection on asyncio parks its reader (no task until data needs one)


def reader_tasks() -> list[str]:
    names = [task.name or "" for task in anyio.get_running_tasks()]
    return [name for name in names if "wsproto reader" in name]


async def test_idle_connections_hold_no_reader_task_on_asyncio_and_still_work(
    anyio_backend_name: str,
) -> None:
    # On asyncio, the transport's data callback does the reader's work, and
    # a reader task runs only while something has to wait (here: the close).
    async with running(echo, ping_interval=None) as server:
        peers = [await raw_client(server.port) for _ in range(5)]
        for i, peer in enumerate(peers):
            await peer.send(BytesMessage(b"m%d" % i))
            assert await peer.receive_message() == (b"m%d" % i, 1)
        await anyio.wait_all_tasks_blocked()
        expected = 0 if anyio_backend_name == "asyncio" else 5
        assert len(reader_tasks()) == expected
        # A parked connection still answers pings, echoes, and closes cleanly.
        for i, peer in enumerate(peers):
            await peer.send(Ping(b"p%d" % i), TextMessage("again"))
            assert await peer.expect(Pong) == Pong(b"p%d" % i)
            assert await peer.receive_message() == ("again", 1)
            await peer.send(CloseConnection(1000, "bye"))
            close = await peer.expect(CloseConnection)
            assert close.code == 1000
            await peer.finish()


async def test_a_parked_connection_sees_the_client_drop_tcp() -> None:
    closed: list[ConnectionClosed] = []
    done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await echo_all(ws)
        except ConnectionClosed as exc:
            closed.append(exc)
        done.set()

    async with running(handler, ping_interval=None) as server:
        peer = await raw_client(server.port)
        await peer.send(BytesMessage(b"x"))
        assert await peer.receive_message() == (b"x", 1)
        await anyio.wait_all_tasks_blocked()
        await peer.stream.aclose()
        with anyio.fail_after(5):
            await done.wait()
    assert closed[0].reason is not None
    assert closed[0].reason.code == 1006


@pytest.mark.parametrize("compression", [None, "deflate"])
async def test_large_messages_from_the_server_arrive_intact(
    compression: Literal["deflate"] | None,
) -> None:
    # From 64 KiB a server writes a frame's header and payload one after the
    # other (no copy joining them); with deflate, the compressed payload.
    binary = os.urandom(300_000)
    text = "é€😀 text " * 40_000

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message(binary)
        await ws.send_message(text)
        await ws.send_message(b"small")
        await ws.get_message()

    async with (
        running(handler, ping_interval=None) as server,
        open_websocket_url(url(server), compression=compression) as ws,
    ):
        assert await ws.get_message() == binary
        assert await ws.get_message() == text
        assert await ws.get_message() == b"small"
        await ws.send_message("done")
