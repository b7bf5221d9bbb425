"""The layer's logs: silent by default, the opening handshake at DEBUG, errors once.

Records go to ``wsproto.anyio.client``, ``wsproto.anyio.server`` and
``wsproto.anyio.connection``; each names its connection (``conn N PEER:``)
in its message and carries ``ws_connection_id``, ``ws_peer`` and
``ws_event`` as extra fields (docs/howto-logging.rst). The records an open
connection logs (pings, the close, limits) are tested in
test_logging_connection.py. Also here: examples/json_logging.py, run for real.
"""

from __future__ import annotations

import json
import logging
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import pytest
import trustme
from anyio.abc import ByteStream, SocketAttribute

from wsproto.anyio import (
    ConnectionClosed,
    ConnectionRejected,
    Endpoint,
    HandshakeError,
    WebSocketRequest,
    WebSocketServer,
    _log,
    open_websocket_url,
    serve_websocket,
)

from .helpers import tcp_listener

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
LOGGERS = ("wsproto.anyio.client", "wsproto.anyio.server", "wsproto.anyio.connection")


# Helpers


def ours(caplog: pytest.LogCaptureFixture, event: str | None = None) -> list[logging.LogRecord]:
    """The records of wsproto's loggers (of one ``ws_event``, if given)."""
    return [
        record
        for record in caplog.records
        if record.name.startswith("wsproto")
        and (event is None or getattr(record, "ws_event", None) == event)
    ]


def one(caplog: pytest.LogCaptureFixture, event: str) -> logging.LogRecord:
    found = ours(caplog, event)
    assert len(found) == 1, [record.getMessage() for record in ours(caplog)]
    return found[0]


def names(record: logging.LogRecord, conn_id: int, peer: str) -> None:
    """The record names its connection in its extra fields and in its message."""
    assert getattr(record, "ws_connection_id", None) == conn_id
    assert getattr(record, "ws_peer", None) == peer
    assert record.getMessage().startswith(f"conn {conn_id} {peer}: "), record.getMessage()


def address(endpoint: Endpoint | str | None) -> str:
    assert isinstance(endpoint, Endpoint)
    return f"{endpoint.address}:{endpoint.port}"


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


@asynccontextmanager
async def running(
    handler: Callable[[WebSocketRequest], Any], **options: Any
) -> AsyncIterator[WebSocketServer]:
    options.setdefault("ping_interval", None)
    async with anyio.create_task_group() as group:
        serve = partial(serve_websocket, handler, "127.0.0.1", 0, None, **options)
        server: WebSocketServer = await group.start(serve)
        yield server
        group.cancel_scope.cancel()


async def read_until_closed(stream: ByteStream) -> None:
    """Read until the server hangs up."""
    with anyio.fail_after(10):
        try:
            while True:
                await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            pass


def url(server: WebSocketServer, resource: str = "/") -> str:
    return f"ws://127.0.0.1:{server.port}{resource}"


# Silent by default


