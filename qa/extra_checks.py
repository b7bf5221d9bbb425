"""QA: compression bomb from a raw peer, back-pressure with a really slow reader.

Usage: python extra_checks.py asyncio|trio
"""

from __future__ import annotations

import resource
import sys
import time

import anyio

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import ConnectionClosed, open_websocket_url, serve_websocket
from wsproto.events import AcceptConnection, BytesMessage, Request
from wsproto.extensions import PerMessageDeflate


def rss_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


async def bomb() -> None:
    seen = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        try:
            m = await ws.get_message()
            seen["got"] = len(m)
        except ConnectionClosed as e:
            seen["exc"] = e.reason.code
        done.set()

    async with anyio.create_task_group() as tg:
        srv = await tg.start(serve_websocket, handler, "127.0.0.1", 0, None)
        c = WSConnection(ConnectionType.CLIENT)
        s = await anyio.connect_tcp("127.0.0.1", srv.port)
        await s.send(c.send(Request(host="x", target="/", extensions=[PerMessageDeflate()])))
        while True:
            c.receive_data(await s.receive())
            evs = list(c.events())
            if any(isinstance(e, AcceptConnection) for e in evs):
                break
        payload = c.send(BytesMessage(data=b"\0" * 200_000_000))
        before = rss_mb()
        t0 = time.monotonic()
        print(f"bomb: {len(payload)} compressed bytes for 200 MB; rss before {before} MB")
        try:
            await s.send(payload)
        except (anyio.BrokenResourceError, OSError) as e:
            print("bomb: send stopped:", type(e).__name__)
        with anyio.fail_after(10):
            await done.wait()
        print(f"bomb: server handler saw {seen} after {time.monotonic() - t0:.2f}s; max rss {rss_mb()} MB")
        await s.aclose()
        tg.cancel_scope.cancel()


async def backpressure() -> None:
    N = 3000
    size = 20_000
    progress = {"sent": 0}

    async def handler(req):
        ws = await req.accept()
        for i in range(N):
            await ws.send_message(f"{i}:" + "z" * size)
            progress["sent"] = i + 1
        await ws.aclose(1000)

    async with anyio.create_task_group() as tg:
        srv = await tg.start(lambda task_status: serve_websocket(handler, "127.0.0.1", 0, None, compression=None, task_status=task_status))
        got = []
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/", message_queue_size=1, compression=None) as ws:
            await anyio.sleep(1.0)  # read nothing for a second
            print(f"backpressure: server sent {progress['sent']}/{N} messages ({progress['sent'] * size / 1e6:.0f} MB) while the client read nothing for 1 s")
            try:
                while True:
                    got.append(int((await ws.get_message()).split(":")[0]))
            except ConnectionClosed as e:
                code = e.reason.code
        print(f"backpressure: received {len(got)}/{N}, in order {got == list(range(N))}, close {code}, max rss {rss_mb()} MB")
        tg.cancel_scope.cancel()


async def main() -> None:
    with anyio.fail_after(60):
        await bomb()
        await backpressure()


anyio.run(main, backend=sys.argv[1])
