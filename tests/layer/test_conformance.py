"""Autobahn|Testsuite findings about the layer, reproduced without the suite.

The peer here is a raw TCP socket driven by the core, so the test controls
exactly which bytes arrive together.
"""

from __future__ import annotations

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream

from tests.frames import client_frame, server_frame
from wsproto import ConnectionType, WSConnection
from wsproto.anyio import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Event,
    Request,
    TextMessage,
)
from wsproto.frame_protocol import Opcode

pytestmark = pytest.mark.anyio


async def echo(ws: WebSocketConnection) -> None:
    try:
        while True:
            await ws.send_message(await ws.get_message())
    except ConnectionClosed:
        pass


async def read_events(
    stream: SocketStream, ws: WSConnection, until: type[Event] = CloseConnection
) -> list[Event]:
    """What ``ws`` makes of what is received, up to an ``until`` event or the end."""
    events: list[Event] = []
    while True:
        try:
            data: bytes | None = await stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            data = None
        ws.receive_data(data)
        events.extend(ws.events())
        if data is None or any(isinstance(event, until) for event in events):
            return events


def echo_then_1002(events: list[Event]) -> None:
    assert [type(event) for event in events] == [TextMessage, CloseConnection]
    assert isinstance(events[0], TextMessage)
    assert events[0].data == "Hello"
    assert isinstance(events[1], CloseConnection)
    assert events[1].code == 1002


async def test_server_echoes_a_message_followed_by_a_bad_frame() -> None:
    """Autobahn 3.2 (server role): text, a frame with RSV2 set, a ping, in one write."""

    async def handler(request: WebSocketRequest) -> None:
        await echo(await request.accept())

    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, handler, "127.0.0.1", 0, None)
        ws = WSConnection(ConnectionType.CLIENT)
        async with await anyio.connect_tcp("127.0.0.1", server.port) as stream:
            await stream.send(ws.send(Request(host="127.0.0.1", target="/")))
            accepted = await read_events(stream, ws, AcceptConnection)
            assert [type(event) for event in accepted] == [AcceptConnection]
            await stream.send(
                client_frame(Opcode.TEXT, b"Hello")
                + client_frame(Opcode.TEXT, b"Hello", rsv=2)
                + client_frame(Opcode.PING)
            )
            echo_then_1002(await read_events(stream, ws))
        group.cancel_scope.cancel()


async def test_client_echoes_a_message_followed_by_a_bad_frame() -> None:
    """Autobahn 3.2 (client role): the handshake answer and the frames in one write."""
    received: list[Event] = []

    async def raw_server(stream: SocketStream) -> None:
        async with stream:
            ws = WSConnection(ConnectionType.SERVER)
            request = await read_events(stream, ws, Request)
            assert [type(event) for event in request] == [Request]
            await stream.send(
                ws.send(AcceptConnection())
                + server_frame(Opcode.TEXT, b"Hello")
                + server_frame(Opcode.TEXT, b"Hello", rsv=2)
                + server_frame(Opcode.PING)
            )
            received.extend(await read_events(stream, ws))

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, raw_server)
        url = f"ws://127.0.0.1:{listener.extra(SocketAttribute.local_port)}/"
        async with open_websocket_url(url, ping_interval=None) as ws:
            await echo(ws)
        group.cancel_scope.cancel()
    echo_then_1002(received)
