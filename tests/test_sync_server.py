"""wsproto.sync.serve: the blocking server on both backends, with our client and websockets'."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from websockets.sync.client import connect as websockets_connect

from tests.blocking_peers import BACKENDS
from wsproto.anyio import CloseReason, ConnectionClosed
from wsproto.sync import ServerConnection, connect, serve


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) - before == set()


def echo(ws: ServerConnection) -> None:
    for message in ws:
        ws.send(message)


def test_echo_with_our_client_and_websockets(backend: str) -> None:
    with serve(echo, "127.0.0.1", 0, backend=backend) as server:
        url = f"ws://127.0.0.1:{server.port}/"
        for client_backend in BACKENDS:
            with connect(url, backend=client_backend) as ws:
                ws.send("héllo")
                assert ws.recv(timeout=30) == "héllo"
                ws.send(b"\x00\xff")
                assert ws.recv(timeout=30) == b"\x00\xff"
                assert ws.ping(timeout=30) >= 0
        with websockets_connect(url) as theirs:
            theirs.send("from websockets")
            assert theirs.recv(timeout=30) == "from websockets"


def test_handler_sees_the_request_and_its_close_is_the_clients(backend: str) -> None:
    seen: list[object] = []

    def handler(ws: ServerConnection) -> None:
        seen.append(ws.path)
        seen.append(dict(ws.request_headers).get(b"x-token"))
        seen.append(ws.subprotocol)
        ws.send("welcome")
        ws.close(4000, "bye")
        seen.append(ws.closed)

    with (
        serve(handler, "127.0.0.1", 0, backend=backend, subprotocols=["chat"]) as server,
        connect(
            f"ws://127.0.0.1:{server.port}/room?x=1",
            extra_headers={"X-Token": "secret"},
            subprotocols=["chat"],
        ) as ws,
    ):
        received = [ws.recv(timeout=30)]
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
    assert received == ["welcome"]
    assert info.value.reason == CloseReason(4000, "bye")
    assert seen == ["/room?x=1", b"secret", "chat", CloseReason(4000, "bye")]


def test_shutdown_closes_connections_with_1001_and_ends_the_handlers(backend: str) -> None:
    handler_ended = threading.Event()
    connected = threading.Event()

    def handler(ws: ServerConnection) -> None:
        connected.set()
        try:
            ws.recv()  # blocks until the shutdown closes the connection
        finally:
            handler_ended.set()

    server = serve(handler, "127.0.0.1", 0, backend=backend)
    with connect(f"ws://127.0.0.1:{server.port}/", backend=backend) as ws:
        connected.wait(timeout=30)
        server.shutdown()
        # shutdown() returned: the handler has ended.
        assert handler_ended.is_set()
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
        assert info.value.reason is not None
        assert info.value.reason.code == 1001
    server.shutdown()  # again: nothing to do
    server.serve_forever()  # returns at once once shut down


def test_serve_forever_returns_after_shutdown_from_another_thread(backend: str) -> None:
    server = serve(echo, "127.0.0.1", 0, backend=backend)
    stopper = threading.Thread(target=server.shutdown)
    stopper.start()
    server.serve_forever()
    stopper.join()


def test_a_failing_handler_closes_with_1011_and_is_logged(
    backend: str, caplog: pytest.LogCaptureFixture
) -> None:
    def handler(ws: ServerConnection) -> None:
        raise RuntimeError("broken handler")

    with (
        caplog.at_level(logging.ERROR, logger="wsproto.sync"),
        serve(handler, "127.0.0.1", 0, backend=backend) as server,
        connect(f"ws://127.0.0.1:{server.port}/", backend=backend) as ws,
    ):
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
        assert info.value.reason == CloseReason(1011, "handler failed")
    assert "the handler of a WebSocket connection failed" in caplog.text
    assert "broken handler" in caplog.text


def test_a_taken_port_raises_and_leaves_no_thread(backend: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(OSError):  # noqa: PT011 (the message is the OS's)
            serve(echo, "127.0.0.1", port, backend=backend)


def test_a_handler_may_shut_the_server_down(backend: str) -> None:
    handler_threads: list[threading.Thread] = []

    def handler(ws: ServerConnection) -> None:
        handler_threads.append(threading.current_thread())
        if ws.recv() == "stop":
            server.shutdown()

    server = serve(handler, "127.0.0.1", 0, backend=backend)
    with connect(f"ws://127.0.0.1:{server.port}/", backend=backend) as ws:
        ws.send("stop")
        server.serve_forever()  # returns once the handler has shut the server down
        with pytest.raises(ConnectionClosed) as info:
            ws.recv(timeout=30)
        assert info.value.reason is not None
        assert info.value.reason.code == 1001
    # shutdown() did not wait for the thread that called it: it ends on its own.
    handler_threads[0].join(timeout=30)
