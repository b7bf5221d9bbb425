"""An echo server that runs out of file descriptors on purpose (run by test_faults.py).

``python emfile_server.py BACKEND SPARE``: serves WebSockets on a free
loopback port, prints ``port N``, then lowers its own RLIMIT_NOFILE so that
only ``SPARE`` more descriptors can be opened: the next connections make
``accept()`` fail with EMFILE. It runs in a process of its own so that the
test process never runs short. A line on stdin stops it; it then prints
``failures N span S``: how many accept() calls failed with EMFILE, over how
many seconds from the first failure to the last, and exits 0.
"""

from __future__ import annotations

import errno
import socket
import sys
import time
from typing import Any

# Count failed accept() calls. Patched before anyio and trio are imported:
# trio binds the method when it is imported; asyncio looks it up at each call.
failures: list[float] = []
_accept = socket.socket.accept


def _counting_accept(self: socket.socket) -> Any:
    try:
        return _accept(self)
    except OSError as exc:
        if exc.errno == errno.EMFILE:
            failures.append(time.monotonic())
        raise


socket.socket.accept = _counting_accept  # type: ignore[method-assign]

import logging  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402

import anyio  # noqa: E402

from wsproto.anyio import WebSocketRequest, serve_websocket  # noqa: E402


async def echo(request: WebSocketRequest) -> None:
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message)


async def main(spare: int) -> None:
    async with anyio.create_task_group() as group:
        server = await group.start(serve_websocket, echo, "127.0.0.1", 0, None)
        # Read stdin in a thread started now, while descriptors are plentiful.
        stop = anyio.Event()

        async def wait_for_stop() -> None:
            await anyio.to_thread.run_sync(sys.stdin.readline)
            stop.set()

        group.start_soon(wait_for_stop)
        await anyio.sleep(0)
        in_use = len(os.listdir("/proc/self/fd"))
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        resource.setrlimit(resource.RLIMIT_NOFILE, (in_use + spare, hard))
        print(f"port {server.port}", flush=True)
        await stop.wait()
        span = failures[-1] - failures[0] if failures else 0.0
        print(f"failures {len(failures)} span {span:.3f}", flush=True)
        group.cancel_scope.cancel()


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
    anyio.run(main, int(sys.argv[2]), backend=sys.argv[1])
