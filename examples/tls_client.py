"""A WebSocket client over TLS (wss://) on wsproto.anyio, for asyncio or trio.

Usage::

    python tls_client.py URL [--cafile CAFILE] [--backend {asyncio,trio}]

Connects to URL (``wss://host:port/path``), checking the server's certificate
against CAFILE (a PEM bundle; the system's trusted CAs without it), sends a
message, prints the echo, and closes. A certificate that does not verify ends
it with an ``ssl.SSLCertVerificationError`` before any WebSocket traffic.
"""

from __future__ import annotations

import argparse
import ssl

import anyio

from wsproto.anyio import Endpoint, open_websocket_url


async def main(url: str, cafile: str | None, backend: str) -> None:
    # Verification on (the default): the certificate must name the URL's host.
    context = ssl.create_default_context(cafile=cafile)
    async with open_websocket_url(url, context) as ws:
        secure = isinstance(ws.remote, Endpoint) and ws.remote.is_ssl
        print(f"client: connected to {url} ({backend}), TLS: {secure}")
        await ws.send_message("Hello over TLS!")
        print(f"client: received {await ws.get_message()!r}")
    assert ws.closed is not None
    print(f"client: closed with {ws.closed.code} ({ws.closed.name})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("--cafile")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    anyio.run(main, args.url, args.cafile, args.backend, backend=args.backend)
