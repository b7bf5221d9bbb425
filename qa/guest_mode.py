"""Issue 11: trio guest mode on an asyncio host loop: a client and server on the trio side
must work (echo, then close 1000). Bounded by a 10 s host timeout."""
import asyncio
import trio
import anyio
from wsproto.anyio import open_websocket_url, serve_websocket

async def trio_main():
    async def echo(req):
        ws = await req.accept()
        async for m in ws:
            await ws.send_message(m)
    async with trio.open_nursery() as n:
        srv = await n.start(serve_websocket, echo, "127.0.0.1", 0, None)
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
            await ws.send_message("guest")
            r = await ws.get_message()
        n.cancel_scope.cancel()
    return r, ws.closed.code

async def host():
    loop = asyncio.get_running_loop()
    done = loop.create_future()
    trio.lowlevel.start_guest_run(trio_main, run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                                  done_callback=done.set_result, host_uses_signal_set_wakeup_fd=True)
    outcome = await asyncio.wait_for(done, 10)
    print("guest run:", outcome)

asyncio.run(host())
