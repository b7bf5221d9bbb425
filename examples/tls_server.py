"""A WebSocket echo server over TLS (wss://) on wsproto.anyio, for asyncio or trio.

Usage::

    python tls_server.py CERTFILE KEYFILE [HOST] [PORT] [--backend {asyncio,trio}]

CERTFILE holds the server's certificate chain (PEM), KEYFILE its private key.
For a try on your own machine, make both with trustme (``pip install trustme``)::

    python -m trustme   # writes server.pem, server.key and client.pem (the CA)
    python tls_server.py server.pem server.key
    python tls_client.py wss://localhost:8443/ --cafile client.pem

Listens on HOST:PORT (127.0.0.1:8443 by default; port 0 picks a free port),
prints where, and echoes every message. Ctrl-C or SIGTERM closes the open
connections with 1001 (going away) and exits.
"""

from __future__ import annotations

import argparse
import signal
import ssl

import anyio

from wsproto.anyio import ConnectionClosed, WebSocketRequest, serve_websocket


async def echo(request: WebSocketRequest) -> None:
    """Accept the connection and send every message back."""
    ws = await request.accept()
    print(f"server: {request.path} opened over TLS")
    try:
        async for message in ws:
            await ws.send_message(message)
    except ConnectionClosed:
        pass  # closed abnormally; ws.closed says how
    print(f"server: {request.path} closed with {ws.closed.code if ws.closed else None}")


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """TLS settings for a server: the certificate and key, the library's safe defaults."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile, keyfile)
    return context


async def main(certfile: str, keyfile: str, host: str, port: int, backend: str) -> None:
    context = server_context(certfile, keyfile)
    async with anyio.create_task_group() as group:
        # The TLS handshake runs in each connection's task, before the upgrade.
        server = await group.start(serve_websocket, echo, host, port, context)
        print(f"server: listening on wss://{host}:{server.port} ({backend})", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                print("server: shutting down")
                group.cancel_scope.cancel()
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("certfile")
    parser.add_argument("keyfile")
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8443)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    anyio.run(
        main, args.certfile, args.keyfile, args.host, args.port, args.backend, backend=args.backend
    )
