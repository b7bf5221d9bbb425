"""The client side on both backends: open_websocket[_url], connect_websocket[_url],
wrap_client_stream; URLs, handshake options, timeouts, and errors that come out
as one exception, never an exception group.
"""

from __future__ import annotations

import errno
import socket
import ssl
import time
from typing import Any

import anyio
import pytest

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    Endpoint,
    HandshakeError,
    WebSocketRequest,
    connect_websocket,
    connect_websocket_url,
    open_websocket,
    open_websocket_url,
    wrap_client_stream,
)
from wsproto.anyio._dialing import parse_url
from wsproto.events import CloseConnection, Request, TextMessage
from wsproto.extensions import PerMessageDeflate

from .helpers import RawPeer, echo, running_server, tcp_listener

pytestmark = pytest.mark.anyio


class Boom(Exception):
    """An application error raised inside the ``async with`` block."""


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


# Opening


async def test_open_websocket_url_gives_an_open_client_connection() -> None:
    async with running_server(echo) as server:
        url = f"ws://127.0.0.1:{server.port}/echo"
        async with open_websocket_url(url) as ws:
            assert ws.is_client
            assert not ws.is_server
            assert ws.closed is None
            assert ws.path == "/echo"
            assert ws.subprotocol is None
            assert ws.remote == Endpoint("127.0.0.1", server.port, False)
            assert isinstance(ws.local, Endpoint)
            assert ws.local.address == "127.0.0.1"
            assert ws.local.port not in (0, server.port)
            assert "client" in repr(ws)
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
        assert ws.closed == CloseReason(1000, None)


async def test_open_websocket_with_host_port_and_resource() -> None:
    async with (
        running_server(echo) as server,
        open_websocket("127.0.0.1", server.port, "/r?q=1", use_ssl=False) as ws,
    ):
        assert ws.path == "/r?q=1"
        await ws.send_message(b"bin")
        assert await ws.get_message() == b"bin"


async def test_connect_websocket_url_in_a_task_group_closed_by_the_caller() -> None:
    async with running_server(echo) as server:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                ws = await connect_websocket_url(group, f"ws://127.0.0.1:{server.port}/")
                await ws.send_message("x")
                assert await ws.get_message() == "x"
                await ws.aclose()
            # The group ended by itself: the connection's tasks (the keepalive
            # too, though its interval is 20 s) stop once it is closed.
        assert ws.closed == CloseReason(1000, None)


async def test_wrap_client_stream_over_an_anyio_stream() -> None:
    async with running_server(echo) as server:
        stream = await anyio.connect_tcp("127.0.0.1", server.port)
        async with anyio.create_task_group() as group:
            ws = await wrap_client_stream(group, stream, "localhost", "/wrapped")
            assert ws.path == "/wrapped"
            assert ws.remote == Endpoint("127.0.0.1", server.port, False)
            await ws.send_message("over my stream")
            assert await ws.get_message() == "over my stream"
            await ws.aclose()


# URLs


async def test_url_path_query_and_host_header_reach_the_server() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        requests: list[Request] = []

        async def serve_one() -> None:
            peer, request = await RawPeer.accept(await listener.accept())
            requests.append(request)
            await peer.finish()

        group.start_soon(serve_one)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/chat/room?x=1&y=%20") as ws:
            assert ws.path == "/chat/room?x=1&y=%20"
        assert requests[0].target == "/chat/room?x=1&y=%20"
        assert requests[0].host == f"127.0.0.1:{port}"


async def test_url_without_a_path_asks_for_the_root() -> None:
    seen: list[str] = []

    async def handler(request: WebSocketRequest) -> None:
        seen.append(request.path)
        await request.accept()

    async with (
        running_server(handler) as server,
        open_websocket_url(f"ws://127.0.0.1:{server.port}") as ws,
    ):
        assert ws.path == "/"
    assert seen == ["/"]


def test_url_parts_and_default_ports() -> None:
    assert parse_url("ws://example.com", None) == ("example.com", 80, "/", False)
    assert parse_url("wss://example.com/a?b=c", None) == ("example.com", 443, "/a?b=c", True)
    assert parse_url("ws://[::1]:8080/x", None) == ("::1", 8080, "/x", False)
    assert parse_url("WS://Example.com:81", None) == ("example.com", 81, "/", False)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1/", "https://127.0.0.1/", "127.0.0.1:80", "ws://", "ws:///path", "ftp://h/"],
)
def test_invalid_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError, match="WebSocket URL"):
        open_websocket_url(url)


