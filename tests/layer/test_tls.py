"""wss:// end to end over loopback, with certificates from a trustme CA, on both backends."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import pytest
import trio
import trustme
from anyio.streams.tls import TLSListener

from wsproto.anyio import (
    ConnectionClosed,
    ConnectionTimeout,
    Endpoint,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    open_websocket,
    open_websocket_url,
    serve_websocket,
)

pytestmark = pytest.mark.anyio

trio_only = pytest.mark.parametrize("anyio_backend", [pytest.param(("trio", {}), id="trio")])


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1", "::1").configure_cert(context)
    return context


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture
def quiet_tls_logs(caplog: pytest.LogCaptureFixture) -> None:
    # A refused TLS handshake is logged by anyio's TLS listener; it is expected here.
    caplog.set_level(logging.CRITICAL, logger="anyio.streams.tls")


class Seen:
    """What the server's handler saw of each request."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, object, object]] = []

    async def echo(self, request: WebSocketRequest) -> None:
        self.requests.append((request.path, request.local, request.remote))
        ws = await request.accept()
        async for message in ws:
            await ws.send_message(message)


@asynccontextmanager
async def tls_server(
    handler: Any, context: ssl.SSLContext | None, **options: Any
) -> AsyncIterator[WebSocketServer]:
    async with anyio.create_task_group() as group:
        server: WebSocketServer = await group.start(
            partial(serve_websocket, handler, "127.0.0.1", 0, context, **options)
        )
        yield server
        group.cancel_scope.cancel()


