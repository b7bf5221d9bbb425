"""Repro: cancel a server while a handler is blocked in send_message() to a peer that does not
read. asyncio: shutdown waits the whole disconnect_timeout (60 s by default; 5 s here);
trio: returns at once (connection aborted, 1006). Usage: python repro_shutdown_stalled_peer.py asyncio|trio"""
import base64, os, sys, time
import anyio
from wsproto.anyio import serve_websocket

async def main():
    async def flood(req):
        ws = await req.accept()
        try:
            while True:
                await ws.send_message(b"z" * 65536)
        finally:
            print(f"handler ends; ws.closed={ws.closed}")
    async with anyio.create_task_group() as tg:
        srv = await tg.start(lambda task_status: serve_websocket(flood, "127.0.0.1", 0, None, compression=None, disconnect_timeout=5, task_status=task_status))
        s = await anyio.connect_tcp("127.0.0.1", srv.port)
        await s.send((f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        await s.receive()
        await anyio.sleep(1.5)  # the handler is now blocked: we never read
        t0 = time.monotonic()
        tg.cancel_scope.cancel()
    print(f"server stopped {time.monotonic() - t0:.1f}s after cancel")

anyio.run(main, backend=sys.argv[1])
