"""``wsproto --serve [HOST:]PORT``: the command line's server.

By default it echoes every message back to its sender. With ``--stdio`` it
relays instead: what clients send is printed to stdout (as the client prints
messages), and each stdin line goes to every connected client as a text
message. Connections and closes are logged to stderr. SIGINT (Ctrl-C) or
SIGTERM shuts it down gracefully: the server stops listening and closes every
connection with 1001 (going away), then the program exits with status 0.
"""

from __future__ import annotations

import functools
import signal
from collections.abc import Sequence
from dataclasses import dataclass

import anyio

from . import (
    ConnectionClosed,
    Endpoint,
    WebSocketConnection,
    WebSocketRequest,
    serve_websocket,
)
from ._cli_io import format_close, format_message, out, status, stdin_lines


@dataclass(frozen=True)
class ServerOptions:
    """What the command line asked the server for."""

    host: str
    port: int
    backend: str = "asyncio"
    stdio: bool = False
    subprotocols: Sequence[str] = ()
    compression: bool = True
    ping_interval: float | None = None
    max_size: int | None = None


def parse_address(address: str) -> tuple[str, int]:
    """``[HOST:]PORT`` as a host and a port; the host defaults to 127.0.0.1.

    IPv6 hosts are written in brackets: ``[::1]:8000``.

    Raises:
        ValueError: if the port is not a number from 0 to 65535.
    """
    host, _, port = address.rpartition(":")
    host = host.removeprefix("[").removesuffix("]") or "127.0.0.1"
    number = int(port)
    if not 0 <= number <= 65535:
        raise ValueError(f"port out of range: {number}")
    return host, number


def _peer(remote: Endpoint | str | None) -> str:
    if isinstance(remote, Endpoint):
        host = f"[{remote.address}]" if ":" in remote.address else remote.address
        return f"{host}:{remote.port}"
    return str(remote)


class _Relay:
    """The server's state: the open connections, and what to do with their messages."""

    def __init__(self, options: ServerOptions) -> None:
        self.options = options
        self.clients: set[WebSocketConnection] = set()

    async def handle(self, request: WebSocketRequest) -> None:
        """Accept a connection; echo its messages, or print them with ``--stdio``."""
        peer = _peer(request.remote)
        offered = request.proposed_subprotocols
        subprotocol = next((name for name in offered if name in self.options.subprotocols), None)
        ws = await request.accept(subprotocol=subprotocol)
        chosen = f" (subprotocol {subprotocol})" if subprotocol else ""
        status(f"{peer} connected: {request.path}{chosen}")
        self.clients.add(ws)
        try:
            async for message in ws:
                if self.options.stdio:
                    out(format_message(message))
                else:
                    await ws.send_message(message)
        except ConnectionClosed:
            pass  # closed abnormally: ws.closed says how
        finally:
            self.clients.discard(ws)
        status(f"{peer} closed: {format_close(ws.closed)}")

    async def broadcast_stdin(self) -> None:
        """Send every stdin line to every open connection (``--stdio``)."""
        async with stdin_lines() as lines:
            async for line in lines:
                for ws in list(self.clients):
                    try:
                        await ws.send_message(line)
                    except ConnectionClosed:
                        pass  # it is going away; its handler logs it
        status("End of input: still serving (Ctrl-C to stop)")


async def run_server(options: ServerOptions) -> int:
    """Serve until SIGINT or SIGTERM; return the exit status."""
    relay = _Relay(options)
    async with anyio.create_task_group() as group:
        serve = functools.partial(
            serve_websocket,
            relay.handle,
            options.host,
            options.port,
            None,
            compression="deflate" if options.compression else None,
        )
        if options.max_size is not None:
            serve = functools.partial(serve, max_message_size=options.max_size)
        if options.ping_interval is not None:
            # The server's keepalive; 0 turns it off. Without it, the layer's default.
            serve = functools.partial(serve, ping_interval=options.ping_interval or None)
        server = await group.start(serve)
        where = ", ".join(
            listener.url if isinstance(listener, Endpoint) else listener
            for listener in server.listeners
        )
        status(f"Listening on {where} ({options.backend}); Ctrl-C to stop")
        if options.stdio:
            group.start_soon(relay.broadcast_stdin)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                count = len(relay.clients)
                status(
                    f"{signal.Signals(signum).name}: shutting down, closing {count} "
                    f"connection{'' if count == 1 else 's'} with 1001 (GOING_AWAY)"
                )
                # Cancelling the server closes every connection with 1001.
                group.cancel_scope.cancel()
                break
    status("Stopped")
    return 0
