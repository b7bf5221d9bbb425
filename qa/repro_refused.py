"""Repro: connecting to a closed port. docs/tutorial-asyncio.rst: "it fails with
ConnectionRefusedError, an OSError, raised as itself". Compare the exception per runner."""
import asyncio, sys
import anyio, trio
from wsproto.anyio import open_websocket_url

async def main():
    try:
        async with open_websocket_url("ws://127.0.0.1:1/"):
            pass
    except BaseException as e:
        print(f"{sys.argv[1]:14} {type(e).__name__} errno={getattr(e, 'errno', None)} {e}  cause={e.__cause__!r:.80}")

{"asyncio.run": lambda: asyncio.run(main()), "trio.run": lambda: trio.run(main),
 "anyio-asyncio": lambda: anyio.run(main), "anyio-trio": lambda: anyio.run(main, backend="trio")}[sys.argv[1]]()
