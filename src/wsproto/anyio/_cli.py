"""The ``wsproto`` command (``python -m wsproto``): a client to poke at a WebSocket, or a server.

``main()`` parses the command line and runs :mod:`._cli_client` or
:mod:`._cli_server` on the chosen backend. Both use the layer's public API
only, as any program would.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence

import anyio

import wsproto

from ._cli_client import ClientOptions, run_client
from ._cli_server import ServerOptions, parse_address, run_server

DESCRIPTION = """\
A WebSocket client to poke at an endpoint, or a server to test against.

Client: wsproto ws://HOST:PORT/PATH
  Each line of stdin is sent as a text message; each message received is
  printed to stdout as it arrives ("< text", or "<bin N bytes> HEX" for a
  binary one). Status, pings and the close code go to stderr. End of input
  (Ctrl-D) closes with 1000. When stdin is not a terminal, the client waits
  for the replies first (see --linger).

Server: wsproto --serve [HOST:]PORT
  An echo server (HOST defaults to 127.0.0.1; port 0 picks a free port).
  With --stdio it prints what clients send and sends stdin lines to every
  client. Ctrl-C closes every connection with 1001 and exits.
"""

EPILOG = """\
Ctrl-C closes the connection with 1000 (the client) or closes every
connection with 1001 and stops (the server).

exit status: 0 after a normal close (1000 or 1001), 1 after an abnormal close
or a failed connection or handshake, 2 for a bad command line, 130 when
interrupted while connecting.
"""


def _header(value: str) -> tuple[str, str]:
    name, colon, content = value.partition(":")
    if not colon or not name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {value!r}")
    return name.strip(), content.strip()


def _address(value: str) -> tuple[str, int]:
    try:
        return parse_address(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected [HOST:]PORT, got {value!r}") from None


def _seconds(value: str) -> float:
    seconds = float(value)
    if not seconds >= 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}")
    return seconds


def _size(value: str) -> int:
    size = int(value)
    if size <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, got {value!r}")
    return size


def parser() -> argparse.ArgumentParser:
    """The command line's argument parser."""
    p = argparse.ArgumentParser(
        prog="wsproto",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("url", nargs="?", help="ws:// or wss:// URL to connect to")
    target.add_argument(
        "--serve", metavar="[HOST:]PORT", type=_address, help="run a server instead"
    )
    p.add_argument(
        "--backend", choices=["asyncio", "trio"], default="asyncio", help="default: asyncio"
    )
    p.add_argument(
        "-H",
        "--header",
        metavar="'NAME: VALUE'",
        type=_header,
        action="append",
        default=[],
        help="client: an extra handshake header (repeatable)",
    )
    p.add_argument(
        "--subprotocol",
        metavar="NAME",
        action="append",
        default=[],
        help="client: offer this subprotocol; server: accept it (repeatable)",
    )
    p.add_argument(
        "--no-compression", action="store_true", help="do not negotiate permessage-deflate"
    )
    p.add_argument("--cafile", help="client: trust these CA certificates for wss://")
    p.add_argument(
        "--insecure", action="store_true", help="client: do not verify the wss:// certificate"
    )
    p.add_argument(
        "--ping-interval",
        metavar="SECONDS",
        type=_seconds,
        help="client: ping every SECONDS and show each pong (0: no keepalive at all); "
        "server: keepalive interval",
    )
    p.add_argument(
        "--max-size", metavar="BYTES", type=_size, help="largest message accepted (default 1 MiB)"
    )
    p.add_argument(
        "--linger",
        metavar="SECONDS",
        type=_seconds,
        default=1.0,
        help="client, stdin not a terminal: after the last line, close once a reply per line "
        "has arrived and then nothing for SECONDS (default 1; 'inf': wait for the peer to "
        "close). If replies are missing, wait 10 s of quiet at least",
    )
    p.add_argument(
        "--stdio",
        action="store_true",
        help="server: print what clients send, send stdin lines to every client",
    )
    p.add_argument("--version", action="version", version=f"wsproto {wsproto.__version__}")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``wsproto`` command; return its exit status."""
    args = parser().parse_args(argv)
    if args.backend == "trio" and importlib.util.find_spec("trio") is None:
        parser().error("--backend trio needs trio: pip install trio")
    try:
        if args.serve is not None:
            host, port = args.serve
            server = ServerOptions(
                host=host,
                port=port,
                backend=args.backend,
                stdio=args.stdio,
                subprotocols=args.subprotocol,
                compression=not args.no_compression,
                ping_interval=args.ping_interval,
                max_size=args.max_size,
            )
            return anyio.run(run_server, server, backend=args.backend)
        client = ClientOptions(
            url=args.url,
            headers=args.header,
            subprotocols=args.subprotocol,
            compression=not args.no_compression,
            cafile=args.cafile,
            insecure=args.insecure,
            ping_interval=args.ping_interval,
            max_size=args.max_size,
            linger=args.linger,
            interactive=os.isatty(sys.stdin.fileno()),
        )
        if not client.url.startswith(("ws://", "wss://")):
            parser().error(f"the URL must start with ws:// or wss://, not {client.url!r}")
        return anyio.run(run_client, client, backend=args.backend)
    except KeyboardInterrupt:
        return 130
