"""A byte stream straight on a connected TCP socket, for any backend (used on trio).

anyio's own socket stream costs two checkpoints and several layers per call;
this one reads and writes the socket first and waits (``anyio.wait_readable``
/ ``wait_writable``) only when it would block. It names no event loop library.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from typing import Any

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskGroup

__all__ = ["RawSocketListener", "RawSocketStream"]


class RawSocketStream(ByteStream):
    """A byte stream straight on a connected non-blocking TCP socket, for any backend.

    Reads and writes go to the socket first and wait (``anyio.wait_readable``
    / ``wait_writable``) only when it would block, so a read that finds data
    waiting and a write the kernel takes whole cost one system call and no
    trip through the event loop. Used on trio for plain TCP, where anyio's own
    socket stream costs two checkpoints and several layers per call.

    ``inner`` is the anyio stream that owns the socket; closing closes it.
    """

    def __init__(self, inner: ByteStream) -> None:
        self._inner = inner
        self._sock: socket.socket = inner.extra(SocketAttribute.raw_socket)
        self._closed = False
        self._drained = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        sock = self._sock
        while True:
            if self._closed:
                raise anyio.ClosedResourceError
            if self._drained:
                # The last read took less than asked, so the socket was empty
                # then and most likely still is: wait first instead of paying
                # a system call and an exception to find out.
                self._drained = False
                await anyio.wait_readable(sock)
                continue
            try:
                data = sock.recv(max_bytes)
            except BlockingIOError:
                await anyio.wait_readable(sock)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            if not data:
                raise anyio.EndOfStream
            self._drained = len(data) < max_bytes
            return data

    async def send(self, item: bytes) -> None:
        sock = self._sock
        view = memoryview(item)
        while view:
            if self._closed:
                raise anyio.ClosedResourceError
            try:
                sent = sock.send(view)
            except BlockingIOError:
                await anyio.wait_writable(sock)
                continue
            except OSError as exc:
                raise anyio.BrokenResourceError from exc
            view = view[sent:]

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        self._closed = True
        await self._inner.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._inner.extra_attributes


class RawSocketListener(Listener[RawSocketStream]):
    """Wraps a plain TCP listener so that accepted connections are :class:`RawSocketStream`s."""

    def __init__(self, listener: Listener[Any]) -> None:
        self._listener = listener

    async def serve(
        self, handler: Callable[[RawSocketStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        async def wrapped(stream: ByteStream) -> None:
            await handler(RawSocketStream(stream))

        await self._listener.serve(wrapped, task_group)

    async def aclose(self) -> None:
        await self._listener.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._listener.extra_attributes
