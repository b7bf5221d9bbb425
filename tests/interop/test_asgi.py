"""ASGI servers running on our core, talked to by our client, on both backends.

examples/asgi_app.py is served by uvicorn (``--ws wsproto``: its wsproto-based
WebSocket protocol) and by hypercorn (on its asyncio and on its trio worker),
each in a subprocess on 127.0.0.1 that checks it imported this project's
wsproto. Our client exchanges messages with each (echo, pings, permessage-
deflate negotiated through the core's extension handshake), closes with a
code the app sees, receives the app's close code and reason, and is refused
by the app. websockets' blocking client does the same against each, so our
core also serves another implementation's client there.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import anyio
import pytest
from websockets.exceptions import ConnectionClosed as PeerClosed
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect as sync_connect

from wsproto.anyio import (
    ConnectionClosed,
    ConnectionRejected,
    open_websocket_url,
    wrap_client_stream,
)

from .conftest import PEER_TIMEOUT
from .ours import LARGE, LIMITS, MAX_SIZE, MESSAGES
from .processes import EXAMPLES, PeerProcess
from .wire import CountingStream

pytestmark = pytest.mark.anyio

# What each server runs (``python -m`` module and arguments), and the line it
# prints once it listens, with the port.
SERVERS = {
    "uvicorn": (
        ["uvicorn", "--ws", "wsproto", "--host", "127.0.0.1", "--port", "0", "asgi_app:app"],
        r"Uvicorn running on http://127\.0\.0\.1:(\d+)",
    ),
    "hypercorn": (
        ["hypercorn", "--worker-class", "asyncio", "--bind", "127.0.0.1:0", "asgi_app:app"],
        r"Running on http://127\.0\.0\.1:(\d+)",
    ),
    "hypercorn-trio": (
        ["hypercorn", "--worker-class", "trio", "--bind", "127.0.0.1:0", "asgi_app:app"],
        r"Running on http://127\.0\.0\.1:(\d+)",
    ),
}


@dataclass
class AsgiServer:
    name: str
    process: PeerProcess
    url: str


@pytest.fixture(scope="module", params=list(SERVERS))
def asgi_server(request: pytest.FixtureRequest) -> Iterator[AsgiServer]:
    """examples/asgi_app.py served on a free port, one server for the module."""
    args, listening = SERVERS[request.param]
    process = PeerProcess.python_module(*args, cwd=EXAMPLES)
    try:
        process.check_our_core()
        port = int(process.wait_for(listening)[1])
        yield AsgiServer(request.param, process, f"ws://127.0.0.1:{port}")
    finally:
        process.stop()


async def test_echo_and_ping(asgi_server: AsgiServer) -> None:
    async with open_websocket_url(asgi_server.url + "/echo", **LIMITS) as ws:
        for message in MESSAGES:
            await ws.send_message(message)
            assert await ws.get_message() == message
        await ws.ping(b"from wsproto")


async def test_deflate_on_the_wire(asgi_server: AsgiServer) -> None:
    """Both servers negotiate permessage-deflate through our core: 1 MiB of text goes small."""
    message = MESSAGES[3]
    port = int(asgi_server.url.rsplit(":", 1)[1])
    async with anyio.create_task_group() as group:
        stream = CountingStream(await anyio.connect_tcp("127.0.0.1", port))
        ws = await wrap_client_stream(group, stream, f"127.0.0.1:{port}", "/echo", **LIMITS)
        await ws.send_message(message)
        assert await ws.get_message() == message
        await ws.aclose()
        group.cancel_scope.cancel()
    assert 0 < stream.sent < LARGE // 50
    assert 0 < stream.received < LARGE // 50


async def test_client_close_code_reaches_the_app(
    asgi_server: AsgiServer, anyio_backend_name: str
) -> None:
    start = asgi_server.process.mark()
    async with open_websocket_url(asgi_server.url + "/echo", **LIMITS) as ws:
        await ws.send_message("hi")
        assert await ws.get_message() == "hi"
        await ws.aclose(4002, f"bye from {anyio_backend_name}")
    assert ws.closed is not None
    assert (ws.closed.code, ws.closed.reason) == (4002, f"bye from {anyio_backend_name}")
    line = await asgi_server.process.await_line(r"asgi: /echo closed by the client with .*", start)
    if asgi_server.name == "uvicorn":
        assert line[0].endswith(f"with 4002 'bye from {anyio_backend_name}'")
    else:
        # hypercorn (0.18) answers the close frame through the core, then tells
        # the app 1006 for any close the client starts: it derives the code
        # from its own ASGI state, not from the frame (the same on wsproto 1.x).
        assert line[0].endswith("with 1006")


async def test_client_message_limit(asgi_server: AsgiServer) -> None:
    """An echo over our max_message_size: we close with 1009, and the server answers."""
    start = asgi_server.process.mark()
    async with open_websocket_url(asgi_server.url + "/echo", max_message_size=100) as ws:
        await ws.send_message("y" * 101)
        with pytest.raises(ConnectionClosed) as raised:
            await ws.get_message()
    assert raised.value.reason is not None
    assert raised.value.reason.code == 1009
    line = await asgi_server.process.await_line(r"asgi: /echo closed by the client with .*", start)
    if asgi_server.name == "uvicorn":
        assert "closed by the client with 1009 '" in line[0]  # and our reason
    else:
        assert line[0].endswith("with 1006")  # hypercorn, as above


@pytest.mark.parametrize("code", [1000, 1001, 4001])
async def test_app_close_code_and_reason(asgi_server: AsgiServer, code: int) -> None:
    async with open_websocket_url(f"{asgi_server.url}/close/{code}", **LIMITS) as ws:
        with pytest.raises(ConnectionClosed) as raised:
            await ws.get_message()
    assert raised.value.reason is not None
    assert (raised.value.reason.code, raised.value.reason.reason) == (code, "goodbye")
    assert ws.closed == raised.value.reason


async def test_app_rejects_with_a_response_of_its_own(asgi_server: AsgiServer) -> None:
    with pytest.raises(ConnectionRejected) as raised:
        async with open_websocket_url(asgi_server.url + "/reject", **LIMITS):
            pytest.fail("the app accepted")
    assert raised.value.status_code == 403
    assert raised.value.body == b"no WebSocket for you here\n"
    assert (b"content-type", b"text/plain") in raised.value.headers


async def test_app_closes_before_accepting(asgi_server: AsgiServer) -> None:
    with pytest.raises(ConnectionRejected) as raised:
        async with open_websocket_url(asgi_server.url + "/nowhere", **LIMITS):
            pytest.fail("the app accepted")
    assert raised.value.status_code == 403


def test_websockets_client_against_the_asgi_server(asgi_server: AsgiServer) -> None:
    """Our core serving another implementation's client: websockets' blocking client.

    A plain test (no event loop of ours), so it runs once per server.
    """
    with sync_connect(asgi_server.url + "/echo", max_size=MAX_SIZE) as ws:
        for message in MESSAGES:
            ws.send(message)
            assert ws.recv() == message
        # The core inflates websockets' deflated messages and deflates its own.
        assert ws.protocol.extensions[0].name == "permessage-deflate"
        assert ws.ping(b"from websockets").wait(PEER_TIMEOUT)
    with sync_connect(asgi_server.url + "/close/4005") as ws, pytest.raises(PeerClosed):
        ws.recv()
    assert (ws.close_code, ws.close_reason) == (4005, "goodbye")
    with pytest.raises(InvalidStatus) as raised:
        sync_connect(asgi_server.url + "/reject")
    assert raised.value.response.status_code == 403
    assert raised.value.response.body == b"no WebSocket for you here\n"


async def test_uvicorn_shutdown_closes_with_1012() -> None:
    """A uvicorn restart (SIGTERM) closes open connections with 1012, through our core."""
    args, listening = SERVERS["uvicorn"]
    process = PeerProcess.python_module(*args, cwd=EXAMPLES)
    try:
        port = int((await process.await_line(listening))[1])
        async with open_websocket_url(f"ws://127.0.0.1:{port}/echo", **LIMITS) as ws:
            await ws.send_message("hi")
            assert await ws.get_message() == "hi"
            process.popen.terminate()
            with pytest.raises(ConnectionClosed) as raised:
                await ws.get_message()
        assert raised.value.reason is not None
        assert raised.value.reason.code == 1012
        await process.await_line(r"Finished server process")
    finally:
        await anyio.to_thread.run_sync(process.stop)
