"""QA: serve_websocket with a user handler_nursery (handler raises), and WebSocketServer.port /
.listeners with two listeners (trio-websocket: .port raises RuntimeError when ambiguous).
Usage: python server_api.py RUNNER"""
import asyncio, logging, sys
import anyio, trio
from wsproto.anyio import ConnectionClosed, open_websocket_url, serve_websocket
logging.disable(logging.CRITICAL)

async def main():
    async def handler(req):
        ws = await req.accept()
        await ws.get_message()
        raise ValueError("boom")
    res = {}
    try:
        async with anyio.create_task_group() as user_tg:
            srv = await user_tg.start(lambda task_status: serve_websocket(handler, "127.0.0.1", 0, None, handler_nursery=user_tg, task_status=task_status))
            async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
                await ws.send_message("x")
                try:
                    await ws.get_message()
                except ConnectionClosed as e:
                    res["client"] = e.reason.code
            await anyio.sleep(0.3)
            res["server_alive"] = True
            user_tg.cancel_scope.cancel()
    except BaseException as e:
        res["escaped_from_user_tg"] = repr(e)[:120]
    async with anyio.create_task_group() as tg:
        srv = await tg.start(serve_websocket, handler, ["127.0.0.1", "127.0.0.2"], 0, None)
        res["listeners"] = len(srv.listeners)
        try:
            res["port"] = srv.port
        except BaseException as e:
            res["port"] = f"{type(e).__name__}: {e}"[:90]
        tg.cancel_scope.cancel()
    print(sys.argv[1], res)

{"asyncio.run": lambda: asyncio.run(main()), "trio.run": lambda: trio.run(main),
 "anyio-asyncio": lambda: anyio.run(main), "anyio-trio": lambda: anyio.run(main, backend="trio")}[sys.argv[1]]()
