"""A WebSocket echo server on wsproto.anyio, for asyncio or trio.

Usage::

    python echo_server.py [HOST] [PORT] [--backend {asyncio,trio}]

Listens on HOST:PORT (127.0.0.1:8000 by default; port 0 picks a free port)
and prints where, then echoes every message of every client. Stop it with
Ctrl-C or SIGTERM: it closes the open connections with 1001 (going away)
and exits.
"""

from __future__ import annotations

import argparse
import signal

import anyio

from wsproto.anyio import ConnectionClosed, Endpoint, WebSocketRequest, serve_websocket


def describe(message: str | bytes) -> str:
    """A short description of a message for the log."""
    if isinstance(message, bytes):
        return f"{len(message)} bytes"
    return repr(message) if len(message) <= 40 else f"{len(message)} characters"


async def echo(request: WebSocketRequest) -> None:
    """Accept the connection and send every message back."""
    remote = request.remote
    peer = f"{remote.address}:{remote.port}" if isinstance(remote, Endpoint) else remote
    print(f"server: {peer} asks for {request.path}")
    ws = await request.accept()
    try:
        async for message in ws:
            print(f"server: echoing {describe(message)}")
            await ws.send_message(message)
    except ConnectionClosed:
        pass  # closed abnormally; ws.closed says how
    print(f"server: {peer} closed with {ws.closed.code if ws.closed else None}")


async def main(host: str, port: int, backend: str) -> None:
    # The signals are ours before the server starts: Ctrl-C at any time is a
    # clean shutdown, not a KeyboardInterrupt in the middle of starting.
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with anyio.create_task_group() as group:
            # start() returns once the server listens; its port is the one it got.
            server = await group.start(serve_websocket, echo, host, port, None)
            print(f"server: listening on {host}:{server.port} ({backend})", flush=True)
            async for _ in signals:
                # Cancelling the server closes every connection with 1001.
                print("server: shutting down")
                group.cancel_scope.cancel()
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    try:
        anyio.run(main, args.host, args.port, args.backend, backend=args.backend)
    except KeyboardInterrupt:  # before the event loop took the signal over
        raise SystemExit(130) from None
