"""Load clients, one process each: ``python -m load.client MODE BACKEND PORT [options]``.

Modes:

``concurrent``
    Open ``--connections`` WebSockets, print ``ready`` once all are open,
    wait for ``go`` on stdin, then on every connection send ``--messages``
    sequence-numbered messages back to back while reading the echoes, checking
    that each arrives once and in order; close every connection and print a
    JSON line of results.
``soak``
    For ``--seconds``, ``--workers`` loops each open connection after
    connection, churning: normal exchanges and closes, aborts (TCP reset),
    drops in the middle of a message, and idle peers that never answer the
    server's pings (the server's keepalive must close them). Prints JSON.
``flood``
    One connection floods the server with ``--kind`` frames (empty or tiny
    messages, or pings) for ``--seconds``, reading the answers (``--read``) or
    not. Prints JSON, including how many frames were sent over time (when
    nothing is read, back-pressure must stop the sending).

Every load is bounded in count and time and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import struct
import sys
import time
from typing import Any

import anyio
from anyio.abc import SocketStream

from wsproto import ConnectionType, WSConnection
from wsproto.anyio import open_websocket_url
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Pong,
    Request,
    TextMessage,
)

from .procstat import raise_fd_limit

#: Handshakes in flight at once (the listener's backlog is 4096 at most).
CONNECTING_AT_ONCE = 200


# concurrent


async def concurrent(args: argparse.Namespace) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{args.port}/load"
    opened = 0
    all_open = anyio.Event()
    go = anyio.Event()
    finished: list[float] = []
    result: dict[str, Any] = {
        "connections": 0,
        "messages": 0,
        "lost": 0,
        "duplicated_or_reordered": 0,
        "clean_closes": 0,
        "errors": [],
    }
    gate = anyio.Semaphore(CONNECTING_AT_ONCE)
    start_exchange = 0.0

    async def one(index: int) -> None:
        nonlocal opened
        try:
            async with gate:
                context = open_websocket_url(
                    url, ping_interval=None, message_queue_size=16, disconnect_timeout=60
                )
                ws = await context.__aenter__()
            try:
                opened += 1
                result["connections"] += 1
                if opened == args.connections:
                    all_open.set()
                await go.wait()
                expected = 0
                async with anyio.create_task_group() as group:

                    async def send_all() -> None:
                        for seq in range(args.messages):
                            await ws.send_message(f"{index}:{seq}")

                    group.start_soon(send_all)
                    with anyio.move_on_after(args.timeout):
                        while expected < args.messages:
                            message = await ws.get_message()
                            if message != f"{index}:{expected}":
                                result["duplicated_or_reordered"] += 1
                            expected += 1
                            result["messages"] += 1
                result["lost"] += args.messages - expected
                finished.append(time.monotonic())
            finally:
                await context.__aexit__(None, None, None)
            if ws.closed is not None and ws.closed.code == 1000:
                result["clean_closes"] += 1
        except Exception as exc:
            result["errors"].append(repr(exc))
            if opened < args.connections and len(result["errors"]) + opened >= args.connections:
                all_open.set()

    async with anyio.create_task_group() as group:
        for index in range(args.connections):
            group.start_soon(one, index)
        with anyio.fail_after(args.timeout):
            await all_open.wait()
        print("ready", flush=True)
        await anyio.to_thread.run_sync(sys.stdin.readline)
        start_exchange = time.monotonic()
        go.set()
    result["exchange_seconds"] = (max(finished) - start_exchange) if finished else None
    result["errors"] = result["errors"][:20]
    return result


# Raw peers (the core over a socket): aborts, drops, idle peers, floods


class Raw:
    """A client made of the core and a TCP socket."""

    def __init__(self, stream: SocketStream) -> None:
        self.stream = stream
        self.ws = WSConnection(ConnectionType.CLIENT)

    @classmethod
    async def connect(cls, port: int) -> Raw:
        raw = cls(await anyio.connect_tcp("127.0.0.1", port))
        await raw.stream.send(raw.ws.send(Request(host="127.0.0.1", target="/raw")))
        async for event in raw.events():
            if isinstance(event, AcceptConnection):
                return raw
            raise RuntimeError(f"handshake refused: {event!r}")
        raise RuntimeError("the server closed during the handshake")

    async def events(self) -> Any:
        """Events as they arrive, until the transport ends."""
        while True:
            try:
                data: bytes | None = await self.stream.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                data = None
            self.ws.receive_data(data)
            for event in self.ws.events():
                yield event
            if data is None:
                return

    def reset(self) -> None:
        sock: socket.socket = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


async def echo_once(raw: Raw, text: str) -> bool | None:
    """Send ``text``, return whether its echo came back intact; None if the server closed.

    Pings are answered: a raw peer that does not answer them is closed by
    the server's keepalive (1011), which is not a wrong echo.
    """
    await raw.stream.send(raw.ws.send(TextMessage(text)))
    async for event in raw.events():
        if isinstance(event, Message):
            return bool(event.data == text)
        if isinstance(event, Ping):
            await raw.stream.send(raw.ws.send(event.response()))
        elif isinstance(event, CloseConnection):
            return None
    return None


# soak

BEHAVIOURS = ("normal", "normal", "normal", "abort", "drop-mid-message", "idle")


async def soak(args: argparse.Namespace) -> dict[str, Any]:
    url = f"ws://127.0.0.1:{args.port}/soak"
    counts: dict[str, int] = dict.fromkeys(set(BEHAVIOURS), 0)
    result: dict[str, Any] = {
        "counts": counts,
        "messages": 0,
        "bad_messages": 0,
        "unclean_closes": 0,
        "idle_closed_by_server": 0,
        # Others the server closed first (their pong late on a loaded machine).
        "closed_by_server": 0,
        "errors": [],
    }
    deadline = time.monotonic() + args.seconds

    async def normal_checked(rng: random.Random) -> None:
        sizes = [rng.randint(1, 2000) for _ in range(rng.randint(1, 20))]
        async with open_websocket_url(url, ping_interval=None, disconnect_timeout=30) as ws:
            for seq, size in enumerate(sizes):
                message = (f"{seq}:" * size)[:size]
                await ws.send_message(message)
                echoed = await ws.get_message()
                if echoed != message:
                    result["bad_messages"] += 1
                    result["errors"].append(
                        f"bad echo #{seq} of {len(sizes)}: sent {len(message)} chars "
                        f"{message[:24]!r}..., got {len(echoed)} {echoed[:24]!r}... "
                        f"{echoed[-12:]!r}"
                    )
                result["messages"] += 1
        if ws.closed is None or ws.closed.code != 1000:
            result["unclean_closes"] += 1

    async def abort(rng: random.Random) -> None:
        raw = await Raw.connect(args.port)
        for seq in range(rng.randint(0, 5)):
            intact = await echo_once(raw, f"abort {seq}")
            if intact is None:
                result["closed_by_server"] += 1
                break
            if not intact:
                result["bad_messages"] += 1
                result["errors"].append(f"bad echo in abort #{seq}")
            result["messages"] += 1
        raw.reset()
        await raw.stream.aclose()

    async def drop_mid_message(rng: random.Random) -> None:
        raw = await Raw.connect(args.port)
        frame = raw.ws.send(BytesMessage(rng.randbytes(rng.randint(2, 70000))))
        await raw.stream.send(frame[: rng.randint(1, len(frame) - 1)])
        await raw.stream.aclose()

    async def idle(rng: random.Random) -> None:
        # Never answer the server's pings; it must give up (1011) and drop TCP.
        raw = await Raw.connect(args.port)
        async with raw.stream:
            with anyio.move_on_after(max(10.0, args.ping_interval * 10)):
                async for event in raw.events():
                    if isinstance(event, CloseConnection) and event.code == 1011:
                        result["idle_closed_by_server"] += 1

    actions = {
        "normal": normal_checked,
        "abort": abort,
        "drop-mid-message": drop_mid_message,
        "idle": idle,
    }

    async def worker(number: int) -> None:
        rng = random.Random(args.seed * 1000 + number)
        while time.monotonic() < deadline:
            behaviour = rng.choice(BEHAVIOURS)
            counts[behaviour] += 1
            try:
                with anyio.fail_after(120):
                    await actions[behaviour](rng)
            except (Exception, TimeoutError) as exc:
                if len(result["errors"]) < 20:
                    result["errors"].append(f"{behaviour}: {exc!r}")
                result.setdefault("error_count", 0)
                result["error_count"] += 1

    async with anyio.create_task_group() as group:
        for number in range(args.workers):
            group.start_soon(worker, number)
    return result


# flood


def flood_frame(ws: WSConnection, kind: str) -> bytes:
    if kind == "empty":
        return ws.send(BytesMessage(b""))
    if kind == "tiny":
        return ws.send(BytesMessage(b"x"))
    return ws.send(Ping(b""))


async def flood(args: argparse.Namespace) -> dict[str, Any]:
    raw = await Raw.connect(args.port)
    batch = b"".join(flood_frame(raw.ws, args.kind) for _ in range(1000))
    sent = 0
    received = 0
    series: list[tuple[float, int]] = []
    start = time.monotonic()

    async def send_batches() -> None:
        nonlocal sent
        while True:
            await raw.stream.send(batch)
            sent += 1000

    async def read_answers() -> None:
        nonlocal received
        async for event in raw.events():
            if isinstance(event, Message | Pong):
                received += 1

    async def sample() -> None:
        while True:
            series.append((round(time.monotonic() - start, 2), sent))
            await anyio.sleep(0.5)

    async with anyio.create_task_group() as group:
        group.start_soon(send_batches)
        group.start_soon(sample)
        if args.read:
            group.start_soon(read_answers)
        await anyio.sleep(args.seconds)
        group.cancel_scope.cancel()
    elapsed = time.monotonic() - start
    raw.reset()
    await raw.stream.aclose()
    return {
        "kind": args.kind,
        "read": args.read,
        "seconds": elapsed,
        "sent": sent,
        "received": received,
        "series": series,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=["concurrent", "soak", "flood"])
    parser.add_argument("backend", choices=["asyncio", "trio"])
    parser.add_argument("port", type=int)
    parser.add_argument("--connections", type=int, default=250)
    parser.add_argument("--messages", type=int, default=100)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ping-interval", type=float, default=2.0)
    parser.add_argument("--kind", choices=["empty", "tiny", "ping"], default="empty")
    parser.add_argument("--read", action="store_true")
    args = parser.parse_args()
    raise_fd_limit()
    run = {"concurrent": concurrent, "soak": soak, "flood": flood}[args.mode]
    result = anyio.run(run, args, backend=args.backend)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
