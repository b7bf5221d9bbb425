"""A WebSocket client on wsproto.anyio that talks to an echo server, for asyncio or trio.

Usage::

    python echo_client.py URL [--backend {asyncio,trio}]

Connects to URL (``ws://`` or ``wss://``), sends a few messages (text,
binary, a large one, one streamed in pieces), checks that each comes back,
pings the server, and closes. Exits with 1 if an echo differs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator

import anyio

from wsproto.anyio import WebSocketConnection, open_websocket_url


def describe(message: str | bytes) -> str:
    """A short description of a message for the log."""
    if len(message) <= 40:
        return repr(message)
    return f"{len(message)} {'bytes' if isinstance(message, bytes) else 'characters'}"


def pieces(count: int, size: int) -> Iterator[bytes]:
    """A message produced piece by piece (it could be read from a file)."""
    for n in range(count):
        yield bytes([n % 256]) * size


async def exchange(ws: WebSocketConnection) -> bool:
    """Send messages and check their echoes; return whether all came back intact."""
    intact = True
    messages: list[str | bytes] = ["Hello, WebSocket!", b"\x00\x01\x02\x03", "x" * 500_000]
    for message in messages:
        print(f"client: sending {describe(message)}")
        await ws.send_message(message)
        echoed = await ws.get_message()
        print(f"client: received {describe(echoed)}")
        if echoed != message:
            print("client: that is not what was sent")
            intact = False

    # A large message sent in pieces and received in pieces: neither side
    # needs to hold it whole (the echo server does, up to max_message_size).
    print("client: sending 524288 bytes in 8 pieces")
    await ws.send_message(pieces(8, 65536))
    received = 0
    async for chunk in ws.message_chunks():
        received += len(chunk)
    print(f"client: received {received} bytes back")
    intact = intact and received == 8 * 65536

    await ws.ping(b"are you there?")  # returns when the pong arrives
    print("client: ping answered")
    return intact


async def main(url: str, backend: str) -> int:
    async with open_websocket_url(url) as ws:
        print(f"client: connected to {url} ({backend})")
        intact = await exchange(ws)
    # Leaving the block closed the connection.
    assert ws.closed is not None
    print(f"client: closed with {ws.closed.code} ({ws.closed.name})")
    return 0 if intact else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    sys.exit(anyio.run(main, args.url, args.backend, backend=args.backend))
