"""What programs written for trio-websocket 0.12 rely on: misuse errors, server listeners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
import trio

from wsproto.anyio import (
    Endpoint,
    WebSocketRequest,
    WebSocketServer,
    connect_websocket,
    open_websocket_url,
    wrap_client_stream,
)

from .helpers import client_with_peer, echo

pytestmark = pytest.mark.anyio

trio_only = pytest.mark.parametrize("anyio_backend", [pytest.param(("trio", {}), id="trio")])


@pytest.mark.parametrize("message", [123, None, {"a": "b"}, {"a", "b"}, 1.5])
async def test_a_message_of_the_wrong_type_is_a_value_error(message: Any) -> None:
    async with client_with_peer("memory") as (ws, peer, _):
        with pytest.raises(ValueError, match="message must be str or bytes"):
            await ws.send_message(message)
        assert ws.closed is None  # nothing was sent: the connection goes on
        await ws.send_message("fine")
        assert await peer.receive_message() == ("fine", 1)


async def test_use_ssl_of_the_wrong_type_is_a_type_error() -> None:
    async with anyio.create_task_group() as group:
        with pytest.raises(TypeError, match=r"use_ssl must be a bool or an ssl\.SSLContext"):
            await connect_websocket(group, "127.0.0.1", 1, "/", use_ssl="yes")  # type: ignore[arg-type]


async def test_a_url_of_the_wrong_scheme_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="scheme must be ws or wss"):
        async with open_websocket_url("http://127.0.0.1/"):
            pass  # pragma: no cover


@trio_only
async def test_trio_unix_listener_is_listed_by_path_and_has_no_port(tmp_path: Path) -> None:
    path = str(tmp_path / "ws.sock")
    sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    await sock.bind(path)
    sock.listen()
    listener = trio.SocketListener(sock)
    server = WebSocketServer(echo, [listener])
    assert server.listeners == [path]
    with pytest.raises(RuntimeError, match="not on one TCP port"):
        server.port  # noqa: B018
    async with trio.open_nursery() as nursery:
        await nursery.start(server.run)
        stream = await trio.open_unix_socket(path)
        ws = await wrap_client_stream(nursery, stream, "localhost", "/unix")
        await ws.send_message("over unix")
        assert await ws.get_message() == "over unix"
        await ws.aclose()
        nursery.cancel_scope.cancel()


async def test_a_tcp_and_a_unix_listener(tmp_path: Path) -> None:
    # Several listeners, one of them TCP: the port is the TCP one's (trio-websocket
    # refuses any port with several listeners; this is a superset of it).
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    unix = await anyio.create_unix_listener(tmp_path / "ws.sock")
    port = tcp.extra(anyio.abc.SocketAttribute.local_port)

    async def handler(request: WebSocketRequest) -> None:
        await echo(request)

    server = WebSocketServer(handler, [tcp, unix])
    assert server.listeners == [Endpoint("127.0.0.1", port, False), str(tmp_path / "ws.sock")]
    assert server.port == port
    async with anyio.create_task_group() as group:
        await group.start(server.run)
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send_message("tcp")
            assert await ws.get_message() == "tcp"
        group.cancel_scope.cancel()
