"""Taking trio-websocket's arguments: trio streams and listeners, on any backend's terms.

A trio-websocket program passes trio objects (a nursery, a ``trio.abc.Stream``,
trio listeners). A nursery already has the ``start_soon`` the layer uses; the
streams and listeners are wrapped in small adapters with anyio's interfaces,
found by duck typing so that this module never imports trio.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol, runtime_checkable

import anyio
from anyio.abc import ByteStream, Listener, SocketAttribute, TaskGroup


class TaskSpawner(Protocol):
    """Where a connection's tasks run: an anyio ``TaskGroup`` or a trio ``Nursery``."""

    def start_soon(
        self, func: Callable[..., Coroutine[Any, Any, Any]], /, *args: Any, name: object = None
    ) -> object: ...


@runtime_checkable
class KnowsTLS(Protocol):
    """A stream or listener that says whether it runs TLS (ours and the trio adapters)."""

    @property
    def tls(self) -> bool: ...


@runtime_checkable
class TrioStreamLike(Protocol):
    """The part of ``trio.abc.Stream`` the adapter uses."""

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray: ...

    async def send_all(self, data: bytes | bytearray | memoryview) -> None: ...

    async def aclose(self) -> None: ...


@runtime_checkable
class TrioListenerLike(Protocol):
    """The part of ``trio.abc.Listener`` the adapter uses."""

    async def accept(self) -> Any: ...

    async def aclose(self) -> None: ...


def _broken(exc: BaseException) -> BaseException:
    # trio raises its own BrokenResourceError/ClosedResourceError; anyio code
    # expects anyio's. Match by name to keep trio out of our imports.
    name = type(exc).__name__
    if name == "ClosedResourceError":
        return anyio.ClosedResourceError()
    if name == "BrokenResourceError" or isinstance(exc, OSError):
        return anyio.BrokenResourceError()
    return exc


def _trio_socket(wrapped: object) -> Any:
    """The trio socket under a trio socket stream or listener, or under its SSL wrapper."""
    while wrapped is not None:
        sock = getattr(wrapped, "socket", None)
        if sock is not None:
            return sock
        wrapped = getattr(wrapped, "transport_stream", getattr(wrapped, "transport_listener", None))
    return None


def _socket_attributes(sock: Any) -> dict[Any, Callable[[], Any]]:
    """anyio's socket attributes for a trio socket (none if there is no socket)."""
    if sock is None:
        return {}
    attributes: dict[Any, Callable[[], Any]] = {
        SocketAttribute.family: lambda: sock.family,
        SocketAttribute.local_address: sock.getsockname,
    }
    try:
        peer = sock.getpeername()
    except OSError:
        pass  # a listener, or not connected
    else:
        attributes[SocketAttribute.remote_address] = lambda: peer
    return attributes


class TrioStreamAdapter(ByteStream):
    """An anyio byte stream over a trio stream."""

    def __init__(self, stream: TrioStreamLike) -> None:
        self._stream = stream

    @property
    def wrapped(self) -> TrioStreamLike:
        """The trio stream underneath."""
        return self._stream

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            data = await self._stream.receive_some(max_bytes)
        except Exception as exc:
            converted = _broken(exc)
            if converted is exc:
                raise
            raise converted from exc
        if not data:
            raise anyio.EndOfStream
        return bytes(data)

    async def send(self, item: bytes) -> None:
        try:
            await self._stream.send_all(item)
        except Exception as exc:
            converted = _broken(exc)
            if converted is exc:
                raise
            raise converted from exc

    async def send_eof(self) -> None:
        send_eof = getattr(self._stream, "send_eof", None)
        if send_eof is not None:
            await send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()

    @property
    def tls(self) -> bool:
        """Whether the trio stream is an SSL stream."""
        return hasattr(self._stream, "transport_stream")

    @property
    def extra_attributes(self) -> dict[Any, Callable[[], Any]]:
        return _socket_attributes(_trio_socket(self._stream))


class TrioListenerAdapter(Listener[ByteStream]):
    """An anyio listener over a trio listener (``trio.SocketListener``, ``trio.SSLListener``)."""

    def __init__(self, listener: TrioListenerLike) -> None:
        self._listener = listener

    @property
    def wrapped(self) -> TrioListenerLike:
        """The trio listener underneath."""
        return self._listener

    async def serve(
        self,
        handler: Callable[[ByteStream], Any],
        task_group: TaskGroup | None = None,
    ) -> None:
        async with anyio.create_task_group() as own:
            group = task_group or own
            while True:
                stream = await self._listener.accept()
                group.start_soon(handler, TrioStreamAdapter(stream))

    async def aclose(self) -> None:
        await self._listener.aclose()

    @property
    def tls(self) -> bool:
        """Whether the trio listener is an SSL listener."""
        return hasattr(self._listener, "transport_listener")

    @property
    def extra_attributes(self) -> dict[Any, Callable[[], Any]]:
        return _socket_attributes(_trio_socket(self._listener))


def as_byte_stream(stream: ByteStream | TrioStreamLike) -> ByteStream:
    """Return ``stream`` as an anyio byte stream (adapting a trio stream)."""
    if isinstance(stream, ByteStream):
        return stream
    if isinstance(stream, TrioStreamLike):
        return TrioStreamAdapter(stream)
    raise TypeError(f"expected an anyio ByteStream or a trio Stream, not {type(stream).__name__}")


def as_listener(listener: Listener[Any] | TrioListenerLike) -> Listener[Any]:
    """Return ``listener`` as an anyio listener (adapting a trio listener)."""
    if isinstance(listener, Listener):
        return listener
    if isinstance(listener, TrioListenerLike):
        return TrioListenerAdapter(listener)
    raise TypeError(f"expected an anyio Listener or a trio Listener, not {type(listener).__name__}")


def single_exception(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    """The one exception a group stands for, if it stands for one.

    Task groups wrap even a single error in an ExceptionGroup (always on trio);
    users of this layer get the exception itself, as documented.
    """
    leaves: list[BaseException] = []

    def collect(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                collect(inner)
        else:
            leaves.append(exc)

    collect(group)
    cancelled = anyio.get_cancelled_exc_class()
    errors = [exc for exc in leaves if not isinstance(exc, cancelled)]
    if len(errors) == 1:
        return errors[0]
    if not errors and leaves:
        return leaves[0]
    return None


async def run_in(scope: anyio.CancelScope, task: Callable[[], Awaitable[object]]) -> None:
    """Run ``task()`` inside ``scope``: a task started so that it can be cancelled on its own."""
    with scope:
        await task()


async def shielded_task_group(
    scope: anyio.CancelScope, *, task_status: anyio.abc.TaskStatus[TaskGroup]
) -> None:
    """Run a task group that its surroundings' cancellation does not reach.

    Start it with ``tasks = await group.start(shielded_task_group, scope)``
    where ``scope = anyio.CancelScope(shield=True)``; cancel ``scope`` to end
    it. A connection's reader runs there, so that when the code around it is
    cancelled the closing handshake still has a reader to see the peer's reply.
    """
    with scope:
        async with anyio.create_task_group() as tasks:
            task_status.started(tasks)
            await anyio.sleep_forever()
