"""A WebSocket echo server on a Unix socket, on wsproto.anyio, for asyncio or trio.

Usage::

    python unix_server.py PATH [--backend {asyncio,trio}]

Listens on the Unix socket PATH (removing a stale socket file left there),
prints where, and echoes every message. A front end on the same machine
connects there: unix_client.py, or nginx with ``server unix:PATH;`` as the
upstream in examples/nginx/wsproto.conf. Ctrl-C or SIGTERM closes the open
connections with 1001 and exits, removing the socket file.
"""

from __future__ import annotations

import argparse
import signal
import stat
from pathlib import Path

import anyio

from wsproto.anyio import ConnectionClosed, WebSocketRequest, WebSocketServer


async def echo(request: WebSocketRequest) -> None:
    """Accept the connection and send every message back."""
    ws = await request.accept()
    print(f"server: {request.path} opened")
    try:
        async for message in ws:
            await ws.send_message(message)
    except ConnectionClosed:
        pass  # closed abnormally; ws.closed says how
    print(f"server: {request.path} closed with {ws.closed.code if ws.closed else None}")


async def main(path: Path, backend: str) -> None:
    if path.exists() and stat.S_ISSOCK(path.stat().st_mode):
        path.unlink()  # left by a server that did not exit cleanly
    # serve_websocket listens on TCP; for any other listener, build the
    # WebSocketServer yourself around it.
    listener = await anyio.create_unix_listener(path)
    try:
        async with anyio.create_task_group() as group:
            server = await group.start(WebSocketServer(echo, [listener]).run)
            print(f"server: listening on unix:{server.listeners[0]} ({backend})", flush=True)
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for _ in signals:
                    print("server: shutting down")
                    group.cancel_scope.cancel()
                    break
    finally:
        path.unlink(missing_ok=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    anyio.run(main, args.path, args.backend, backend=args.backend)
