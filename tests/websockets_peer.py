"""websockets' echo server, as a separate program: ``python websockets_peer.py [SUBPROTOCOL...]``.

Tests run it in a subprocess so that its threads stay out of theirs. It
prints ``listening on PORT`` once it listens on 127.0.0.1 (a free port), then
for each connection ``open PATH x-token=... subprotocol=... deflate=...``, and once it
ends ``closed CODE REASON``; it echoes every message. SIGTERM stops it.
"""

from __future__ import annotations

import sys

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve
from websockets.typing import Subprotocol


def echo(ws: ServerConnection) -> None:
    assert ws.request is not None
    token = ws.request.headers.get("X-Token")
    assert ws.response is not None
    deflate = "permessage-deflate" in ws.response.headers.get("Sec-WebSocket-Extensions", "")
    print(
        f"open {ws.request.path} x-token={token} subprotocol={ws.subprotocol} deflate={deflate}",
        flush=True,
    )
    try:
        for message in ws:
            ws.send(message)
    except ConnectionClosed:
        pass
    print(f"closed {ws.close_code} {ws.close_reason}", flush=True)


def main() -> None:
    subprotocols = [Subprotocol(name) for name in sys.argv[1:]] or None
    with serve(echo, "127.0.0.1", 0, subprotocols=subprotocols) as server:
        print(f"listening on {server.socket.getsockname()[1]}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
