"""The server under load: ``python -m load.server BACKEND [--ping-interval S]``.

An echo server (``serve_websocket`` on 127.0.0.1, a free port) that prints
``port N`` once listening, then answers commands read from stdin, one a line:
``stats`` prints a JSON line (connections open, close codes seen by the
handlers, handler errors); ``stop`` cancels the server (every open connection
closes with 1001) and exits. Its RSS, descriptors and CPU are read from
outside, by the driver.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import sys

import anyio

from wsproto.anyio import ConnectionClosed, WebSocketRequest, serve_websocket

from .procstat import raise_fd_limit


class Echo:
    """The handler, and what it saw."""

    def __init__(self) -> None:
        self.open = 0
        self.accepted = 0
        self.codes: collections.Counter[str] = collections.Counter()
        self.errors = 0

    async def __call__(self, request: WebSocketRequest) -> None:
        ws = await request.accept()
        self.open += 1
        self.accepted += 1
        try:
            async for message in ws:
                await ws.send_message(message)
        except ConnectionClosed:
            pass
        except Exception:
            self.errors += 1
            raise
        finally:
            self.open -= 1
            code = ws.closed.code if ws.closed is not None else None
            self.codes[str(code)] += 1

    def stats(self) -> dict[str, object]:
        return {
            # Memory blocks Python's allocator holds for live objects: a leak of
            # objects shows here even while RSS sits at the allocator's high water.
            "blocks": sys.getallocatedblocks(),
            "open": self.open,
            "accepted": self.accepted,
            "codes": dict(self.codes),
            "errors": self.errors,
        }


async def main(args: argparse.Namespace) -> None:
    handler = Echo()
    async with anyio.create_task_group() as group:
        server = await group.start(
            lambda task_status: serve_websocket(
                handler,
                "127.0.0.1",
                0,
                None,
                ping_interval=args.ping_interval or None,
                ping_timeout=args.ping_interval or None,
                disconnect_timeout=args.disconnect_timeout,
                max_connections=args.max_connections,
                message_queue_size=args.message_queue_size,
                task_status=task_status,
            )
        )
        print(f"port {server.port}", flush=True)
        stdin = anyio.wrap_file(sys.stdin)
        async for line in stdin:
            command = line.strip()
            if command == "stats":
                print(json.dumps(handler.stats()), flush=True)
            elif command == "stop":
                break
        group.cancel_scope.cancel()
    print(json.dumps(handler.stats()), flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("backend", choices=["asyncio", "trio"])
    parser.add_argument("--ping-interval", type=float, default=20.0, help="0: no keepalive")
    parser.add_argument("--disconnect-timeout", type=float, default=5.0)
    parser.add_argument("--max-connections", type=int, default=4096)
    parser.add_argument("--message-queue-size", type=int, default=1)
    options = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="server %(levelname)s %(name)s %(message)s")
    raise_fd_limit()
    anyio.run(main, options, backend=options.backend)
