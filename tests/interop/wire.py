"""Byte counting around real transports: proof that compression is on the wire."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from anyio.abc import ByteStream, Listener, TaskGroup


class CountingStream(ByteStream):
    """A byte stream that counts what passes through it each way."""

    def __init__(self, inner: ByteStream, counter: CountingListener | None = None) -> None:
        self._inner = inner
        self._counter = counter
        self.sent = 0
        self.received = 0

    async def receive(self, max_bytes: int = 65536) -> bytes:
        data = await self._inner.receive(max_bytes)
        self.received += len(data)
        if self._counter is not None:
            self._counter.received += len(data)
        return data

    async def send(self, item: bytes) -> None:
        await self._inner.send(item)
        self.sent += len(item)
        if self._counter is not None:
            self._counter.sent += len(item)

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._inner.extra_attributes


class CountingListener(Listener[ByteStream]):
    """A listener whose connections count their bytes, summed here over all of them."""

    def __init__(self, inner: Listener[ByteStream]) -> None:
        self._inner = inner
        self.sent = 0
        self.received = 0

    async def serve(
        self, handler: Callable[[ByteStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        async def counted(stream: ByteStream) -> None:
            await handler(CountingStream(stream, self))

        await self._inner.serve(counted, task_group)

    async def aclose(self) -> None:
        await self._inner.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self._inner.extra_attributes
