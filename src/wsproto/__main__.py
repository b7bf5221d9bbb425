"""``python -m wsproto``: the command-line client and server (see the CLI how-to).

The command lives in the anyio layer (``wsproto.anyio._cli``): the core never
imports anyio, so this module only forwards to it.
"""

from .anyio._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
