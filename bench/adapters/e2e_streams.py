"""The ceilings: echo the same bytes over plain streams, with no WebSocket work.

The client sends what a WebSocket client would (frame header, a zero masking
key, the payload); the server reads the header, then the payload, and writes
back a server frame header and the payload. No handshake, no unmasking, no
validation, no events: what any WebSocket server on the same streams costs
at least. ``options["api"]``: asyncio streams (readexactly / writelines +
drain), trio streams, or anyio's TCP streams on asyncio or on trio (the floor
under any anyio-based layer); trio and anyio share one small buffered reader.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Awaitable, Callable
from importlib.metadata import version
from typing import Any

from bench import wire
from bench.adapters import drive

Exactly = Callable[[int], Awaitable[bytes]]


def versions() -> dict[str, str]:
    return {"python": sys.version.split()[0], "trio": version("trio"), "anyio": version("anyio")}


async def read_frame(exactly: Exactly) -> bytes:
    """One frame's payload (any masking key is taken to be zero)."""
    head = await exactly(2)
    length = head[1] & 0x7F
    if length == 126:
        length = int.from_bytes(await exactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await exactly(8), "big")
    if head[1] & 0x80:
        await exactly(4)
    return await exactly(length)


class Reader:
    """``exactly(n)`` over a stream's ``receive(max_bytes)``."""

    def __init__(self, receive: Callable[[int], Awaitable[bytes]]) -> None:
        self.receive = receive
        self.buffer = bytearray()

    async def exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            data = await self.receive(65536)
            if not data:
                raise EOFError
            self.buffer += data
        out = bytes(self.buffer[:count])
        del self.buffer[:count]
        return out


# --- servers -----------------------------------------------------------------


def serve(host: str, port: int, options: dict[str, Any]) -> None:
    api = options["api"]
    if api == "asyncio":
        serve_asyncio(host, port)
    elif api == "trio":
        serve_trio(host, port)
    else:
        serve_anyio(host, port, api.removeprefix("anyio-"))


def serve_asyncio(host: str, port: int) -> None:
    import asyncio

    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                payload = await read_frame(reader.readexactly)
                writer.writelines([wire.header(wire.BINARY, len(payload)), payload])
                await writer.drain()
        writer.close()

    async def main() -> None:
        server = await asyncio.start_server(echo, host, port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


async def echo_stream(receive: Callable[[int], Awaitable[bytes]], send: Any) -> None:
    reader = Reader(receive)
    with contextlib.suppress(EOFError, OSError):
        while True:
            payload = await read_frame(reader.exactly)
            await send(wire.header(wire.BINARY, len(payload)) + payload)


def serve_trio(host: str, port: int) -> None:
    import trio

    async def echo(stream: trio.SocketStream) -> None:
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
            await echo_stream(stream.receive_some, stream.send_all)

    trio.run(lambda: trio.serve_tcp(echo, port, host=host, backlog=1024))


def serve_anyio(host: str, port: int, backend: str) -> None:
    import anyio

    async def echo(stream: Any) -> None:
        with contextlib.suppress(anyio.BrokenResourceError, anyio.EndOfStream):
            await echo_stream(stream.receive, stream.send)

    async def main() -> None:
        listener = await anyio.create_tcp_listener(local_host=host, local_port=port, backlog=1024)
        await listener.serve(echo)

    anyio.run(main, backend=backend)


# --- clients -----------------------------------------------------------------


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    api = options["api"]
    port = command["port"]
    backend = "trio" if api.endswith("trio") else "asyncio"

    async def connect(stack: contextlib.AsyncExitStack) -> tuple[Exactly, Any]:
        if api == "asyncio":
            import asyncio

            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            stack.callback(writer.close)

            async def send(data: bytes) -> None:
                writer.write(data)
                await writer.drain()

            return reader.readexactly, send
        if api == "trio":
            import trio

            stream: Any = await trio.open_tcp_stream("127.0.0.1", port)
            await stack.enter_async_context(stream)
            return Reader(stream.receive_some).exactly, stream.send_all
        import anyio

        stream = await anyio.connect_tcp("127.0.0.1", port)
        await stack.enter_async_context(stream)
        return Reader(stream.receive).exactly, stream.send

    async def round_trip(conn: tuple[Exactly, Any], payload: bytes) -> bytes:
        exactly, send = conn
        await send(wire.header(wire.BINARY, len(payload), wire.ZERO_KEY) + payload)
        return await read_frame(exactly)

    return drive.client(command, backend, connect, round_trip)
