"""websockets' asyncio echo server on 127.0.0.1:PORT (argv[1]); for CLI interop."""
import asyncio, sys
from websockets.asyncio.server import serve

async def echo(ws):
    async for m in ws:
        await ws.send(m)

async def main():
    async with serve(echo, "127.0.0.1", int(sys.argv[1])) as s:
        print("ready", flush=True)
        await asyncio.sleep(float(sys.argv[2]) if len(sys.argv) > 2 else 30)

asyncio.run(main())
