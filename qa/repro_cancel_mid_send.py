"""Repro: a handler sends a 50 MB message under move_on_after(0.5); the client reads.
Expected (as on trio): the send is cancelled after ~0.5 s, the connection then ends
(1006), and the handler goes on. Usage: python repro_cancel_mid_send.py asyncio|trio"""
import sys, time
import anyio
from wsproto.anyio import ConnectionClosed, open_websocket_url, serve_websocket

async def main():
    done = anyio.Event()
    async def handler(req):
        ws = await req.accept()
        t0 = time.monotonic()
        with anyio.move_on_after(0.5) as sc:
            await ws.send_message(b"y" * 50_000_000)
        print(f"handler: send returned after {time.monotonic()-t0:.2f}s, cancelled={sc.cancelled_caught}, closed={ws.closed}")
        done.set()
    async with anyio.create_task_group() as tg:
        srv = await tg.start(lambda task_status: serve_websocket(handler, "127.0.0.1", 0, None, compression=None, task_status=task_status))
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/", max_message_size=None, compression=None) as ws:
            with anyio.move_on_after(10):
                await done.wait()
            if not done.is_set():
                print("handler still stuck in send_message after 10 s")
            try:
                m = await ws.get_message()
                print("client got", len(m))
            except ConnectionClosed as e:
                print("client:", e.reason)
        tg.cancel_scope.cancel()

t0 = time.monotonic()
anyio.run(main, backend=sys.argv[1])
print(f"total {time.monotonic()-t0:.1f}s")