async def test_invalid_url_in_connect_websocket_url_raises_value_error() -> None:
    async with anyio.create_task_group() as group:
        with pytest.raises(ValueError, match="WebSocket URL"):
            await connect_websocket_url(group, "http://127.0.0.1/")


def test_ssl_context_with_a_ws_url_raises_value_error() -> None:
    with pytest.raises(ValueError, match="wss://"):
        open_websocket_url("ws://127.0.0.1/", ssl.create_default_context())


async def test_ipv6_literal_url() -> None:
    if not ipv6_loopback_available():
        pytest.skip("no IPv6 loopback on this machine")
    async with tcp_listener("::1") as (listener, port), anyio.create_task_group() as group:
        requests: list[Request] = []

        async def serve_one() -> None:
            peer, request = await RawPeer.accept(await listener.accept())
            requests.append(request)
            message, _ = await peer.receive_message()
            await peer.send(TextMessage(f"echo {message!s}"))
            await peer.finish()

        group.start_soon(serve_one)
        async with open_websocket_url(f"ws://[::1]:{port}/six") as ws:
            assert ws.remote == Endpoint("::1", port, False)
            await ws.send_message("over IPv6")
            assert await ws.get_message() == "echo over IPv6"
        assert requests[0].host == f"[::1]:{port}"
        assert requests[0].target == "/six"


# Handshake options


async def test_subprotocols_and_extra_headers_reach_the_server() -> None:
    seen: list[WebSocketRequest] = []

    async def handler(request: WebSocketRequest) -> None:
        seen.append(request)
        await request.accept(subprotocol="superchat")

    async with (
        running_server(handler) as server,
        open_websocket_url(
            f"ws://127.0.0.1:{server.port}/",
            subprotocols=["chat", "superchat"],
            extra_headers=[(b"X-Token", b"abc"), (b"X-Trace", b"1"), (b"X-Token", b"def")],
        ) as ws,
    ):
        assert ws.subprotocol == "superchat"
    assert seen[0].proposed_subprotocols == ("chat", "superchat")
    custom = [(name.lower(), value) for name, value in seen[0].headers if name.lower()[:2] == b"x-"]
    assert custom == [(b"x-token", b"abc"), (b"x-trace", b"1"), (b"x-token", b"def")]


async def test_handshake_headers_are_the_servers_extra_headers_in_wire_order() -> None:
    extra = [(b"X-B", b"2"), (b"X-A", b"1"), (b"X-B", b"3"), (b"Set-Cookie", b"k=v")]

    async def handler(request: WebSocketRequest) -> None:
        await request.accept(extra_headers=extra)

    async with (
        running_server(handler) as server,
        open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws,
    ):
        headers = ws.handshake_headers
    assert isinstance(headers, tuple)
    received = [(name.lower(), value) for name, value in headers]
    assert [h for h in received if h[0] in (b"x-a", b"x-b", b"set-cookie")] == [
        (name.lower(), value) for name, value in extra
    ]


@pytest.mark.parametrize("compression", ["deflate", None])
async def test_compression_is_offered_by_default_and_off_with_none(compression: Any) -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        requests: list[Request] = []

        async def serve_one() -> None:
            peer, request = await RawPeer.accept(await listener.accept())
            requests.append(request)
            await peer.finish()

        group.start_soon(serve_one)
        options: dict[str, Any] = {} if compression == "deflate" else {"compression": None}
        async with open_websocket_url(f"ws://127.0.0.1:{port}/", **options):
            pass
    offered = [str(offer) for offer in requests[0].extensions]
    if compression is None:
        assert offered == []
    else:
        assert len(offered) == 1
        assert offered[0].startswith("permessage-deflate")


async def test_compression_negotiated_compresses_on_the_wire() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        peers: list[RawPeer] = []
        ready = anyio.Event()

        async def serve_one() -> None:
            peer, _ = await RawPeer.accept(
                await listener.accept(), extensions=[PerMessageDeflate()]
            )
            peers.append(peer)
            ready.set()

        group.start_soon(serve_one)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ready.wait()
            peer = peers[0]
            before = peer.bytes_received
            await ws.send_message(b"a" * 100_000)
            assert await peer.receive_message() == (b"a" * 100_000, 1)
            assert peer.bytes_received - before < 2_000  # compressed on the wire
            await peer.send(TextMessage("é" * 50_000))
            assert await ws.get_message() == "é" * 50_000
            group.start_soon(peer.finish)


