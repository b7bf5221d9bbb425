"""A WebSocket chat server on wsproto.anyio, for asyncio or trio.

Usage::

    python chat_server.py [HOST] [PORT] [--backend {asyncio,trio}]

Clients connect to ``ws://HOST:PORT/?name=NAME``. Every text message a
client sends goes to every connected client (its sender too) as
``"NAME: message"``; joining and leaving are announced as ``"* NAME joined"``
and ``"* NAME left"``. Port 0 picks a free port; the server prints where it
listens. Stop it with Ctrl-C or SIGTERM.

A client that cannot keep up must not slow the others down, so nobody ever
waits for a particular client: each one has a small outbox, and a client
whose outbox is full is disconnected (see :meth:`Room.broadcast`).
"""

from __future__ import annotations

import argparse
import functools
import itertools
import signal
from urllib.parse import parse_qs, urlsplit

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream

from wsproto.anyio import ConnectionClosed, WebSocketConnection, WebSocketRequest, serve_websocket

#: Messages waiting for one client. A client that falls this far behind is
#: too slow and is dropped. Memory per client stays bounded: this many
#: messages, each at most the server's max_message_size.
OUTBOX_SIZE = 16


class Member:
    """One connected client: its connection, and an outbox its own task empties."""

    def __init__(self, name: str, ws: WebSocketConnection) -> None:
        self.name = name
        self.ws = ws
        self.outbox, self._inbox = anyio.create_memory_object_stream[str](OUTBOX_SIZE)
        # Cancelled to disconnect the client (see Room.broadcast).
        self.scope = anyio.CancelScope()
        self.too_slow = False

    async def deliver(self) -> None:
        """Send what arrives in the outbox, in order, as fast as the client takes it."""
        inbox: MemoryObjectReceiveStream[str] = self._inbox
        with inbox:
            async for text in inbox:
                try:
                    await self.ws.send_message(text)
                except ConnectionClosed:
                    return


class Room:
    """Everyone connected; broadcasting never waits for anyone."""

    def __init__(self) -> None:
        self.members: set[Member] = set()

    def broadcast(self, text: str) -> None:
        """Queue ``text`` for every member, dropping those who cannot take it."""
        dropped = []
        for member in list(self.members):
            try:
                # send_nowait never waits: the message goes into the outbox
                # now, or the outbox is full.
                member.outbox.send_nowait(text)
            except anyio.WouldBlock:
                # A full outbox means this client reads slower than the room
                # talks. Waiting for it would hold up every other client;
                # keeping more for it would let memory grow without bound.
                # So it is dropped: cancelling its scope stops its handler,
                # which then disconnects it.
                self.members.discard(member)
                member.too_slow = True
                member.scope.cancel()
                dropped.append(member)
        for member in dropped:
            print(f"chat: {member.name} was too slow")
            self.broadcast(f"* {member.name} left (too slow)")

    def join(self, member: Member) -> None:
        self.members.add(member)
        print(f"chat: {member.name} joined")
        self.broadcast(f"* {member.name} joined")

    def leave(self, member: Member) -> None:
        if member in self.members:  # not if dropped, which was announced already
            self.members.discard(member)
            print(f"chat: {member.name} left")
            self.broadcast(f"* {member.name} left")


room = Room()
guest_numbers = itertools.count(1)


async def chat(request: WebSocketRequest) -> None:
    """Handle one client from joining to leaving."""
    names = parse_qs(urlsplit(request.path).query).get("name")
    name = names[0] if names else f"guest{next(guest_numbers)}"
    ws = await request.accept()
    member = Member(name, ws)
    with member.scope:
        async with anyio.create_task_group() as group:
            group.start_soon(member.deliver)
            room.join(member)
            try:
                async for message in ws:
                    text = message if isinstance(message, str) else message.decode(errors="replace")
                    room.broadcast(f"{name}: {text}")
            except ConnectionClosed:
                pass  # closed abnormally: leave all the same
            finally:
                room.leave(member)
                member.outbox.close()
                group.cancel_scope.cancel()
    if member.too_slow:
        # If its task was cancelled halfway through sending, the connection
        # was dropped at once (a frame may be cut short); otherwise say why.
        await ws.aclose(1008, "too slow")


async def main(host: str, port: int, backend: str) -> None:
    async with anyio.create_task_group() as group:
        # A short disconnect_timeout: a dropped client gets 5 s to answer the close.
        server = await group.start(
            functools.partial(serve_websocket, chat, host, port, None, disconnect_timeout=5)
        )
        print(f"chat: listening on {host}:{server.port} ({backend})", flush=True)
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                print("chat: shutting down")
                group.cancel_scope.cancel()
                break


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("host", nargs="?", default="127.0.0.1")
    parser.add_argument("port", nargs="?", type=int, default=8000)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    args = parser.parse_args()
    anyio.run(main, args.host, args.port, args.backend, backend=args.backend)
