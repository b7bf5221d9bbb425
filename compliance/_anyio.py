"""The anyio testee: ``wsproto.anyio``'s server and client on asyncio or trio.

Limits are opened wide so that the suite's big cases (9.x: up to 16 MiB
messages, up to a million frames each) measure the protocol, not our safe
defaults; keepalive pings are off because the suite counts unexpected frames.
Both roles offer or accept permessage-deflate: the server accepts whatever
parameters the peer proposes, the client offers ``client_max_window_bits`` so
that the suite may choose any window for the client (12.x/13.x).
"""

from __future__ import annotations

from functools import partial
from typing import Any
from urllib.parse import quote

import anyio

from wsproto.anyio import (
    ConnectionClosed,
    HandshakeError,
    WebSocketConnection,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)

# The suite's largest message is 16 MiB (9.1.6, 9.2.6); leave room above it.
MAX_MESSAGE_SIZE = 64 * 2**20
# Enough messages in flight to keep the reader busy, few enough to stay bounded.
MESSAGE_QUEUE_SIZE = 4
# The suite waits up to a few seconds per case; a stuck case must end sooner
# than the whole run's timeout, but a 16 MiB echo needs time on a slow machine.
TIMEOUT = 60.0

SETTINGS: dict[str, Any] = {
    "max_message_size": MAX_MESSAGE_SIZE,
    "max_fragments": None,
    "message_queue_size": MESSAGE_QUEUE_SIZE,
    "ping_interval": None,
    "compression": "deflate",
    "disconnect_timeout": TIMEOUT,
}


async def echo(ws: WebSocketConnection) -> None:
    """Send back every message until the connection closes, however it closes."""
    try:
        async for message in ws:
            await ws.send_message(message)
    except ConnectionClosed:
        pass  # the suite closes with every kind of code on purpose


async def handler(request: WebSocketRequest) -> None:
    await echo(await request.accept())


async def serve(port: int) -> None:
    async with anyio.create_task_group() as group:
        serve_echo = partial(
            serve_websocket, handshake_timeout=TIMEOUT, max_connections=None, **SETTINGS
        )
        server = await group.start(serve_echo, handler, "127.0.0.1", port, None)
        print(f"LISTENING {server.port}", flush=True)


async def _fetch_text(url: str) -> str:
    """Open ``url``, collect its text messages until the server closes."""
    text: list[str] = []
    async with open_websocket_url(url, connect_timeout=TIMEOUT, **SETTINGS) as ws:
        try:
            async for message in ws:
                assert isinstance(message, str), message
                text.append(message)
        except ConnectionClosed:
            pass
    return "".join(text)


async def run_client(url: str, agent: str) -> None:
    base = url.rstrip("/")
    name = quote(agent)
    count = int(await _fetch_text(f"{base}/getCaseCount"))
    for case in range(1, count + 1):
        try:
            async with open_websocket_url(
                f"{base}/runCase?case={case}&agent={name}",
                connect_timeout=TIMEOUT,
                deflate_options={"client_max_window_bits": 15},
                **SETTINGS,
            ) as ws:
                await echo(ws)
        except (HandshakeError, ConnectionClosed, OSError) as exc:
            # The suite judges the case from its side; keep going.
            print(f"case {case}: {exc!r}", flush=True)
    await _fetch_text(f"{base}/updateReports?agent={name}")
    print(f"ran {count} cases", flush=True)


def main(role: str, backend: str, port: int, url: str, agent: str) -> None:
    if role == "server":
        anyio.run(serve, port, backend=backend)
    else:
        anyio.run(run_client, url, agent, backend=backend)