async def test_deflate_options_shape_the_offer() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        requests: list[Request] = []

        async def serve_one() -> None:
            peer, request = await RawPeer.accept(await listener.accept())
            requests.append(request)
            await peer.finish()

        group.start_soon(serve_one)
        options = {"client_max_window_bits": 10, "server_no_context_takeover": True}
        async with open_websocket_url(f"ws://127.0.0.1:{port}/", deflate_options=options):
            pass
    offer = str(requests[0].extensions[0])
    assert "client_max_window_bits=10" in offer
    assert "server_no_context_takeover" in offer


async def test_unknown_compression_raises_value_error() -> None:
    async with running_server(echo) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        with pytest.raises(ValueError, match="compression"):
            async with open_websocket_url(url, compression="brotli"):  # type: ignore[arg-type]
                pytest.fail("no connection with an unknown compression")  # pragma: no cover


async def test_compression_against_our_server_round_trips() -> None:
    async with (
        running_server(echo) as server,
        open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws,
    ):
        for message in ("t" * 200_000, b"\x00" * 300_000, "short"):
            await ws.send_message(message)
            assert await ws.get_message() == message


# Timeouts


async def test_connect_timeout_when_the_server_never_answers_the_upgrade() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        accepted = anyio.Event()
        done = anyio.Event()

        async def accept_and_stay_silent() -> None:
            async with await listener.accept():
                accepted.set()
                await done.wait()

        group.start_soon(accept_and_stay_silent)
        start = time.monotonic()
        with pytest.raises(ConnectionTimeout) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", connect_timeout=0.3):
                pytest.fail("the handshake cannot have finished")  # pragma: no cover
        elapsed = time.monotonic() - start
        assert type(info.value) is ConnectionTimeout
        assert isinstance(info.value, HandshakeError)
        assert accepted.is_set()
        assert 0.3 <= elapsed < 5
        done.set()


async def test_disconnect_timeout_when_the_server_never_answers_the_close() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        peers: list[RawPeer] = []
        done = anyio.Event()

        async def accept_and_go_silent() -> None:
            peer, _ = await RawPeer.accept(await listener.accept())
            peers.append(peer)
            await done.wait()  # never reads: never answers the close

        group.start_soon(accept_and_go_silent)
        with pytest.raises(DisconnectionTimeout) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", disconnect_timeout=0.3) as ws:
                start = time.monotonic()
        elapsed = time.monotonic() - start
        assert type(info.value) is DisconnectionTimeout
        assert 0.3 <= elapsed < 5
        assert ws.closed is not None
        assert ws.closed.code == 1000  # ours: the server never said otherwise
        # What the server was sent: our close frame, whole.
        assert (await peers[0].expect(CloseConnection)).code == 1000
        await peers[0].stream.aclose()
        done.set()


async def test_leaving_open_websocket_in_a_cancelled_scope_is_bounded() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        done = anyio.Event()

        async def accept_and_go_silent() -> None:
            peer, _ = await RawPeer.accept(await listener.accept())
            await done.wait()
            await peer.stream.aclose()

        group.start_soon(accept_and_go_silent)
        with anyio.CancelScope() as scope:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", disconnect_timeout=0.5) as ws:
                start = time.monotonic()
                scope.cancel()
                await ws.get_message()
        assert scope.cancelled_caught
        assert time.monotonic() - start < 5
        assert ws.closed is not None
        done.set()


async def test_leaving_open_websocket_in_a_cancelled_task_group_closes_cleanly() -> None:
    codes: list[int | None] = []
    handler_done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            await ws.get_message()
        except ConnectionClosed as exc:
            codes.append(exc.reason.code if exc.reason else None)
        handler_done.set()

    async with running_server(handler) as server:
        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                opened = anyio.Event()

                async def client() -> None:
                    async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                        opened.set()
                        await ws.get_message()

                group.start_soon(client)
                await opened.wait()
                group.cancel_scope.cancel()
            await handler_done.wait()
    assert codes == [1000]


# Errors come out as one exception


async def test_an_error_in_the_block_comes_out_as_itself() -> None:
    async with running_server(echo) as server:
        with pytest.raises(Boom) as info:  # noqa: PT012 (the error comes from inside the block)
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.send_message("x")
                raise Boom("from the block")
        assert type(info.value) is Boom
        assert ws.closed is not None


async def test_connection_closed_in_the_block_comes_out_as_itself() -> None:
    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.aclose(4321, "bye now")

    async with running_server(handler) as server:
        with pytest.raises(ConnectionClosed) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/") as ws:
                await ws.get_message()
        assert type(info.value) is ConnectionClosed
        assert info.value.reason == CloseReason(4321, "bye now")


