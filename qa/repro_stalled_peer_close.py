"""Repro: the server accepts (raw 101) then never reads nor answers. The client sends
64 KiB messages until a send blocks, cancels that send (move_on_after 2 s), then leaves
`async with` (disconnect_timeout=1). Compare what leaving the block does per backend.
Usage: python repro_stalled_peer_close.py asyncio|trio"""
import base64, hashlib, sys, time
import anyio
from wsproto.anyio import open_websocket_url

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

async def main():
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async def handle(s):
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += await s.receive()
        key = [l.split(b":", 1)[1].strip() for l in buf.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
        acc = base64.b64encode(hashlib.sha1(key + GUID).digest())
        await s.send(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n")
        await anyio.sleep(30)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        t0 = time.monotonic()
        try:
            async with open_websocket_url(f"ws://127.0.0.1:{port}/", disconnect_timeout=1, compression=None) as ws:
                n = 0
                with anyio.move_on_after(2):
                    while True:
                        await ws.send_message(b"x" * 65536)
                        n += 1
                print(f"sent {n} messages before blocking; ws.closed={ws.closed}")
            print(f"left the block cleanly after {time.monotonic()-t0:.1f}s; ws.closed={ws.closed}")
        except Exception as e:
            print(f"leaving the block raised {e!r} after {time.monotonic()-t0:.1f}s; ws.closed={ws.closed}")
        tg.cancel_scope.cancel()

anyio.run(main, backend=sys.argv[1])
