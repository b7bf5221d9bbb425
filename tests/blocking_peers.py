"""Real WebSocket servers on 127.0.0.1, for blocking-code tests.

Our server (:func:`wsproto_server`, the anyio layer in an event loop of its
own on either backend) and websockets' (:func:`websockets_server`, its sync
server in a subprocess, so that its threads stay out of the tests'). The
tests of ``wsproto.sync`` and of the command line talk to them.
"""

from __future__ import annotations

import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from anyio.from_thread import start_blocking_portal

from wsproto.anyio import ConnectionClosed, WebSocketRequest, serve_websocket

HERE = Path(__file__).resolve().parent
BACKENDS = ["asyncio", "trio"]
Handler = Callable[[WebSocketRequest], Awaitable[None]]


async def echo(request: WebSocketRequest) -> None:
    """Our echo handler: every message goes back to its sender."""
    ws = await request.accept()
    try:
        async for message in ws:
            await ws.send_message(message)
    except ConnectionClosed:
        pass


@contextmanager
def wsproto_server(
    handler: Handler = echo, backend: str = "asyncio", ssl_context: ssl.SSLContext | None = None
) -> Iterator[int]:
    """Serve ``handler`` with wsproto.anyio on a free port; yield the port."""
    with start_blocking_portal(backend) as portal:
        future, server = portal.start_task(serve_websocket, handler, "127.0.0.1", 0, ssl_context)
        try:
            yield server.port
        finally:
            future.cancel()


@dataclass
class Peer:
    """A server running in a subprocess, and the lines it printed."""

    process: subprocess.Popen[str]
    port: int

    def read_until(self, text: str) -> list[str]:
        """The server's output lines up to the first one containing ``text``."""
        assert self.process.stdout is not None
        lines = []
        for line in self.process.stdout:
            lines.append(line.rstrip("\n"))
            if text in line:
                return lines
        raise AssertionError(f"server output ended before {text!r}: {lines}")


@contextmanager
def websockets_server(*subprotocols: str) -> Iterator[Peer]:
    """websockets' echo server (tests/websockets_peer.py) in a subprocess."""
    process = subprocess.Popen(
        [sys.executable, "-u", str(HERE / "websockets_peer.py"), *subprotocols],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    with process.stdout:
        try:
            first = process.stdout.readline()
            assert first.startswith("listening on "), first
            yield Peer(process, int(first.split()[-1]))
        finally:
            process.terminate()
            process.wait(timeout=30)
