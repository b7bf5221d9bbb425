"""QA: the anyio client against hostile raw servers, plus cancellation/checkpoints.

Usage: python client_matrix.py RUNNER [SCENARIO ...]   (RUNNER as in layer_matrix.py)
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import struct
import sys
import time
import traceback

import anyio

from wsproto.anyio import ConnectionClosed, open_websocket_url, serve_websocket

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from layer_matrix import Srv, close_code_of, errlogs, exc_desc, frame  # noqa: E402

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_for(req: bytes, wrong: bool = False) -> bytes:
    key = [l.split(b":", 1)[1].strip() for l in req.split(b"\r\n") if l.lower().startswith(b"sec-websocket-key")][0]
    acc = base64.b64encode(hashlib.sha1(key + GUID).digest())
    if wrong:
        acc = base64.b64encode(b"0" * 20)
    return b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acc + b"\r\n\r\n"


async def raw_server(behaviour):
    """Start a raw TCP listener; behaviour(stream, request_bytes) runs per connection."""
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    port = listener.extra(anyio.abc.SocketAttribute.local_port)

    async def handle(stream):
        async with stream:
            buf = b""
            try:
                while b"\r\n\r\n" not in buf:
                    buf += await stream.receive()
                await behaviour(stream, buf)
            except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                pass

    return listener, port, handle


async def run_client_against(behaviour, body) -> dict:
    listener, port, handle = await raw_server(behaviour)
    seen: dict = {}
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        t0 = time.monotonic()
        try:
            await body(f"ws://127.0.0.1:{port}/", seen)
        except BaseException as e:  # noqa: BLE001
            seen["exc"] = exc_desc(e)
            seen["exc_is_group"] = isinstance(e, BaseExceptionGroup)
            seen["msg"] = str(e)[:100]
        seen["secs"] = round(time.monotonic() - t0)
        tg.cancel_scope.cancel()
    seen["logs"] = errlogs()
    return seen


async def simple_body(url, seen):
    async with open_websocket_url(url, connect_timeout=3, disconnect_timeout=2) as ws:
        seen["got"] = await ws.get_message()


async def sc_wrong_accept():
    async def b(s, req):
        await s.send(accept_for(req, wrong=True))
        await anyio.sleep(5)
    return await run_client_against(b, simple_body)


async def sc_garbage_after_101():
    async def b(s, req):
        await s.send(accept_for(req) + b"\x8f\xff garbage \x00\x01\x02" * 4)
        seen = await s.receive()
        await anyio.sleep(1)
    return await run_client_against(b, simple_body)


async def sc_close_during_handshake():
    async def b(s, req):
        await s.aclose()
    return await run_client_against(b, simple_body)


async def sc_http_403():
    async def b(s, req):
        await s.send(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 4\r\n\r\nnope")
        await anyio.sleep(2)
    return await run_client_against(b, simple_body)


async def sc_silent_server_connect_timeout():
    async def b(s, req):
        await anyio.sleep(10)
    return await run_client_against(b, simple_body)


async def sc_peer_never_answers_close():
    """Peer accepts then ignores everything; leaving the block must end within disconnect_timeout (2 s)."""
    async def b(s, req):
        await s.send(accept_for(req))
        await anyio.sleep(10)

    async def body(url, seen):
        async with open_websocket_url(url, connect_timeout=3, disconnect_timeout=2) as ws:
            pass
        seen["closed"] = ws.closed.code if ws.closed else None
    return await run_client_against(b, body)


async def sc_server_masked_frame():
    """Server frames must not be masked: client should fail with 1002."""
    async def b(s, req):
        await s.send(accept_for(req) + frame(1, b"hello", mask=True))
        data = b""
        with anyio.move_on_after(2):
            while True:
                data += await s.receive()
    return await run_client_against(b, simple_body)


async def sc_server_sends_after_close():
    async def b(s, req):
        await s.send(accept_for(req) + frame(8, struct.pack("!H", 1000) + b"bye", mask=False) + frame(1, b"after", mask=False))
        await anyio.sleep(2)
    return await run_client_against(b, simple_body)


async def sc_peer_stops_reading():
    """Our sends block when the peer stops reading; cancelling them works and nothing escapes."""
    async def b(s, req):
        await s.send(accept_for(req))
        await anyio.sleep(10)

    async def body(url, seen):
        async with open_websocket_url(url, connect_timeout=3, disconnect_timeout=1, compression=None) as ws:
            sent = 0
            with anyio.move_on_after(2) as sc:
                while True:
                    await ws.send_message(b"x" * 65536)
                    sent += 1
            seen["send_blocked"] = sc.cancelled_caught
            seen["sent_bounded"] = sent < 1000
    return await run_client_against(b, body)


# ---- cancellation / checkpoint conventions (issue 11) ---------------------------------------
async def sc_checkpoints():
    seen: dict = {}

    async def handler(req):
        ws = await req.accept()
        await ws.send_message("queued")
        async for m in ws:
            seen.setdefault("server_got", []).append(m)

    async with Srv(handler) as srv:
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
            await anyio.sleep(0.3)  # "queued" is now in the inbox
            with anyio.CancelScope() as sc:
                sc.cancel()
                try:
                    m = await ws.get_message()
                    seen["get_in_cancelled_scope"] = f"returned {m!r}"
                except anyio.get_cancelled_exc_class():
                    seen["get_in_cancelled_scope"] = "cancelled"
            with anyio.CancelScope() as sc:
                sc.cancel()
                try:
                    await ws.send_message("should-not-go")
                    seen["send_in_cancelled_scope"] = "sent"
                except anyio.get_cancelled_exc_class():
                    seen["send_in_cancelled_scope"] = "cancelled"
            await ws.send_message("after")
            seen["get_after"] = await ws.get_message() if False else "skip"
            await anyio.sleep(0.3)
            seen["still_open"] = ws.closed is None
        await anyio.sleep(0.3)
    seen["logs"] = errlogs()
    return seen


async def sc_cancel_during_connect():
    seen: dict = {}

    async def handler(req):
        await anyio.sleep(5)  # never decides
        await req.accept()

    async with Srv(handler) as srv:
        with anyio.move_on_after(0.5) as sc:
            async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/"):
                seen["entered"] = True
        seen["cancelled_caught"] = sc.cancelled_caught
    seen["logs"] = errlogs()
    return seen


async def sc_handler_cancelled_mid_send():
    """Handler sends a huge message under a short timeout to a client that does not read."""
    seen: dict = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        with anyio.move_on_after(0.5) as sc:
            await ws.send_message(b"y" * 50_000_000)
        seen["send_cancelled"] = sc.cancelled_caught
        try:
            await ws.send_message("after")
            seen["after"] = "sent"
        except BaseException as e:  # noqa: BLE001
            seen["after"] = exc_desc(e)
        seen["closed"] = ws.closed.code if ws.closed else None
        done.set()

    async with Srv(handler, compression=None) as srv:
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/", max_message_size=None, compression=None) as ws:
            with anyio.fail_after(5):
                await done.wait()
            try:
                m = await ws.get_message()
                seen["client_got"] = f"{type(m).__name__} {len(m)}"
            except BaseException as e:  # noqa: BLE001
                seen["client_got"] = exc_desc(e)
    seen["logs"] = errlogs()
    return seen


SCENARIOS = {k[3:]: v for k, v in list(globals().items()) if k.startswith("sc_")}


async def main(names):
    for name in names:
        try:
            with anyio.fail_after(30):
                res = await SCENARIOS[name]()
        except BaseException as e:  # noqa: BLE001
            res = {"ESCAPED": repr(e)[:300], "tb": traceback.format_exc()[-800:]}
        print(json.dumps({"runner": RUNNER, "scenario": name, **res}, sort_keys=True, default=str), flush=True)


if __name__ == "__main__":
    RUNNER = sys.argv[1]
    names = sys.argv[2:] or list(SCENARIOS)
    if RUNNER == "asyncio.run":
        asyncio.run(main(names))
    elif RUNNER == "trio.run":
        import trio

        trio.run(main, names)
    elif RUNNER == "anyio-asyncio":
        anyio.run(main, names, backend="asyncio")
    elif RUNNER == "anyio-trio":
        anyio.run(main, names, backend="trio")
