"""The end-to-end client loop every adapter shares, on asyncio or on trio.

A command asks for ``conns`` connections, each doing ``warmup`` untimed
round trips and then round trips for ``seconds``: send one binary message of
``size`` bytes, receive its echo. The server's CPU time over the timed part
comes from /proc (``server_pid``), so it counts every thread of the server.
Replies are checked: every length, the content of the last one.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from bench import procs

clock = time.perf_counter
TIME_LIMIT = 60.0  # seconds a command may take beyond its timed part


def message(size: int) -> bytes:
    return random.Random(f"echo/{size}").randbytes(size)


def url(command: dict[str, Any]) -> str:
    return f"ws://127.0.0.1:{command['port']}/bench"


class Meter:
    """CPU time of the server process and of this one across the timed part."""

    def __init__(self, command: dict[str, Any]) -> None:
        self.server = command.get("server_pid")

    def start(self) -> None:
        self.client_cpu = procs.cpu_seconds(os.getpid())
        if self.server:
            self.server_cpu = procs.cpu_seconds(self.server)
            self.server_ticks = procs.user_system_ticks(self.server)

    def stop(self, result: dict[str, Any]) -> dict[str, Any]:
        result["client_cpu"] = procs.cpu_seconds(os.getpid()) - self.client_cpu
        if self.server:
            result["server_cpu"] = procs.cpu_seconds(self.server) - self.server_cpu
            user, system = procs.user_system_ticks(self.server)
            user -= self.server_ticks[0]
            system -= self.server_ticks[1]
            if user + system:
                # Kernel share: what the socket calls cost (10 ms ticks, coarse).
                result["server_system_share"] = system / (user + system)
        return result


Connect = Callable[[contextlib.AsyncExitStack], Awaitable[Any]]
RoundTrip = Callable[[Any, bytes], Awaitable[bytes]]
Gather = Callable[[list[Coroutine[Any, Any, Any]]], Awaitable[list[Any]]]


async def rounds(
    command: dict[str, Any], connect: Connect, round_trip: RoundTrip, gather: Gather
) -> dict[str, Any]:
    """Run ``command`` with ``connect(stack)`` (which registers its own cleanup)."""
    size = command["size"]
    payload = message(size)
    async with contextlib.AsyncExitStack() as stack:
        conns = [await connect(stack) for _ in range(command["conns"])]
        for conn in conns:
            for _ in range(command["warmup"]):
                reply = await round_trip(conn, payload)
            if bytes(reply) != payload:
                raise AssertionError("the echo differs from the message (warm-up)")
        meter = Meter(command)
        meter.start()
        start = clock()
        deadline = start + command["seconds"]

        async def loop(conn: Any) -> tuple[int, float, bytes]:
            count = 0
            while True:
                reply = await round_trip(conn, payload)
                if len(reply) != size:
                    raise AssertionError(f"an echo of {len(reply)} bytes, not {size}")
                count += 1
                now = clock()
                if now >= deadline:
                    return count, now, reply

        finished = await gather([loop(conn) for conn in conns])
        result = meter.stop({"ok": True})
        if any(bytes(reply) != payload for _, _, reply in finished):
            raise AssertionError("the echo differs from the message")
        result["round_trips"] = sum(count for count, _, _ in finished)
        result["seconds"] = max(end for _, end, _ in finished) - start
        return result


async def asyncio_gather(coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    import asyncio

    return list(await asyncio.gather(*coros))


async def trio_gather(coros: list[Coroutine[Any, Any, Any]]) -> list[Any]:
    import trio

    results: list[Any] = [None] * len(coros)

    async def keep(index: int, coro: Coroutine[Any, Any, Any]) -> None:
        results[index] = await coro

    async with trio.open_nursery() as nursery:
        for index, coro in enumerate(coros):
            nursery.start_soon(keep, index, coro)
    return results


def run(
    backend: str, main: Callable[[], Awaitable[dict[str, Any]]], seconds: float
) -> dict[str, Any]:
    """Run ``main`` on asyncio or trio, cancelled if it overruns its time by TIME_LIMIT."""
    limit = seconds + TIME_LIMIT
    if backend == "trio":
        import trio

        async def bounded_trio() -> dict[str, Any]:
            with trio.fail_after(limit):
                return await main()

        return trio.run(bounded_trio)
    import asyncio

    async def bounded_asyncio() -> dict[str, Any]:
        return await asyncio.wait_for(main(), limit)

    return asyncio.run(bounded_asyncio())


def client(
    command: dict[str, Any], backend: str, connect: Connect, round_trip: RoundTrip
) -> dict[str, Any]:
    """The usual ``client()`` of an adapter: ``rounds`` on ``backend`` within a time limit."""
    gather = trio_gather if backend == "trio" else asyncio_gather
    return run(backend, lambda: rounds(command, connect, round_trip, gather), command["seconds"])
