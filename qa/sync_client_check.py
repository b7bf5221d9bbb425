"""QA: wsproto.sync against a `wsproto --serve`-like server in a thread (wsproto.sync.serve).

Usage: python sync_client_check.py asyncio|trio
Checks recv(timeout) -> TimeoutError, iteration, close, ping, errors, threads left behind,
a recv blocked in another thread when close() is called, server shutdown -> 1001.
"""

from __future__ import annotations

import sys
import threading
import time

from wsproto.anyio import ConnectionClosed, ConnectionRejected
from wsproto.sync import connect, serve

BACKEND = sys.argv[1] if len(sys.argv) > 1 else "asyncio"
results: dict = {}


def threads() -> list[str]:
    return sorted(t.name for t in threading.enumerate() if t is not threading.main_thread())


def echo(ws):
    for m in ws:
        if m == "close-1011":
            ws.close(1011, "asked")
            return
        if m == "burst":
            for i in range(5):
                ws.send(f"b{i}")
            ws.close(1000)
            return
        ws.send(m)


base = threads()
with serve(echo, "127.0.0.1", 0, backend=BACKEND) as server:
    port = server.port if hasattr(server, "port") else server.socket.getsockname()[1]
    url = f"ws://127.0.0.1:{port}/"
    t_srv = threads()

    # recv(timeout) -> TimeoutError; still usable
    with connect(url, backend=BACKEND) as ws:
        t0 = time.monotonic()
        try:
            ws.recv(timeout=0.3)
            results["recv_timeout"] = "no error"
        except TimeoutError:
            results["recv_timeout"] = f"TimeoutError after {time.monotonic() - t0:.1f}s"
        except BaseException as e:  # noqa: BLE001
            results["recv_timeout"] = repr(e)
        ws.send("hi")
        results["after_timeout"] = ws.recv(timeout=2)
        ws.send(b"\x00\x01")
        results["binary"] = ws.recv(timeout=2)
        results["ping"] = type(ws.ping()).__name__
        results["threads_open"] = len(threads()) - len(t_srv)
    results["threads_after_with"] = len(threads()) - len(t_srv)

    # iteration ends on normal close
    with connect(url, backend=BACKEND) as ws:
        ws.send("burst")
        results["iteration"] = list(ws)
    # iteration raises on 1011
    with connect(url, backend=BACKEND) as ws:
        ws.send("close-1011")
        try:
            results["iteration_1011"] = list(ws)
        except ConnectionClosed as e:
            results["iteration_1011"] = f"ConnectionClosed({e.reason.code})"

    # send after close
    ws = connect(url, backend=BACKEND)
    ws.close()
    ws.close()  # idempotent
    try:
        ws.send("x")
        results["send_after_close"] = "no error"
    except BaseException as e:  # noqa: BLE001
        results["send_after_close"] = f"{type(e).__name__}"
    results["threads_after_close"] = len(threads()) - len(t_srv)

    # close() from another thread while recv() is blocked
    ws = connect(url, backend=BACKEND)
    out = {}

    def reader():
        try:
            out["r"] = ws.recv()
        except BaseException as e:  # noqa: BLE001
            out["r"] = type(e).__name__

    th = threading.Thread(target=reader)
    th.start()
    time.sleep(0.3)
    ws.close()
    th.join(5)
    results["blocked_recv_on_close"] = out.get("r", "STILL BLOCKED")

    # connection to a dead port
    try:
        connect("ws://127.0.0.1:1/", backend=BACKEND)
    except BaseException as e:  # noqa: BLE001
        results["refused"] = type(e).__name__
    results["threads_after_refused"] = len(threads()) - len(t_srv)

    # server shutdown while a client is connected: 1001
    ws = connect(url, backend=BACKEND)
    ws.send("x")
    ws.recv(timeout=2)
    done = {}

    def waiter():
        try:
            done["r"] = list(ws)
        except BaseException as e:  # noqa: BLE001
            done["r"] = repr(e)

    th = threading.Thread(target=waiter)
    th.start()
    time.sleep(0.2)
server_left = time.monotonic()
th.join(5)
results["client_on_shutdown"] = done.get("r", "STILL BLOCKED")
results["client_closed_code"] = ws.closed.code if getattr(ws, "closed", None) else getattr(ws, "close_code", None)
ws.close()
time.sleep(0.2)
results["threads_at_end"] = threads()
results["base_threads"] = base
for k, v in results.items():
    print(f"{BACKEND:8} {k}: {v}")
