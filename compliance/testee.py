"""Autobahn|Testsuite testees: an echo server and a fuzzing client.

    python compliance/testee.py server --layer LAYER [--backend BACKEND] --port PORT
    python compliance/testee.py client --layer LAYER [--backend BACKEND] --url URL --agent NAME

LAYER is ``core`` or ``anyio``; BACKEND (anyio only) is ``asyncio`` or ``trio``.

The server prints ``LISTENING <port>`` once it accepts connections (with
``--port 0``, the port it got), echoes every message and runs until killed.
The client runs every case the fuzzing server offers, asks it to update its
reports, and exits 0.

``--layer core`` drives the I/O-free core with plain blocking sockets
(``_core.py``); ``--layer anyio`` runs ``wsproto.anyio`` on the chosen anyio
backend (``_anyio.py``). Every testee offers or accepts permessage-deflate.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("role", choices=["server", "client"])
    parser.add_argument("--layer", choices=["core", "anyio"], default="core")
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--url", default="ws://127.0.0.1:9001")
    parser.add_argument("--agent", default=None)
    args = parser.parse_args(argv)
    agent = args.agent or (
        "wsproto-core" if args.layer == "core" else f"wsproto-anyio-{args.backend}"
    )
    if args.layer == "anyio":
        import _anyio  # imported only here: the core testee runs without anyio

        _anyio.main(args.role, args.backend, args.port, args.url, agent)
    elif args.role == "server":
        import _core

        _core.run_server(args.port)
    else:
        import _core

        _core.run_client(args.url, agent)
    return 0


if __name__ == "__main__":
    sys.exit(main())