@pytest.mark.parametrize("body", [b"go away", None])
async def test_connection_rejected_carries_status_headers_and_body(body: bytes | None) -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(403, extra_headers=[(b"X-Reason", b"banned")], body=body)

    async with running_server(handler) as server:
        with pytest.raises(ConnectionRejected) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{server.port}/"):
                pytest.fail("rejected connections do not open")  # pragma: no cover
    error = info.value
    assert type(error) is ConnectionRejected
    assert isinstance(error, HandshakeError)
    assert error.status_code == 403
    assert (b"x-reason", b"banned") in [(name.lower(), value) for name, value in error.headers]
    assert error.body == body


@pytest.mark.parametrize(
    "response",
    [
        # A 101 whose accept token does not answer our key.
        (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: not-the-right-token=\r\n\r\n"
        ),
        # A 101 without the upgrade headers.
        b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
        # Not HTTP at all.
        b"SSH-2.0-OpenSSH_9.6\r\n\r\n",
    ],
    ids=["bad-accept", "no-upgrade", "not-http"],
)
async def test_a_bad_handshake_response_is_a_handshake_error(response: bytes) -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:

        async def answer_badly() -> None:
            async with await listener.accept() as stream:
                peer = RawPeer(stream, _server_core())
                await peer.expect(Request)
                await stream.send(response)
                with anyio.move_on_after(5):
                    await peer.drain()

        group.start_soon(answer_badly)
        with pytest.raises(HandshakeError) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", connect_timeout=5):
                pytest.fail("a bad handshake does not open")  # pragma: no cover
        assert type(info.value) is HandshakeError


async def test_the_server_leaving_during_the_handshake_is_a_single_exception() -> None:
    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:

        async def hang_up() -> None:
            async with await listener.accept() as stream:
                await RawPeer(stream, _server_core()).expect(Request)

        group.start_soon(hang_up)
        with pytest.raises((HandshakeError, ConnectionClosed)) as info:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", connect_timeout=5):
                pytest.fail("no handshake, no connection")  # pragma: no cover
        assert not isinstance(info.value, BaseExceptionGroup)


@pytest.mark.parametrize("scheme", ["ws", "wss"])
async def test_a_refused_connection_is_connection_refused_error(scheme: str) -> None:
    # The OSError subclass asyncio raises, on trio too: ``except
    # ConnectionRefusedError`` works on both (anyio alone gives trio a plain
    # OSError("All connection attempts failed")).
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it
    with pytest.raises(ConnectionRefusedError) as info:
        async with open_websocket_url(f"{scheme}://127.0.0.1:{port}/", connect_timeout=5):
            pytest.fail("nobody listens")  # pragma: no cover
    assert info.value.errno == errno.ECONNREFUSED


async def test_connect_websocket_errors_are_single_exceptions_too() -> None:
    async def handler(request: WebSocketRequest) -> None:
        await request.reject(404)

    async with running_server(handler) as server, anyio.create_task_group() as group:
        with pytest.raises(ConnectionRejected) as info:
            await connect_websocket(group, "127.0.0.1", server.port, "/", use_ssl=False)
        assert info.value.status_code == 404


def _server_core() -> WSConnection:
    return WSConnection(ConnectionType.SERVER)


# trio objects, when running on trio


class TestTrioObjects:
    """trio-websocket programs pass trio objects; they work as they are."""

    @pytest.fixture
    def anyio_backend(self) -> tuple[str, dict[str, object]]:
        return ("trio", {})

    async def test_a_trio_nursery_in_connect_websocket(self) -> None:
        import trio

        async with running_server(echo) as server:
            async with trio.open_nursery() as nursery:
                ws = await connect_websocket(nursery, "127.0.0.1", server.port, "/", use_ssl=False)
                await ws.send_message("from a nursery")
                assert await ws.get_message() == "from a nursery"
                await ws.aclose()
            assert ws.closed == CloseReason(1000, None)

    async def test_a_trio_nursery_in_connect_websocket_url(self) -> None:
        import trio

        async with running_server(echo) as server, trio.open_nursery() as nursery:
            ws = await connect_websocket_url(nursery, f"ws://127.0.0.1:{server.port}/u")
            assert ws.path == "/u"
            await ws.aclose()

    async def test_a_trio_stream_in_wrap_client_stream(self) -> None:
        import trio

        async with running_server(echo) as server:
            stream = await trio.open_tcp_stream("127.0.0.1", server.port)
            async with trio.open_nursery() as nursery:
                ws = await wrap_client_stream(nursery, stream, "localhost", "/trio")
                assert ws.remote == Endpoint("127.0.0.1", server.port, False)
                await ws.send_message(b"over a trio stream")
                assert await ws.get_message() == b"over a trio stream"
                await ws.aclose()
            assert ws.closed == CloseReason(1000, None)