async def test_an_echo_and_a_close_log_nothing_at_info_or_above(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Not even INFO: an application that turns INFO on for its own records
    # must not get lines per connection from us.
    caplog.set_level(logging.INFO, logger="wsproto")
    async with running(echo) as server:
        async with open_websocket_url(url(server), ping_interval=None) as ws:
            await ws.send_message("hello")
            assert await ws.get_message() == "hello"
            await ws.ping()
            await ws.aclose(1000, "bye")
        async with open_websocket_url(url(server), ping_interval=None):
            pass
    assert ours(caplog) == []


def test_a_level_that_is_off_costs_only_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    # No peer text, no id, no record: nothing but isEnabledFor runs.
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("work done for a record nobody wants")

    monkeypatch.setattr(_log, "peer_text", fail)
    monkeypatch.setattr(_log, "new_id", fail)
    monkeypatch.setattr(_log, "_emit", fail)
    loggers = (_log.client_logger, _log.server_logger, _log.connection_logger)
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        peer = Endpoint("127.0.0.1", 1, False)
        error = RuntimeError("x")
        server = _log.server_logger
        _log.handshake_sent(1, peer, "/")
        _log.request_received(1, peer, "/")
        _log.handshake_accepted(server, 1, peer, "/", None)
        _log.handshake_rejected(server, 1, peer, 403)
        _log.handshake_failed(server, 1, peer, error)
        _log.handler_failed(1, peer, "/", error, "closing with 1011")
        _log.connection_failed(1, peer, error)
        _log.tls_failed(peer, error)
        _log.accept_failed(OSError(24, "Too many open files"), 0, 0.05)
        _log.limit(server, 1, peer, "max_connections", "full", status=503)
        _log.ping_sent(1, peer, b"p")
        _log.ping_received(1, peer, b"p")
        _log.pong_received(1, peer, b"p", 0.001)
        _log.close_sent(1, peer, 1000, None)
        _log.close_received(1, peer, 1000, None)
        _log.protocol_error(1, peer, 1002, "bad")
        _log.closed(1, peer, 1000, None)
        _log.task_failed(1, peer, error)
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def test_the_loggers_are_named_for_the_layer() -> None:
    assert _log.handshake_logger(client=True).name == "wsproto.anyio.client"
    assert _log.handshake_logger(client=False).name == "wsproto.anyio.server"
    assert _log.connection_logger.name == "wsproto.anyio.connection"
    # Children of wsproto.anyio: configuring that one configures the three.
    parent = logging.getLogger("wsproto.anyio")
    assert all(logging.getLogger(name).parent is parent for name in LOGGERS)


# The opening handshake at DEBUG


async def test_the_handshake_at_debug_names_the_connection_and_its_peer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with (
        running(echo) as server,
        open_websocket_url(url(server, "/chat?token=secret")) as ws,
    ):
        await ws.send_message("hello")
        assert await ws.get_message() == "hello"
        client_address = address(ws.local)
        server_address = f"127.0.0.1:{server.port}"

    # The client's records: on its logger, about the server.
    sent, opened = ours(caplog, "handshake_sent"), ours(caplog, "handshake_accepted")
    client_records = [r for r in sent + opened if r.name == "wsproto.anyio.client"]
    assert [r.ws_event for r in client_records] == ["handshake_sent", "handshake_accepted"]  # type: ignore[attr-defined]
    client_id = client_records[0].ws_connection_id  # type: ignore[attr-defined]
    assert isinstance(client_id, int)
    for record in client_records:
        assert record.levelno == logging.DEBUG
        names(record, client_id, server_address)
        assert record.ws_path == "/chat"  # type: ignore[attr-defined]
        assert record.filename == "_client.py"  # where it was logged, not _log.py
    assert client_records[1].getMessage() == (
        f"conn {client_id} {server_address}: open, /chat, subprotocol None"
    )

    # The server's: on its logger, about the client, with an id of their own.
    received = one(caplog, "request_received")
    accepted = [r for r in opened if r.name == "wsproto.anyio.server"]
    assert len(accepted) == 1
    server_id = received.ws_connection_id  # type: ignore[attr-defined]
    assert server_id != client_id
    for record in (received, accepted[0]):
        assert record.name == "wsproto.anyio.server"
        names(record, server_id, client_address)
        assert record.filename in ("_server.py", "_request.py")  # the server's, not _log.py
    assert received.getMessage() == f"conn {server_id} {client_address}: upgrade request for /chat"
    # The query string (tokens, often) is never logged.
    assert not [r for r in ours(caplog) if "secret" in r.getMessage()]


async def test_connection_ids_are_new_for_each_connection(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto.anyio.client")
    async with running(echo) as server:
        for _ in range(3):
            async with open_websocket_url(url(server)):
                pass
    ids = [r.ws_connection_id for r in ours(caplog, "handshake_sent")]  # type: ignore[attr-defined]
    assert len(ids) == 3
    assert ids == sorted(set(ids))


async def test_a_rejection_is_logged_by_both_sides(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    rejected = anyio.Event()

    async def refuse(request: WebSocketRequest) -> None:
        await request.reject(403, body=b"go away\n")
        rejected.set()

    async with running(refuse) as server:
        with pytest.raises(ConnectionRejected):
            async with open_websocket_url(url(server)):
                pytest.fail("rejected")  # pragma: no cover
        await rejected.wait()
    records = ours(caplog, "handshake_rejected")
    assert sorted(r.name for r in records) == ["wsproto.anyio.client", "wsproto.anyio.server"]
    for record in records:
        assert record.levelno == logging.DEBUG
        assert record.ws_status == 403  # type: ignore[attr-defined]
        assert record.getMessage().endswith(": handshake rejected with 403")
    assert ours(caplog, "handshake_accepted") == []


async def test_a_client_logs_a_broken_answer(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto.anyio.client")

    async def answer_wrongly(listener: Any) -> None:
        stream = await listener.accept()
        await stream.receive()
        await stream.send(
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Accept: wrong\r\n\r\n"
        )
        await stream.aclose()

    async with tcp_listener() as (listener, port), anyio.create_task_group() as group:
        group.start_soon(answer_wrongly, listener)
        with pytest.raises(HandshakeError):
            async with open_websocket_url(f"ws://127.0.0.1:{port}/"):
                pytest.fail("the answer is wrong")  # pragma: no cover
    record = one(caplog, "handshake_failed")
    names(record, record.ws_connection_id, f"127.0.0.1:{port}")  # type: ignore[attr-defined]
    assert "handshake failed: " in record.getMessage()
    assert record.exc_info is None  # the peer's doing: no traceback


# Errors: once, at ERROR, with the traceback


@pytest.mark.parametrize("accepted", [True, False], ids=["after-accept", "before-accept"])
async def test_a_handler_error_is_logged_once_with_its_traceback(
    accepted: bool, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")

    async def broken(request: WebSocketRequest) -> None:
        if accepted:
            ws = await request.accept()
            await ws.get_message()
        raise RuntimeError("handler bug")

    async with running(broken) as server:
        if accepted:
            async with open_websocket_url(url(server, "/boom?x=1")) as ws:
                client_address = address(ws.local)
                await ws.send_message("go")
                with pytest.raises(ConnectionClosed) as info:
                    await ws.get_message()
                assert info.value.reason is not None
                assert info.value.reason.code == 1011
        else:
            with pytest.raises(ConnectionRejected) as rejected:
                async with open_websocket_url(url(server, "/boom?x=1")):
                    pytest.fail("rejected")  # pragma: no cover
            assert rejected.value.status_code == 500
            client_address = None
    problems = [r for r in ours(caplog) if r.levelno >= logging.WARNING]
    assert len(problems) == 1, [r.getMessage() for r in problems]
    record = problems[0]
    assert record.levelno == logging.ERROR
    assert record.name == "wsproto.anyio.server"
    assert record.ws_event == "handler_failed"  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    server_id = one(caplog, "request_received").ws_connection_id  # type: ignore[attr-defined]
    if client_address is not None:
        names(record, server_id, client_address)
    message = record.getMessage()
    assert "handler for /boom raised RuntimeError('handler bug'); " in message
    assert message.endswith("closing with 1011" if accepted else "answering 500")


# Limits a server enforces before a connection opens


async def test_max_connections_is_logged_as_a_limit(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto.anyio.server")
    async with running(echo, max_connections=1) as server, open_websocket_url(url(server)):
        with pytest.raises(ConnectionRejected):
            async with open_websocket_url(url(server)):
                pytest.fail("over the limit")  # pragma: no cover
    record = one(caplog, "limit")
    assert record.ws_limit == "max_connections"  # type: ignore[attr-defined]
    assert record.ws_status == 503  # type: ignore[attr-defined]
    assert record.ws_close_code is None  # type: ignore[attr-defined]
    assert record.getMessage().endswith(": max_connections: 1 connections open; answered 503")


async def test_the_handshake_timeout_is_logged_as_a_limit(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto.anyio.server")
    async with (
        running(echo, handshake_timeout=0.1) as server,
        await anyio.connect_tcp("127.0.0.1", server.port) as silent,
    ):
        local = silent.extra(SocketAttribute.local_address)
        await read_until_closed(silent)
    record = one(caplog, "limit")
    assert record.ws_limit == "handshake_timeout"  # type: ignore[attr-defined]
    names(record, record.ws_connection_id, f"{local[0]}:{local[1]}")  # type: ignore[attr-defined]
    assert "no upgrade request within 0.1 s" in record.getMessage()


# A failed TLS handshake: the client's business, DEBUG, on both backends


@pytest.fixture(scope="module")
def server_context() -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    return context


async def test_a_failed_tls_handshake_is_logged_at_debug(
    server_context: ssl.SSLContext, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    async with anyio.create_task_group() as group:
        serve = partial(serve_websocket, echo, "127.0.0.1", 0, server_context)
        server: WebSocketServer = await group.start(serve)
        async with await anyio.connect_tcp("127.0.0.1", server.port) as plain:
            local = plain.extra(SocketAttribute.local_address)
            await plain.send(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")  # not TLS
            await read_until_closed(plain)
        group.cancel_scope.cancel()
    records = ours(caplog)
    assert [r.ws_event for r in records] == ["tls_failed"]  # type: ignore[attr-defined]
    record = records[0]
    assert record.levelno == logging.DEBUG
    assert record.name == "wsproto.anyio.server"
    assert record.exc_info is None
    names(record, record.ws_connection_id, f"{local[0]}:{local[1]}")  # type: ignore[attr-defined]
    assert "TLS handshake failed: " in record.getMessage()


# Each function's record


def test_peers_as_records_show_them() -> None:
    assert _log.peer_text(Endpoint("127.0.0.1", 8000, False)) == "127.0.0.1:8000"
    assert _log.peer_text(Endpoint("::1", 8000, True)) == "[::1]:8000"
    assert _log.peer_text("/run/ws.sock") == "unix:/run/ws.sock"
    assert _log.peer_text("") == "unix"  # a client's unnamed Unix socket
    assert _log.peer_text(None) is None


def test_a_connection_without_an_address_is_named_by_its_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    _log.close_received(7, None, 1000, "bye")
    record = one(caplog, "close_received")
    assert record.getMessage() == "conn 7: close received 1000 'bye'"
    assert record.ws_peer is None  # type: ignore[attr-defined]
    assert record.ws_close_code == 1000  # type: ignore[attr-defined]


EVENTS: list[tuple[str, Callable[[Endpoint], None], str, int, str, dict[str, object]]] = [
    (
        "ping_sent",
        lambda peer: _log.ping_sent(3, peer, b"\x01\x02\x03\x04"),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "ping sent 01020304",
        {},
    ),
    (
        "ping_received",
        lambda peer: _log.ping_received(3, peer, b"x" * 20),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "ping received 78787878787878787878787878787878... (20 bytes)",
        {},
    ),
    (
        "pong_received",
        lambda peer: _log.pong_received(3, peer, b"", 0.0123),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "pong received (empty), latency 12.3 ms",
        {"ws_latency": 0.0123},
    ),
    (
        "pong_received",
        lambda peer: _log.pong_received(3, peer, b"\xff", None),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "pong received ff, answering no ping",
        {},
    ),
    (
        "close_sent",
        lambda peer: _log.close_sent(3, peer, 1001, None),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "close sent 1001",
        {"ws_close_code": 1001},
    ),
    (
        "protocol_error",
        lambda peer: _log.protocol_error(3, peer, 1007, "invalid UTF-8"),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "protocol error, failing with 1007 'invalid UTF-8'",
        {"ws_close_code": 1007},
    ),
    (
        "closed",
        lambda peer: _log.closed(3, peer, 1006, None),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "closed 1006",
        {"ws_close_code": 1006},
    ),
    (
        "limit",
        lambda peer: _log.limit(
            _log.connection_logger, 3, peer, "max_message_size", "over 1000 bytes", close_code=1009
        ),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "max_message_size: over 1000 bytes; closing with 1009",
        {"ws_limit": "max_message_size", "ws_close_code": 1009, "ws_status": None},
    ),
    (
        "limit",
        lambda peer: _log.limit(
            _log.connection_logger, 3, peer, "disconnect_timeout", "over %s s (%d%%)", 60.0, 100
        ),
        "wsproto.anyio.connection",
        logging.DEBUG,
        "disconnect_timeout: over 60.0 s (100%)",
        {"ws_limit": "disconnect_timeout", "ws_close_code": None, "ws_status": None},
    ),
    (
        "handshake_failed",
        lambda peer: _log.handshake_failed(_log.server_logger, 3, peer, "bad request"),
        "wsproto.anyio.server",
        logging.DEBUG,
        "handshake failed: bad request",
        {},
    ),
    (
        "connection_failed",
        lambda peer: _log.connection_failed(3, peer, RuntimeError("bug")),
        "wsproto.anyio.server",
        logging.ERROR,
        "serving the connection failed: RuntimeError('bug')",
        {},
    ),
    (
        "task_failed",
        lambda peer: _log.task_failed(3, peer, RuntimeError("bug")),
        "wsproto.anyio.connection",
        logging.ERROR,
        "connection task failed: RuntimeError('bug')",
        {},
    ),
]


@pytest.mark.parametrize(
    ("event", "log", "logger", "level", "text", "fields"),
    EVENTS,
    ids=[f"{event}-{n}" for n, (event, *_) in enumerate(EVENTS)],
)
def test_each_event_has_its_record(
    event: str,
    log: Callable[[Endpoint], None],
    logger: str,
    level: int,
    text: str,
    fields: dict[str, object],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="wsproto")
    log(Endpoint("10.0.0.1", 4242, False))
    record = one(caplog, event)
    assert record.name == logger
    assert record.levelno == level
    assert record.getMessage() == f"conn 3 10.0.0.1:4242: {text}"
    names(record, 3, "10.0.0.1:4242")
    for name, value in fields.items():
        assert getattr(record, name) == value
    assert record.filename == "test_logging.py"  # the caller's line, not _log.py's
    if level == logging.ERROR:
        assert record.exc_info is not None


def test_accept_failures_are_about_the_server(caplog: pytest.LogCaptureFixture) -> None:
    _log.accept_failed(OSError(24, "Too many open files"), 3, 0.4)
    record = one(caplog, "accept_failed")
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "accept() failed: [Errno 24] Too many open files (3 more since the last warning);"
        " retrying in 0.40 s"
    )
    assert not hasattr(record, "ws_connection_id")


# examples/json_logging.py, run for real


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_the_json_logging_example(backend: str) -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "json_logging.py"), "--backend", backend],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    assert lines, "no logs"
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    for record in records:
        assert set(record) >= {"time", "level", "logger", "message", "ws_event"}, record
        assert record["logger"].startswith("wsproto.anyio."), record
        if "ws_connection_id" in record:
            assert record["message"].startswith(f"conn {record['ws_connection_id']} "), record
    events = {(record["logger"], record["ws_event"]) for record in records}
    assert ("wsproto.anyio.client", "handshake_accepted") in events
    assert ("wsproto.anyio.server", "request_received") in events
    assert ("wsproto.anyio.server", "handshake_accepted") in events
    # The server's handler raised on purpose: one ERROR, its traceback in the JSON.
    errors = [record for record in records if record["level"] == "ERROR"]
    assert len(errors) == 1
    assert errors[0]["ws_event"] == "handler_failed"
    assert "RuntimeError: " in errors[0]["exc_info"]
    # What the example printed: the echo it got back.
    assert result.stdout.splitlines() == ["client: got 'hello'", "client: /fail refused with 500"]