async def assert_echoes(ws: WebSocketConnection, message: str | bytes = "ping") -> None:
    await ws.send_message(message)
    assert await ws.get_message() == message


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_wss_end_to_end(
    host: str, server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    seen = Seen()
    async with tls_server(seen.echo, server_context) as server:
        port = server.port
        assert server.listeners == [Endpoint("127.0.0.1", port, True)]
        async with open_websocket_url(f"wss://{host}:{port}/secure?x=1", client_context) as ws:
            for message in ("hello", b"\x00\xff", "é" * 50_000, b"z" * 300_000):
                await assert_echoes(ws, message)
            assert ws.path == "/secure?x=1"
            assert ws.remote == Endpoint("127.0.0.1", port, True)
            assert isinstance(ws.local, Endpoint)
            assert ws.local.is_ssl
            client_end = ws.local
        assert ws.closed is not None
        assert ws.closed.code == 1000
    assert seen.requests == [
        ("/secure?x=1", Endpoint("127.0.0.1", port, True), client_end),
    ]
    assert client_end.url == f"wss://127.0.0.1:{client_end.port}"


async def test_open_websocket_with_an_ssl_context(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    seen = Seen()
    async with (
        tls_server(seen.echo, server_context) as server,
        open_websocket("127.0.0.1", server.port, "/ctx", use_ssl=client_context) as ws,
    ):
        await assert_echoes(ws)
        assert isinstance(ws.remote, Endpoint)
        assert ws.remote.is_ssl


@pytest.mark.parametrize("trusting", ["default-context", "no-context"])
async def test_a_client_that_does_not_trust_the_ca_fails(
    trusting: str,
    server_context: ssl.SSLContext,
    client_context: ssl.SSLContext,
    quiet_tls_logs: None,
) -> None:
    seen = Seen()
    async with tls_server(seen.echo, server_context) as server:
        target = f"wss://127.0.0.1:{server.port}/"
        context = ssl.create_default_context() if trusting == "default-context" else None
        with pytest.raises(ssl.SSLCertVerificationError) as info:
            async with open_websocket_url(target, context, connect_timeout=10):
                pytest.fail("the certificate is not trusted")  # pragma: no cover
        assert isinstance(info.value, OSError)
        assert not isinstance(info.value, BaseExceptionGroup)
        # The server goes on serving clients that do trust it.
        async with open_websocket_url(target, client_context) as ws:
            await assert_echoes(ws)
    assert [path for path, _, _ in seen.requests] == ["/"]


async def test_a_certificate_for_another_name_fails(
    ca: trustme.CA, client_context: ssl.SSLContext, quiet_tls_logs: None
) -> None:
    other = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("example.org").configure_cert(other)
    seen = Seen()
    async with tls_server(seen.echo, other) as server:
        with pytest.raises(ssl.SSLCertVerificationError, match=r"127\.0\.0\.1"):
            async with open_websocket_url(f"wss://127.0.0.1:{server.port}/", client_context):
                pytest.fail("the certificate names another host")  # pragma: no cover
    assert seen.requests == []


async def test_a_plain_client_against_a_tls_server_fails_cleanly(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext, quiet_tls_logs: None
) -> None:
    seen = Seen()
    async with tls_server(seen.echo, server_context) as server:
        start = time.monotonic()
        with pytest.raises((HandshakeError, ConnectionClosed, OSError)) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/", connect_timeout=10):
                pytest.fail("a TLS server cannot speak plain HTTP")  # pragma: no cover
        assert time.monotonic() - start < 5
        assert not isinstance(info.value, ConnectionTimeout | BaseExceptionGroup)
        async with open_websocket_url(f"wss://127.0.0.1:{server.port}/", client_context) as ws:
            await assert_echoes(ws)


async def test_a_tls_client_against_a_plain_server_fails_cleanly(
    client_context: ssl.SSLContext,
) -> None:
    seen = Seen()
    async with tls_server(seen.echo, None) as server:
        with pytest.raises(ssl.SSLError) as info:
            async with open_websocket_url(
                f"wss://127.0.0.1:{server.port}/", client_context, connect_timeout=10
            ):
                pytest.fail("a plain server cannot speak TLS")  # pragma: no cover
        assert not isinstance(info.value, BaseExceptionGroup)
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
            await assert_echoes(ws)
    assert len(seen.requests) == 1


async def test_an_existing_anyio_tls_listener(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    listener = TLSListener(tcp, server_context, standard_compatible=False)
    seen = Seen()
    async with anyio.create_task_group() as group:
        server = await group.start(WebSocketServer(seen.echo, [listener]).run)
        port = server.port
        assert server.listeners == [Endpoint("127.0.0.1", port, True)]
        async with open_websocket_url(f"wss://localhost:{port}/listener", client_context) as ws:
            await assert_echoes(ws)
        group.cancel_scope.cancel()
    ((path, local, remote),) = seen.requests
    assert path == "/listener"
    assert local == Endpoint("127.0.0.1", port, True)
    assert isinstance(remote, Endpoint)
    assert remote.is_ssl


async def test_cancelling_a_tls_server_closes_with_1001(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    accepted = anyio.Event()
    codes: list[int | None] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        accepted.set()
        await ws.get_message()

    async def client(port: int) -> None:
        async with open_websocket_url(f"wss://127.0.0.1:{port}/", client_context) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.get_message()
            codes.append(info.value.reason.code if info.value.reason else None)

    async with anyio.create_task_group() as clients:
        async with anyio.create_task_group() as serving:
            server = await serving.start(
                partial(serve_websocket, handler, "127.0.0.1", 0, server_context)
            )
            clients.start_soon(client, server.port)
            await accepted.wait()
            start = time.monotonic()
            serving.cancel_scope.cancel()
        assert time.monotonic() - start < 5
    assert codes == [1001]


async def test_a_silent_client_on_a_tls_server_is_cut_off(server_context: ssl.SSLContext) -> None:
    seen = Seen()
    async with (
        tls_server(seen.echo, server_context, handshake_timeout=0.5) as server,
        await anyio.connect_tcp("127.0.0.1", server.port) as stream,
    ):
        start = time.monotonic()
        with anyio.move_on_after(4):
            try:
                while await stream.receive():
                    pass  # pragma: no cover
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
        elapsed = time.monotonic() - start
    assert 0.4 < elapsed < 3.5


@trio_only
async def test_trio_ssl_listeners(
    server_context: ssl.SSLContext, client_context: ssl.SSLContext
) -> None:
    listeners = await trio.open_ssl_over_tcp_listeners(0, server_context, host="127.0.0.1")
    tcp = listeners[0].transport_listener
    assert isinstance(tcp, trio.SocketListener)
    port = tcp.socket.getsockname()[1]
    seen = Seen()
    async with trio.open_nursery() as nursery:
        server = await nursery.start(WebSocketServer(seen.echo, listeners).run)
        assert server.listeners == [Endpoint("127.0.0.1", port, True)]
        async with open_websocket_url(f"wss://localhost:{port}/trio-ssl", client_context) as ws:
            await assert_echoes(ws, b"\x01" * 100_000)
            client_end = ws.local
        nursery.cancel_scope.cancel()
    assert seen.requests == [("/trio-ssl", Endpoint("127.0.0.1", port, True), client_end)]
