import sys, anyio, client_matrix as c
async def main():
    async def b(s, req):
        await s.send(c.accept_for(req)); await anyio.sleep(10)
    async def body(url, seen):
        try:
            async with c.open_websocket_url(url, disconnect_timeout=1) as ws:
                pass
        finally:
            seen["closed"] = str(ws.closed)
    print(await c.run_client_against(b, body))
anyio.run(main, backend=sys.argv[1])
