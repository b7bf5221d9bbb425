"""picows 2.3.1 (Cython, asyncio; aiofastnet transports, its default).

picows calls a listener back for every frame; the server echoes each frame
from the callback without copying it, which is how picows is meant to be
used. The client awaits each echo through a future, like the other clients.
"""

from __future__ import annotations

import asyncio
import contextlib
from importlib.metadata import version
from typing import Any

from picows import WSListener, WSMsgType, ws_connect, ws_create_server

from bench.adapters import drive


def versions() -> dict[str, str]:
    return {"picows": version("picows"), "aiofastnet": version("aiofastnet")}


class Echo(WSListener):
    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()
        elif frame.msg_type != WSMsgType.PING and frame.msg_type != WSMsgType.PONG:
            transport.send(frame.msg_type, frame.get_payload_as_memoryview(), frame.fin)


def serve(host: str, port: int, options: dict[str, Any]) -> None:
    async def main() -> None:
        server = await ws_create_server(lambda request: Echo(), host, port, backlog=1024)
        await server.serve_forever()

    asyncio.run(main())


class Waiter(WSListener):
    """Hands each received binary frame to whoever awaits ``reply``."""

    reply: asyncio.Future[bytes] | None = None

    def on_ws_frame(self, transport: Any, frame: Any) -> None:
        if self.reply is None or self.reply.done():
            return
        if frame.msg_type == WSMsgType.BINARY:
            self.reply.set_result(frame.get_payload_as_bytes())
        elif frame.msg_type == WSMsgType.CLOSE:
            self.reply.set_exception(ConnectionError("closed by the server"))

    def on_ws_disconnected(self, transport: Any) -> None:
        if self.reply is not None and not self.reply.done():
            self.reply.set_exception(ConnectionError("disconnected"))


async def round_trip(conn: tuple[Any, Waiter], payload: bytes) -> bytes:
    transport, listener = conn
    listener.reply = asyncio.get_running_loop().create_future()
    transport.send(WSMsgType.BINARY, payload)
    return await listener.reply


def client(command: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    async def connect(stack: contextlib.AsyncExitStack) -> tuple[Any, Waiter]:
        transport, listener = await ws_connect(Waiter, drive.url(command))

        async def close() -> None:
            transport.send_close()
            transport.disconnect()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(transport.wait_disconnected(), 5)

        stack.push_async_callback(close)
        return transport, listener

    return drive.client(command, "asyncio", connect, round_trip)
