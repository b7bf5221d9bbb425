"""WebSocket client and server on anyio: one code path for asyncio and trio.

The public names follow trio-websocket, so a trio-websocket program moves here
by changing its import; the same program also runs on asyncio::

    from wsproto.anyio import open_websocket_url

    async def main():
        async with open_websocket_url("ws://127.0.0.1:8000/echo") as ws:
            await ws.send_message("hello")
            print(await ws.get_message())

    anyio.run(main)                    # asyncio
    anyio.run(main, backend="trio")    # trio
"""

from ._client import (
    connect_websocket,
    connect_websocket_url,
    open_websocket,
    open_websocket_url,
    wrap_client_stream,
)
from ._connection import WebSocketConnection
from ._errors import (
    CloseReason,
    ConnectionClosed,
    ConnectionRejected,
    ConnectionTimeout,
    DisconnectionTimeout,
    Endpoint,
    HandshakeError,
)
from ._server import WebSocketRequest, WebSocketServer, serve_websocket, wrap_server_stream

__all__ = [
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
    "WebSocketConnection",
    "WebSocketRequest",
    "WebSocketServer",
    "connect_websocket",
    "connect_websocket_url",
    "open_websocket",
    "open_websocket_url",
    "serve_websocket",
    "wrap_client_stream",
    "wrap_server_stream",
]
