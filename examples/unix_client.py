"""A WebSocket client over a Unix socket, on wsproto.anyio, for asyncio or trio.

Usage::

    python unix_client.py PATH [RESOURCE] [--backend {asyncio,trio}]

Connects to the Unix socket PATH, opens a WebSocket to RESOURCE (``/`` by
default), sends a message, prints the echo, and closes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anyio

from wsproto.anyio import wrap_client_stream


async def main(path: Path, resource: str, backend: str) -> None:
    # open_websocket connects over TCP; over any other byte stream,
    # wrap_client_stream runs the handshake and the connection's tasks run in
    # the task group given. The Host header still needs a value: "localhost".
    async with anyio.create_task_group() as group:
        stream = await anyio.connect_unix(path)
        ws = await wrap_client_stream(group, stream, "localhost", resource)
        print(f"client: connected to unix:{path} {resource} ({backend})")
        await ws.send_message("Hello over a Unix socket!")
        print(f"client: received {await ws.get_message()!r}")
        await ws.aclose()
    assert ws.closed is not None
    print(f"client: closed with {ws.closed.code} ({ws.closed.name})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("resource", nargs="?", default="/")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    anyio.run(main, args.path, args.resource, args.backend, backend=args.backend)
