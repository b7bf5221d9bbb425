"""QA: what a client sees and what the server logs when a handler (a) raises before accepting,
(b) lets ConnectionClosed escape after the client closed normally, (c) raises an ExceptionGroup,
(d) returns without accepting. Usage: python handler_errors.py RUNNER"""
import asyncio, logging, sys
import anyio, trio
from wsproto.anyio import ConnectionClosed, ConnectionRejected, open_websocket_url, serve_websocket

logs = []
class H(logging.Handler):
    def emit(self, r): logs.append(f"{r.levelname}:{r.getMessage()[:60]}")
logging.getLogger().addHandler(H())

async def main():
    async def handler(req):
        kind = req.path.strip("/")
        if kind == "before":
            raise ValueError("before accept")
        if kind == "noaccept":
            return
        ws = await req.accept()
        if kind == "escape":
            while True:
                await ws.get_message()   # ConnectionClosed(1000) escapes when the client leaves
        if kind == "group":
            raise ExceptionGroup("g", [ValueError("x")])
    async with anyio.create_task_group() as tg:
        srv = await tg.start(serve_websocket, handler, "127.0.0.1", 0, None)
        for kind in ["before", "noaccept", "escape", "group"]:
            try:
                async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/{kind}") as ws:
                    if kind == "group":
                        await ws.get_message()
                r = f"closed {ws.closed.code}"
            except ConnectionRejected as e:
                r = f"ConnectionRejected {e.status_code}"
            except BaseException as e:
                r = f"{type(e).__name__} {getattr(getattr(e, 'reason', None), 'code', '')}"
            await anyio.sleep(0.2)
            print(f"{sys.argv[1]:14} {kind:9} client: {r:28} server logs: {logs}")
            logs.clear()
        tg.cancel_scope.cancel()

{"asyncio.run": lambda: asyncio.run(main()), "trio.run": lambda: trio.run(main),
 "anyio-asyncio": lambda: anyio.run(main), "anyio-trio": lambda: anyio.run(main, backend="trio")}[sys.argv[1]]()
