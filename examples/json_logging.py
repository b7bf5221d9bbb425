"""JSON logs with the standard library alone: a client and a server on loopback.

Usage::

    python json_logging.py [--backend {asyncio,trio}]

Every log record goes to stderr as one JSON object per line, wsproto's with
the connection's id, its peer and the event as fields of their own
(``ws_connection_id``, ``ws_peer``, ``ws_event`` ...). wsproto.anyio's
loggers are at DEBUG, so the opening handshakes, the ping and the closing
handshakes show. The client echoes one message, then asks for ``/fail``,
whose handler raises on purpose: that is logged once, at ERROR, with its
traceback in the JSON object. What the client gets is printed to stdout.
"""

from __future__ import annotations

import argparse
import json
import logging
from datetime import UTC, datetime

import anyio

from wsproto.anyio import (
    ConnectionRejected,
    WebSocketRequest,
    open_websocket_url,
    serve_websocket,
)


class JSONFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, wsproto's fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        # The extra fields wsproto adds: ws_connection_id, ws_peer, ws_event ...
        entry.update((key, value) for key, value in vars(record).items() if key.startswith("ws_"))
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def log_as_json() -> None:
    """Log every record to stderr as JSON; wsproto.anyio's from DEBUG up, others' from WARNING."""
    handler = logging.StreamHandler()  # to stderr
    handler.setFormatter(JSONFormatter())
    logging.basicConfig(handlers=[handler], level=logging.WARNING)
    logging.getLogger("wsproto.anyio").setLevel(logging.DEBUG)


async def handler(request: WebSocketRequest) -> None:
    """Echo every message; on ``/fail``, raise (the server answers 500)."""
    if request.path == "/fail":
        raise RuntimeError("this handler fails on purpose")
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


async def main() -> None:
    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, handler, "127.0.0.1", 0, None)
        url = f"ws://127.0.0.1:{server.port}"
        async with open_websocket_url(f"{url}/echo") as ws:
            await ws.send_message("hello")
            print(f"client: got {await ws.get_message()!r}")
            await ws.ping()
        try:
            async with open_websocket_url(f"{url}/fail"):
                pass
        except ConnectionRejected as exc:
            print(f"client: /fail refused with {exc.status_code}")
        group.cancel_scope.cancel()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    log_as_json()
    anyio.run(main, backend=args.backend)
