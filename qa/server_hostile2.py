"""QA: server side vs raw peers: (a) half-close (send_eof) mid-frame, (b) close frame then data,
(c) slowloris handshake with handshake_timeout=1, (d) server shutdown while a handler is blocked
sending to a peer that does not read (default disconnect_timeout), timed.
Usage: python server_hostile2.py RUNNER"""
import asyncio, base64, os, struct, sys, time
import anyio, trio
from wsproto.anyio import ConnectionClosed, serve_websocket

HS = lambda: (f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode()

def masked(op, payload, fin=True):
    n = len(payload)
    hdr = struct.pack("!BB", (0x80 if fin else 0) | op, 0x80 | n) if n < 126 else struct.pack("!BBH", (0x80 if fin else 0) | op, 0x80 | 126, n)
    return hdr + b"\0\0\0\0" + payload

async def connect(port):
    s = await anyio.connect_tcp("127.0.0.1", port)
    await s.send(HS())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += await s.receive()
    return s

async def main():
    res = {}
    seen = []
    async def handler(req):
        ws = await req.accept()
        if req.path == "/":
            try:
                while True:
                    seen.append(await ws.get_message())
            except ConnectionClosed as e:
                seen.append(e.reason.code)
    async with anyio.create_task_group() as tg:
        srv = await tg.start(lambda task_status: serve_websocket(handler, "127.0.0.1", 0, None, handshake_timeout=1, task_status=task_status))
        # (a) half-close mid-frame
        s = await connect(srv.port)
        await s.send(masked(2, b"x" * 1000)[:200])
        await s.send_eof()
        t0 = time.monotonic()
        data = b""
        with anyio.move_on_after(5):
            try:
                while True:
                    data += await s.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
        res["halfclose"] = (seen[:], f"server closed TCP in {time.monotonic()-t0:.1f}s")
        seen.clear(); await s.aclose()
        # (b) close frame, then a text frame
        s = await connect(srv.port)
        await s.send(masked(8, struct.pack("!H", 1000)) + masked(1, b"after close"))
        with anyio.move_on_after(3):
            try:
                while True:
                    await s.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
        await anyio.sleep(0.2)
        res["data_after_close"] = seen[:]; seen.clear(); await s.aclose()
        # (c) slowloris
        s = await anyio.connect_tcp("127.0.0.1", srv.port)
        t0 = time.monotonic()
        dropped = None
        with anyio.move_on_after(5):
            try:
                for ch in HS()[:-4]:
                    await s.send(bytes([ch]))
                    await anyio.sleep(0.05)
            except (anyio.BrokenResourceError, OSError):
                dropped = round(time.monotonic() - t0, 1)
        res["slowloris_dropped_after"] = dropped
        await s.aclose()
        tg.cancel_scope.cancel()
    # (d) shutdown while a handler is blocked in send to a non-reading peer
    async def flood(req):
        ws = await req.accept()
        while True:
            await ws.send_message(b"z" * 65536)
    async with anyio.create_task_group() as tg:
        srv = await tg.start(lambda task_status: serve_websocket(flood, "127.0.0.1", 0, None, compression=None, task_status=task_status))
        s = await connect(srv.port)  # never reads
        await anyio.sleep(1.5)
        t0 = time.monotonic()
        with anyio.CancelScope() as cs:
            tg.cancel_scope.cancel()
    res["shutdown_with_stalled_peer_secs"] = round(time.monotonic() - t0, 1)
    await s.aclose()
    print(sys.argv[1], res)

{"asyncio.run": lambda: asyncio.run(main()), "trio.run": lambda: trio.run(main),
 "anyio-asyncio": lambda: anyio.run(main), "anyio-trio": lambda: anyio.run(main, backend="trio")}[sys.argv[1]]()
