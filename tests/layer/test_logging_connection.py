"""What an open connection logs at DEBUG: pings, the closing handshake with its code, limits.

On the ``wsproto.anyio.connection`` logger (the server's malformed and
oversized handshakes, which the connection's reader detects, on
``wsproto.anyio.server``), each record with the same ``ws_connection_id``
as the handshake records of its side, and its peer (docs/howto-logging.rst).
test_logging.py tests the client's and server's own records.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import partial
from typing import Any

import anyio
import pytest
from anyio.abc import SocketAttribute, TaskStatus

from wsproto.anyio import (
    ConnectionClosed,
    Endpoint,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
)

from .helpers import client_with_peer

pytestmark = pytest.mark.anyio

CONNECTION = "wsproto.anyio.connection"


# Helpers


def ours(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name.startswith("wsproto")]


def field(record: logging.LogRecord, name: str) -> Any:
    return getattr(record, name, None)


def client_id(caplog: pytest.LogCaptureFixture, nth: int = 0) -> int:
    """The id a client's handshake records gave its ``nth`` connection."""
    sent = [r for r in ours(caplog) if field(r, "ws_event") == "handshake_sent"]
    conn_id = field(sent[nth], "ws_connection_id")
    assert isinstance(conn_id, int)
    return conn_id


def server_id(caplog: pytest.LogCaptureFixture, nth: int = 0) -> int:
    """The id a server's handshake records gave its ``nth`` connection."""
    received = [r for r in ours(caplog) if field(r, "ws_event") == "request_received"]
    conn_id = field(received[nth], "ws_connection_id")
    assert isinstance(conn_id, int)
    return conn_id


def of(caplog: pytest.LogCaptureFixture, conn_id: int) -> list[logging.LogRecord]:
    """The connection logger's records about one connection."""
    return [
        r for r in ours(caplog) if r.name == CONNECTION and field(r, "ws_connection_id") == conn_id
    ]


def events(records: list[logging.LogRecord]) -> list[tuple[str, int | None]]:
    """Each record's event, with its close code when it has one."""
    return [(field(r, "ws_event"), field(r, "ws_close_code")) for r in records]


def about(records: list[logging.LogRecord], conn_id: int, peer: str | None) -> None:
    """Every record names the connection and its peer, in its fields and its message."""
    assert records
    for record in records:
        assert record.levelno == logging.DEBUG
        assert field(record, "ws_connection_id") == conn_id
        assert field(record, "ws_peer") == peer
        start = f"conn {conn_id}: " if peer is None else f"conn {conn_id} {peer}: "
        assert record.getMessage().startswith(start), record.getMessage()
        assert record.filename != "_log.py"  # the line that logged it, in the layer


def address(endpoint: Endpoint | str | None) -> str:
    assert isinstance(endpoint, Endpoint)
    return f"{endpoint.address}:{endpoint.port}"


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


@asynccontextmanager
async def running(
    handler: Callable[[WebSocketRequest], Any] = echo, **options: Any
) -> AsyncIterator[WebSocketServer]:
    options.setdefault("ping_interval", None)
    async with anyio.create_task_group() as group:
        serve = partial(serve_websocket, handler, "127.0.0.1", 0, None, **options)
        server: WebSocketServer = await group.start(serve)
        yield server
        group.cancel_scope.cancel()


def connect(server: WebSocketServer) -> AbstractAsyncContextManager[WebSocketConnection]:
    return open_websocket_url(f"ws://127.0.0.1:{server.port}/", ping_interval=None)


async def closed_with(ws: WebSocketConnection) -> int | None:
    with anyio.fail_after(10), pytest.raises(ConnectionClosed) as info:
        await ws.get_message()
    return info.value.reason.code if info.value.reason else None


# The closing handshake


