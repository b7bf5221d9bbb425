"""wsproto.sync: the blocking client, against our server (both backends) and websockets'.

The client runs on either backend too; every test checks that the client's
background thread is gone once the connection is closed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.blocking_peers import BACKENDS, websockets_server, wsproto_server
from wsproto.anyio import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    Endpoint,
    WebSocketRequest,
)
from wsproto.sync import ClientConnection, connect


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The client's backend."""
    value: str = request.param
    return value


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    assert set(threading.enumerate()) - before == set()


PEERS = ["wsproto-asyncio", "wsproto-trio", "websockets"]


@contextmanager
def echo_server(peer: str) -> Iterator[int]:
    if peer == "websockets":
        with websockets_server() as server:
            yield server.port
    else:
        with wsproto_server(backend=peer.removeprefix("wsproto-")) as port:
            yield port


@pytest.mark.parametrize("peer", PEERS)
def test_echo_text_binary_ping_and_close(peer: str, backend: str) -> None:
    with echo_server(peer) as port:
        before = set(threading.enumerate())
        with connect(f"ws://127.0.0.1:{port}/path?q=1", backend=backend) as ws:
            assert isinstance(ws, ClientConnection)
            # The connection's event loop runs in one more thread, while it is open.
            assert len(set(threading.enumerate()) - before) == 1
            assert ws.path == "/path?q=1"
            assert ws.remote == Endpoint("127.0.0.1", port, False)
            assert ws.closed is None
            assert ws.close_code is None
            ws.send("héllo")
            assert ws.recv(timeout=30) == "héllo"
            ws.send(b"\x00\x01\xff")
            assert ws.recv() == b"\x00\x01\xff"
            big = "x" * 300_000
            ws.send(big)
            assert ws.recv() == big
            assert ws.ping(timeout=30) >= 0.0
            assert ws.ping(b"mine") >= 0.0
        assert set(threading.enumerate()) == before
        assert ws.closed == CloseReason(1000, None)
        assert ws.close_code == 1000
        assert ws.close_reason is None
        # Closed: every operation says so; closing again does nothing.
        with pytest.raises(ConnectionClosed):
            ws.send("again")
        with pytest.raises(ConnectionClosed):
            ws.recv()
        ws.close()


def test_recv_timeout_raises_timeout_error(backend: str) -> None:
    async def on_request(request: WebSocketRequest) -> None:
        ws = await request.accept()
        # One reply per "more": nothing else arrives while the client waits.
        async for message in ws:
            if message == "more":
                await ws.send_message("reply")

    with (
        wsproto_server(on_request, backend) as port,
        connect(f"ws://127.0.0.1:{port}/", backend=backend) as ws,
    ):
        ws.send("more")
        assert ws.recv() == "reply"
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0)
        with pytest.raises(TimeoutError):
            ws.recv(timeout=0.01)
        # The connection is still usable after a timeout.
        ws.send("more")
        assert ws.recv(timeout=30) == "reply"


async def three_then_close(request: WebSocketRequest) -> None:
    """Send three messages, wait for the client's "ok", then close as the path says."""
    ws = await request.accept()
    messages: list[str | bytes] = ["one", b"two", "three"]
    for message in messages:
        await ws.send_message(message)
    assert await ws.get_message() == "ok"
    code = int((request.path or "/1000").strip("/"))
    await ws.aclose(code, "done")


def test_iteration_ends_on_a_normal_close(backend: str) -> None:
    with (
        wsproto_server(three_then_close, backend) as port,
        connect(f"ws://127.0.0.1:{port}/1000", backend=backend) as ws,
    ):
        received = []
        for message in ws:
            received.append(message)
            if len(received) == 3:
                ws.send("ok")
        assert received == ["one", b"two", "three"]
        assert ws.closed == CloseReason(1000, "done")
        assert ws.close_reason == "done"


def test_iteration_raises_on_an_abnormal_close(backend: str) -> None:
    with (
        wsproto_server(three_then_close, backend) as port,
        connect(f"ws://127.0.0.1:{port}/1011", backend=backend) as ws,
    ):
        received: list[str | bytes] = []

        def receive_all() -> None:
            for message in ws:
                received.append(message)
                if len(received) == 3:
                    ws.send("ok")

        with pytest.raises(ConnectionClosed) as info:
            receive_all()
        assert received == ["one", b"two", "three"]
        assert info.value.reason == CloseReason(1011, "done")


def test_websockets_server_sees_close_code_reason_headers_and_subprotocol(backend: str) -> None:
    with websockets_server("chat") as server:
        with connect(
            f"ws://127.0.0.1:{server.port}/sub",
            backend=backend,
            extra_headers={"X-Token": "secret"},
            subprotocols=["other", "chat"],
        ) as ws:
            assert ws.subprotocol == "chat"
            assert b"server" in [name.lower() for name, _ in ws.handshake_headers]
            ws.close(4000, "bye")
            assert ws.close_code == 4000
        assert server.read_until("closed") == [
            "open /sub x-token=secret subprotocol=chat deflate=True",
            "closed 4000 bye",
        ]


def test_close_from_another_thread_wakes_a_blocked_recv(backend: str) -> None:
    errors: list[BaseException] = []

    with wsproto_server(backend=backend) as port:
        ws = connect(f"ws://127.0.0.1:{port}/", backend=backend)

        def receive() -> None:
            try:
                ws.recv()
            except BaseException as exc:
                errors.append(exc)

        receiver = threading.Thread(target=receive)
        receiver.start()
        # Whether recv() is already blocked or not yet called, close() ends it.
        ws.close()
        receiver.join()
    assert len(errors) == 1
    assert isinstance(errors[0], ConnectionClosed)


def test_several_threads_send_at_once(backend: str) -> None:
    threads_count, per_thread = 4, 25
    with (
        wsproto_server(backend=backend) as port,
        connect(f"ws://127.0.0.1:{port}/", backend=backend) as ws,
    ):

        def send(n: int) -> None:
            for i in range(per_thread):
                ws.send(f"{n}:{i}")

        senders = [threading.Thread(target=send, args=(n,)) for n in range(threads_count)]
        for thread in senders:
            thread.start()
        received = [ws.recv(timeout=30) for _ in range(threads_count * per_thread)]
        for thread in senders:
            thread.join()
    assert sorted(received) == sorted(f"{n}:{i}" for n in range(4) for i in range(per_thread))
    # Each thread's messages arrive in the order that thread sent them.
    for n in range(threads_count):
        assert [m for m in received if str(m).startswith(f"{n}:")] == [
            f"{n}:{i}" for i in range(per_thread)
        ]


def test_rejection_raises_and_leaves_no_thread(backend: str) -> None:
    async def reject(request: WebSocketRequest) -> None:
        await request.reject(403, body=b"go away")

    with wsproto_server(reject, backend) as port, pytest.raises(ConnectionRejected) as info:
        connect(f"ws://127.0.0.1:{port}/", backend=backend)
    assert info.value.status_code == 403
    assert info.value.body == b"go away"


def test_refused_connection_raises_oserror(backend: str, unused_port: int) -> None:
    with pytest.raises(OSError):  # noqa: PT011 (the message is the OS's)
        connect(f"ws://127.0.0.1:{unused_port}/", backend=backend)


def test_bad_url_raises_value_error() -> None:
    with pytest.raises(ValueError, match="scheme"):
        connect("http://127.0.0.1/")


@pytest.fixture
def unused_port() -> int:
    """A port of 127.0.0.1 that nobody listens on."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
