"""QA: hostile peers and faults against wsproto.anyio, under one runner.

Usage: python layer_matrix.py RUNNER [SCENARIO ...]
RUNNER: asyncio.run | trio.run | anyio-asyncio | anyio-trio
Prints one JSON line per scenario with what was observed; compare.py diffs them.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import socket
import struct
import sys
import time
import traceback

import anyio
from anyio.abc import SocketAttribute

from wsproto.anyio import ConnectionClosed, open_websocket_url, serve_websocket

# ---- log capture -------------------------------------------------------------
RECORDS: list[logging.LogRecord] = []


class Capture(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        RECORDS.append(record)


logging.getLogger().addHandler(Capture())
logging.getLogger().setLevel(logging.WARNING)


def errlogs() -> list[str]:
    out = [f"{r.levelname}:{r.name}:{r.getMessage()[:80]}" for r in RECORDS if r.levelno >= logging.WARNING]
    RECORDS.clear()
    return out


# ---- raw peer helpers ----------------------------------------------------------
def handshake(path: str = "/") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()


def frame(opcode: int, payload: bytes, fin: bool = True, mask: bool = True) -> bytes:
    b0 = (0x80 if fin else 0) | opcode
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        hdr = struct.pack("!BB", b0, mbit | n)
    elif n < 65536:
        hdr = struct.pack("!BBH", b0, mbit | 126, n)
    else:
        hdr = struct.pack("!BBQ", b0, mbit | 127, n)
    if not mask:
        return hdr + payload
    key = os.urandom(4)
    return hdr + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


async def raw_connect(port: int):
    s = await anyio.connect_tcp("127.0.0.1", port)
    await s.send(handshake())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += await s.receive()
    head, _, rest = buf.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101"), head
    return s, rest


async def read_all(s, limit: float = 3.0) -> bytes:
    data = b""
    with anyio.move_on_after(limit):
        try:
            while True:
                data += await s.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
            pass
    return data


def close_code_of(data: bytes) -> int | None:
    # first server frame that is a close (server frames are unmasked)
    i = 0
    while i + 2 <= len(data):
        op = data[i] & 0x0F
        n = data[i + 1] & 0x7F
        j = i + 2
        if n == 126:
            n = struct.unpack("!H", data[j : j + 2])[0]
            j += 2
        elif n == 127:
            n = struct.unpack("!Q", data[j : j + 8])[0]
            j += 8
        if op == 8:
            return struct.unpack("!H", data[j : j + 2])[0] if n >= 2 else 1005
        i = j + n
    return None


def exc_desc(e: BaseException | None) -> str | None:
    if e is None:
        return None
    if isinstance(e, ConnectionClosed):
        return f"ConnectionClosed({e.reason.code if e.reason else None})"
    return type(e).__name__


# ---- a server fixture -------------------------------------------------------
class Srv:
    def __init__(self, handler, **kw):
        self.handler = handler
        self.kw = kw
        self.results: list = []

    async def __aenter__(self):
        self.tg = anyio.create_task_group()
        await self.tg.__aenter__()
        self.server = await self.tg.start(lambda task_status: serve_websocket(self.handler, "127.0.0.1", 0, None, task_status=task_status, **self.kw))
        self.port = self.server.port
        return self

    async def __aexit__(self, *exc):
        self.tg.cancel_scope.cancel()
        return await self.tg.__aexit__(*exc)


# ---- scenarios --------------------------------------------------------------
async def sc_drop_mid_message(rst: bool) -> dict:
    seen: dict = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        if done.is_set():  # the second, normal client
            await ws.aclose()
            return
        try:
            seen["msg"] = await ws.get_message()
        except BaseException as e:  # noqa: BLE001
            seen["exc"] = exc_desc(e)
        seen["closed"] = ws.closed.code if ws.closed else None
        done.set()

    async with Srv(handler) as srv:
        s, _ = await raw_connect(srv.port)
        f = frame(2, b"x" * 1000)
        await s.send(f[:300])
        await anyio.sleep(0.1)
        if rst:
            raw = s.extra(SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        await s.aclose()
        with anyio.fail_after(5):
            await done.wait()
        # server still serves a new client
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
            pass
    seen["logs"] = errlogs()
    return seen


async def sc_drop_fin() -> dict:
    return await sc_drop_mid_message(False)


async def sc_drop_rst() -> dict:
    return await sc_drop_mid_message(True)


async def sc_garbage() -> dict:
    seen: dict = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        try:
            seen["msg"] = await ws.get_message()
        except BaseException as e:  # noqa: BLE001
            seen["exc"] = exc_desc(e)
        seen["closed"] = ws.closed.code if ws.closed else None
        done.set()

    async with Srv(handler) as srv:
        s, rest = await raw_connect(srv.port)
        await s.send(b"\xff\xfe garbage garbage garbage \x00\x01" * 4)
        data = rest + await read_all(s, 3)
        seen["peer_got_close"] = close_code_of(data)
        await s.aclose()
        with anyio.fail_after(5):
            await done.wait()
    seen["logs"] = errlogs()
    return seen


async def sc_unmasked() -> dict:
    """A client frame without a mask: must be 1002."""
    seen: dict = {}

    async def handler(req):
        ws = await req.accept()
        try:
            await ws.get_message()
        except BaseException as e:  # noqa: BLE001
            seen["exc"] = exc_desc(e)

    async with Srv(handler) as srv:
        s, rest = await raw_connect(srv.port)
        await s.send(frame(1, b"hello", mask=False))
        seen["peer_got_close"] = close_code_of(rest + await read_all(s, 3))
        await s.aclose()
        await anyio.sleep(0.2)
    seen["logs"] = errlogs()
    return seen


async def sc_handler_raises() -> dict:
    seen: dict = {}

    async def handler(req):
        ws = await req.accept()
        await ws.get_message()
        raise ValueError("boom")

    async with Srv(handler) as srv:
        url = f"ws://127.0.0.1:{srv.port}/"
        async with open_websocket_url(url) as ws:
            await ws.send_message("hi")
            try:
                await ws.get_message()
            except BaseException as e:  # noqa: BLE001
                seen["client_exc"] = exc_desc(e)
        # still serving
        async with open_websocket_url(url) as ws:
            await ws.send_message("hi")
            try:
                await ws.get_message()
            except ConnectionClosed as e:
                seen["second_client"] = e.reason.code
    logs = errlogs()
    seen["n_error_logs"] = len([x for x in logs if x.startswith("ERROR")])
    seen["logs"] = logs
    return seen


async def sc_cancel_client() -> dict:
    seen: dict = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        try:
            await ws.get_message()
        except BaseException as e:  # noqa: BLE001
            seen["server_exc"] = exc_desc(e)
        done.set()

    async with Srv(handler) as srv:
        t0 = time.monotonic()
        with anyio.move_on_after(0.3) as scope:
            async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
                await ws.get_message()
        seen["cancelled_caught"] = scope.cancelled_caught
        seen["client_closed"] = ws.closed.code if ws.closed else None
        seen["fast"] = time.monotonic() - t0 < 2
        with anyio.fail_after(5):
            await done.wait()
    seen["logs"] = errlogs()
    return seen


async def sc_send_after_close() -> dict:
    seen: dict = {}

    async def handler(req):
        ws = await req.accept()
        try:
            async for m in ws:
                await ws.send_message(m)
        except ConnectionClosed:
            pass
        try:
            await ws.send_message("late")
        except BaseException as e:  # noqa: BLE001
            seen["server_send_after"] = exc_desc(e)

    async with Srv(handler) as srv:
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
            await ws.aclose()
            for name, coro in [("send", lambda: ws.send_message("x")), ("get", ws.get_message), ("ping", ws.ping)]:
                try:
                    await coro()
                    seen[name] = "no error"
                except BaseException as e:  # noqa: BLE001
                    seen[name] = exc_desc(e)
        await anyio.sleep(0.3)
    seen["logs"] = errlogs()
    return seen


async def sc_shutdown() -> dict:
    seen: dict = {"clients": []}
    outer_tg_exc = None

    async def handler(req):
        ws = await req.accept()
        async for m in ws:
            await ws.send_message(m)

    async def client(port, ready):
        async with open_websocket_url(f"ws://127.0.0.1:{port}/") as ws:
            await ws.send_message("x")
            await ws.get_message()
            ready.set()
            try:
                await ws.get_message()
                seen["clients"].append("got message?")
            except BaseException as e:  # noqa: BLE001
                seen["clients"].append(exc_desc(e))

    try:
        async with anyio.create_task_group() as ctg:
            async with anyio.create_task_group() as stg:
                server = await stg.start(lambda task_status: serve_websocket(handler, "127.0.0.1", 0, None, task_status=task_status))
                evs = [anyio.Event() for _ in range(3)]
                for e in evs:
                    ctg.start_soon(client, server.port, e)
                with anyio.fail_after(5):
                    for e in evs:
                        await e.wait()
                stg.cancel_scope.cancel()
    except BaseException as e:  # noqa: BLE001
        outer_tg_exc = repr(e)
    seen["clients"].sort()
    seen["outer_exc"] = outer_tg_exc
    seen["logs"] = errlogs()
    return seen


async def sc_too_big() -> dict:
    seen: dict = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        try:
            await ws.get_message()
        except BaseException as e:  # noqa: BLE001
            seen["server_exc"] = exc_desc(e)
        done.set()

    async with Srv(handler, max_message_size=1000) as srv:
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
            await ws.send_message(b"x" * 5000)
            try:
                await ws.get_message()
            except BaseException as e:  # noqa: BLE001
                seen["client_exc"] = exc_desc(e)
        with anyio.fail_after(5):
            await done.wait()
        # the client side limit: server sends too big to a client
        async def big(req):
            ws = await req.accept()
            try:
                await ws.send_message("y" * 5000)
                await ws.get_message()
            except BaseException as e:  # noqa: BLE001
                seen["server2_exc"] = exc_desc(e)

        srv.handler = big
        async with Srv(big) as srv2:
            async with open_websocket_url(f"ws://127.0.0.1:{srv2.port}/", max_message_size=1000) as ws:
                try:
                    await ws.get_message()
                except BaseException as e:  # noqa: BLE001
                    seen["client2_exc"] = exc_desc(e)
            await anyio.sleep(0.3)
    seen["logs"] = errlogs()
    return seen


async def sc_slow_consumer() -> dict:
    seen: dict = {}
    N = 300

    async def handler(req):
        ws = await req.accept()
        t0 = time.monotonic()
        for i in range(N):
            await ws.send_message(f"{i}:" + "z" * 2000)
        seen["sender_time"] = round(time.monotonic() - t0, 1) > 0.5  # blocked by back-pressure
        await ws.aclose(1000)

    async with Srv(handler) as srv:
        got = []
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/", message_queue_size=1, compression=None) as ws:
            try:
                while True:
                    m = await ws.get_message()
                    got.append(int(m.split(":")[0]))
                    if len(got) % 50 == 0:
                        await anyio.sleep(0.2)
            except ConnectionClosed as e:
                seen["close"] = e.reason.code
        seen["received"] = len(got)
        seen["in_order"] = got == list(range(N))
    seen["logs"] = errlogs()
    return seen


async def sc_send_then_close() -> dict:
    """Issue 11: handler sends 3 messages then aclose(1000); client must get all 3."""
    seen: dict = {"lost": 0}

    async def handler(req):
        ws = await req.accept()
        for i in range(20):
            await ws.send_message(f"m{i}")
        await ws.aclose(1000)

    async with Srv(handler) as srv:
        for _ in range(10):
            got = []
            async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
                try:
                    while True:
                        got.append(await ws.get_message())
                except ConnectionClosed as e:
                    code = e.reason.code
            if len(got) != 20:
                seen["lost"] += 1
            seen["code"] = code
    seen["logs"] = errlogs()
    return seen


async def sc_user_exc() -> dict:
    seen: dict = {}

    async def handler(req):
        ws = await req.accept()
        async for m in ws:
            await ws.send_message(m)

    async with Srv(handler) as srv:
        try:
            async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
                try:
                    raise TypeError("inner")
                except TypeError:
                    raise ValueError("outer")
        except BaseException as e:  # noqa: BLE001
            seen["exc"] = type(e).__name__
            seen["context"] = type(e.__context__).__name__ if e.__context__ else None
            seen["suppress_context"] = e.__suppress_context__
    await anyio.sleep(0.1)
    seen["logs"] = errlogs()
    return seen


async def sc_normal_close_server_sees() -> dict:
    """Issue 11: plain asyncio lost the client's 1000 (handler saw 1006)."""
    seen: dict = {}
    done = anyio.Event()

    async def handler(req):
        ws = await req.accept()
        try:
            async for m in ws:
                await ws.send_message(m)
        except ConnectionClosed:
            pass
        seen["server_saw"] = ws.closed.code if ws.closed else None
        done.set()

    async with Srv(handler) as srv:
        async with open_websocket_url(f"ws://127.0.0.1:{srv.port}/") as ws:
            await ws.send_message("a")
            await ws.get_message()
            await anyio.sleep(0.3)  # let the server connection go idle
        with anyio.fail_after(5):
            await done.wait()
    seen["logs"] = errlogs()
    return seen


SCENARIOS = {k[3:]: v for k, v in list(globals().items()) if k.startswith("sc_") and k != "sc_drop_mid_message"}


async def main(names):
    for name in names:
        try:
            with anyio.fail_after(30):
                res = await SCENARIOS[name]()
        except BaseException as e:  # noqa: BLE001
            res = {"ESCAPED": repr(e)[:300], "tb": traceback.format_exc()[-600:]}
        print(json.dumps({"runner": RUNNER, "scenario": name, **res}, sort_keys=True), flush=True)


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