async def test_a_normal_close_is_logged_at_both_ends_with_its_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with running() as server:
        server_address = f"127.0.0.1:{server.port}"
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/", ping_interval=None) as ws:
            client_address = address(ws.local)
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            await ws.aclose(1000, "bye")
    # Leaving the server's block waited for its handler and its teardown.

    client = of(caplog, client_id(caplog))
    assert events(client) == [("close_sent", 1000), ("close_received", 1000), ("closed", 1000)]
    about(client, client_id(caplog), server_address)
    assert client[0].getMessage() == (
        f"conn {client_id(caplog)} {server_address}: close sent 1000 'bye'"
    )

    server_side = of(caplog, server_id(caplog))
    assert events(server_side) == [
        ("close_received", 1000),
        ("close_sent", 1000),
        ("closed", 1000),
    ]
    about(server_side, server_id(caplog), client_address)
    assert server_side[0].getMessage() == (
        f"conn {server_id(caplog)} {client_address}: close received 1000 'bye'"
    )
    # Not a record per message.
    assert not [r for r in ours(caplog) if "hello" in r.getMessage()]


async def test_a_server_going_away_is_logged_with_1001(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    stop = anyio.CancelScope()

    async def serve(*, task_status: TaskStatus[WebSocketServer]) -> None:
        with stop:
            await serve_websocket(
                echo, "127.0.0.1", 0, None, ping_interval=None, task_status=task_status
            )

    async with anyio.create_task_group() as group:
        server: WebSocketServer = await group.start(serve)
        async with open_websocket_url(f"ws://127.0.0.1:{server.port}/", ping_interval=None) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            stop.cancel()  # the server shuts down
            assert await closed_with(ws) == 1001
    assert events(of(caplog, server_id(caplog))) == [
        ("close_sent", 1001),
        ("close_received", 1001),
        ("closed", 1001),
    ]
    assert events(of(caplog, client_id(caplog))) == [
        ("close_received", 1001),
        ("close_sent", 1001),
        ("closed", 1001),
    ]


async def test_each_connection_logs_its_end_once_an_abnormal_one_with_1006(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.stream.aclose()  # the peer drops the transport: no close frame
        assert await closed_with(ws) == 1006
    records = of(caplog, client_id(caplog))
    assert events(records) == [("closed", 1006)]
    about(records, client_id(caplog), None)  # in memory: no address
    assert records[0].getMessage() == f"conn {client_id(caplog)}: closed 1006"


# Pings


async def test_pings_and_pongs_are_logged_with_the_latency(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with running() as server, connect(server) as ws:
        await ws.ping(b"abcd")
        await ws.pong(b"hb")  # unsolicited: a one-way heartbeat
        await ws.send_message("after")  # the server has handled the pong once this is back
        assert await ws.get_message() == "after"
    client = [r for r in of(caplog, client_id(caplog)) if "ping" in field(r, "ws_event")]
    client += [r for r in of(caplog, client_id(caplog)) if "pong" in field(r, "ws_event")]
    assert [field(r, "ws_event") for r in client] == ["ping_sent", "pong_received"]
    sent, answered = client
    assert sent.getMessage().endswith(": ping sent 61626364")
    latency = field(answered, "ws_latency")
    assert isinstance(latency, float)
    assert 0 <= latency < 10
    assert f"pong received 61626364, latency {latency * 1000:.1f} ms" in answered.getMessage()

    server_side = [r for r in of(caplog, server_id(caplog)) if field(r, "ws_event").startswith("p")]
    assert [field(r, "ws_event") for r in server_side] == ["ping_received", "pong_received"]
    assert server_side[0].getMessage().endswith(": ping received 61626364")
    assert server_side[1].getMessage().endswith(": pong received 6862, answering no ping")
    assert field(server_side[1], "ws_latency") is None


async def test_a_keepalive_timeout_is_logged_as_a_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    # The peer completed the handshake and then hung: it never answers a ping.
    async with client_with_peer("memory", ping_interval=0.05, ping_timeout=0.05) as (ws, _, _):
        assert await closed_with(ws) == 1011
    records = of(caplog, client_id(caplog))
    kinds = events(records)
    assert ("ping_sent", None) in kinds
    assert kinds[kinds.index(("limit", 1011)) :] == [
        ("limit", 1011),
        ("close_sent", 1011),
        ("closed", 1011),
    ]
    limit = records[kinds.index(("limit", 1011))]
    assert field(limit, "ws_limit") == "ping_timeout"
    assert limit.getMessage() == (
        f"conn {client_id(caplog)}: ping_timeout: no pong within 0.05 s; closing with 1011"
    )


# Limits and the peer's protocol errors


async def test_a_message_over_max_message_size_is_logged_as_a_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with running(max_message_size=1000) as server, connect(server) as ws:
        await ws.send_message(b"x" * 5000)
        assert await closed_with(ws) == 1009
    records = of(caplog, server_id(caplog))
    assert events(records) == [("limit", 1009), ("close_sent", 1009), ("closed", 1009)]
    assert field(records[0], "ws_limit") == "max_message_size"
    assert records[0].getMessage().endswith("; closing with 1009")
    assert ("close_received", 1009) in events(of(caplog, client_id(caplog)))


async def test_a_message_over_max_fragments_is_logged_as_a_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with running(max_fragments=2) as server, connect(server) as ws:
        await ws.send_message(["a", "b", "c"])
        assert await closed_with(ws) == 1009
    records = of(caplog, server_id(caplog))
    assert events(records)[:2] == [("limit", 1009), ("close_sent", 1009)]
    assert events(records)[-1] == ("closed", 1009)
    assert field(records[0], "ws_limit") == "max_fragments"


async def test_a_protocol_error_of_the_peer_is_logged_with_its_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with client_with_peer("memory") as (ws, peer, _):
        await peer.stream.send(b"\x81\x02\xff\xfe")  # a text frame that is not UTF-8
        assert await closed_with(ws) == 1007
    records = of(caplog, client_id(caplog))
    assert events(records)[:2] == [("protocol_error", 1007), ("close_sent", 1007)]
    assert events(records)[-1] == ("closed", 1007)
    assert "protocol error, failing with 1007" in records[0].getMessage()


async def test_a_peer_deaf_to_the_close_is_logged_as_the_disconnect_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with client_with_peer("memory", disconnect_timeout=0.1) as (ws, _, _):
        await ws.aclose()  # the peer never reads, so never answers
    records = of(caplog, client_id(caplog))
    limits = [r for r in records if field(r, "ws_event") == "limit"]
    assert [field(r, "ws_limit") for r in limits] == ["disconnect_timeout"]
    assert (
        limits[0]
        .getMessage()
        .endswith(": disconnect_timeout: the closing handshake took longer than 0.1 s")
    )
    assert events(records)[-1] == ("closed", 1000)


# The server's handshake, as the connection's reader sees it


async def request_raw(port: int, request: bytes) -> tuple[bytes, str]:
    """Send ``request`` over TCP; return the server's answer and our address."""
    answer = bytearray()
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        local = stream.extra(SocketAttribute.local_address)
        await stream.send(request)
        with anyio.fail_after(10):
            try:
                while True:
                    answer += await stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    return bytes(answer), f"{local[0]}:{local[1]}"


async def test_a_malformed_request_is_logged_by_the_server(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with running() as server:
        answer, client_address = await request_raw(
            server.port, b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
        )
    assert answer.startswith(b"HTTP/1.1 400 ")
    failed = [r for r in ours(caplog) if field(r, "ws_event") == "handshake_failed"]
    assert len(failed) == 1
    record = failed[0]
    assert record.name == "wsproto.anyio.server"
    assert record.exc_info is None  # the client's doing
    about([record], field(record, "ws_connection_id"), client_address)
    closed = [r for r in ours(caplog) if field(r, "ws_event") == "closed"]
    assert [field(r, "ws_connection_id") for r in closed] == [field(record, "ws_connection_id")]


async def test_an_oversized_handshake_is_logged_as_a_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    request = b"GET / HTTP/1.1\r\nHost: localhost\r\nX-Big: " + b"x" * 20_000 + b"\r\n\r\n"
    async with running() as server:
        answer, _ = await request_raw(server.port, request)
    assert answer.startswith(b"HTTP/1.1 431 ")
    limits = [r for r in ours(caplog) if field(r, "ws_event") == "limit"]
    assert [(r.name, field(r, "ws_limit"), field(r, "ws_status")) for r in limits] == [
        ("wsproto.anyio.server", "handshake_size", 431)
    ]
    assert limits[0].getMessage().endswith("; answered 431")
