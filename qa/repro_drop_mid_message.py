"""Repro: a client that drops TCP in the middle of a message (partial frame, then FIN
or RST). Expected: the handler's get_message() raises ConnectionClosed with 1006
(ABNORMAL_CLOSURE), as the docs say for a dropped transport.
Usage: python repro_drop_mid_message.py [asyncio|trio] [fin|rst|idle]"""
import base64, os, socket, struct, sys
import anyio
from anyio.abc import SocketAttribute
from wsproto.anyio import ConnectionClosed, serve_websocket

async def main(mode):
    done = anyio.Event()
    async def handler(req):
        ws = await req.accept()
        try:
            print("got", await ws.get_message())
        except ConnectionClosed as e:
            print("handler: ConnectionClosed", e.reason)
        done.set()
    async with anyio.create_task_group() as tg:
        srv = await tg.start(serve_websocket, handler, "127.0.0.1", 0, None)
        s = await anyio.connect_tcp("127.0.0.1", srv.port)
        key = base64.b64encode(os.urandom(16)).decode()
        await s.send(f"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode())
        print((await s.receive()).split(b"\r\n")[0])
        if mode != "idle":
            # binary frame, FIN, masked (zero mask), 1000-byte payload: send only 300 bytes of it
            await s.send(struct.pack("!BBH", 0x82, 0x80 | 126, 1000) + b"\0\0\0\0" + b"x" * 300)
            await anyio.sleep(0.1)
        if mode == "rst":
            s.extra(SocketAttribute.raw_socket).setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await s.aclose()
        with anyio.fail_after(5):
            await done.wait()
        tg.cancel_scope.cancel()

anyio.run(main, sys.argv[2] if len(sys.argv) > 2 else "fin", backend=sys.argv[1] if len(sys.argv) > 1 else "asyncio")
