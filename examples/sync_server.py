"""A blocking WebSocket echo server (wsproto.sync): a thread per connection, no async code.

Usage::

    python sync_server.py [HOST] [PORT] [--backend {asyncio,trio}]

Listens on HOST:PORT (127.0.0.1:8000 by default; port 0 picks a free port),
prints where, and echoes every message. Ctrl-C (or SIGTERM) shuts it down: it
closes the open connections with 1001 and waits for their handlers.
"""

from __future__ import annotations

import argparse
import signal
import sys

from wsproto.sync import ServerConnection, serve


def echo(ws: ServerConnection) -> None:
    """Runs in a thread of its own for each connection."""
    print(f"server: {ws.remote} asks for {ws.path}", flush=True)
    for message in ws:  # ends when the client closes normally
        ws.send(message)
    print(f"server: closed with {ws.close_code}", flush=True)


def main(host: str, port: int, backend: str) -> None:
    with serve(echo, host, port, backend=backend) as server:
        print(f"server: listening on {host}:{server.port} ({backend})", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("server: shutting down", flush=True)
    # Leaving the block shut the server down: every handler has returned.
    print("server: stopped", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    # SIGTERM stops it as Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda signum, frame: signal.raise_signal(signal.SIGINT))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main(args.host, args.port, args.backend)
    sys.exit(0)
