"""The driver-by-runner matrix: every transport the layer runs over, every way to run it.

A behavioural test is written once, as a scenario ``async def scenario(t: Transport)``
that serves a handler and connects a client through ``t``, and asserts what
it sees. ``test_matrix.py`` runs each scenario in every cell: each
:data:`TRANSPORTS` entry under each :data:`RUNNERS` entry, and beside them
under the pytest plugins (anyio's, pytest-asyncio's, pytest-trio's). The
assertions are the same in every cell: a scenario that needs a cell-specific
expectation is a bug report against the layer, not a test.

Transports:

* ``tcp``: :func:`serve_websocket` and :func:`open_websocket_url`. On asyncio
  that is the layer's own asyncio stream with its data-callback fast path
  (and parked idle connections); on trio, the raw socket stream.
* ``tcp-anyio``: anyio's own TCP streams under :class:`WebSocketServer` and
  :func:`wrap_client_stream`: TCP on asyncio without any fast path.
* ``tls``: ``wss://`` with a trustme CA, through the same public entry points.
* ``memory``: :func:`wsproto.anyio.testing.memory_stream_pair` ends.
* ``user-stream``: a plain ``ByteStream`` a user wrote (``helpers.MemoryByteStream``).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio
import outcome
import trio
import trustme
from anyio.abc import ByteStream, Listener, TaskGroup

from wsproto.anyio import (
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    open_websocket_url,
    serve_websocket,
    wrap_client_stream,
)
from wsproto.anyio.testing import memory_stream_pair

from .helpers import memory_stream_pair as user_stream_pair

T = TypeVar("T")

Handler = Callable[[WebSocketRequest], Awaitable[None]]
Connect = Callable[..., AbstractAsyncContextManager[WebSocketConnection]]


# Runners: each runs ``fn()`` to completion on a fresh event loop.


def _guest_run(fn: Callable[[], Awaitable[T]]) -> T:
    """trio in guest mode on an asyncio loop, the way an asyncio GUI host would run it."""

    async def host() -> T:
        loop = asyncio.get_running_loop()
        done: asyncio.Future[outcome.Outcome[T]] = loop.create_future()
        trio.lowlevel.start_guest_run(
            fn,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            done_callback=done.set_result,
            host_uses_signal_set_wakeup_fd=True,
        )
        return (await done).unwrap()

    return asyncio.run(host())


def _asyncio_run(fn: Callable[[], Awaitable[T]]) -> T:
    async def main() -> T:
        return await fn()

    return asyncio.run(main(), debug=True)


RUNNERS: dict[str, Callable[[Callable[[], Awaitable[Any]]], Any]] = {
    "asyncio.run": _asyncio_run,
    "trio.run": trio.run,
    "anyio.run-asyncio": partial(anyio.run, backend="asyncio", backend_options={"debug": True}),
    "anyio.run-trio": partial(anyio.run, backend="trio"),
    "trio-guest-on-asyncio": _guest_run,
}


# Transports


class _QueueListener(Listener[ByteStream]):
    """A listener whose connections are server ends handed over by :meth:`Transport.connect`."""

    def __init__(self) -> None:
        self.incoming, self._accepted = anyio.create_memory_object_stream[ByteStream](16)

    async def serve(
        self, handler: Callable[[ByteStream], Any], task_group: TaskGroup | None = None
    ) -> None:
        async with anyio.create_task_group() as own:
            group = task_group or own
            async for stream in self._accepted:
                group.start_soon(handler, stream)

    async def aclose(self) -> None:
        self.incoming.close()
        self._accepted.close()

    @property
    def extra_attributes(self) -> dict[Any, Callable[[], Any]]:
        return {}


@dataclass
class Transport:
    """How one cell serves a handler and connects a client to it."""

    name: str

    def server(self, handler: Handler, **options: Any) -> AbstractAsyncContextManager[Connect]:
        """Serve ``handler`` for the duration of the block; yields ``connect(**options)``.

        ``connect`` is an async context manager yielding an open client
        connection, closed at the end of its block. Leaving the server's
        block cancels the server (open connections are closed with 1001).
        """
        return _serve(self.name, handler, options)


_tls: tuple[ssl.SSLContext, ssl.SSLContext] | None = None


def _tls_contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    global _tls
    if _tls is None:
        ca = trustme.CA()
        server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(server)
        client = ssl.create_default_context()
        ca.configure_trust(client)
        _tls = (server, client)
    return _tls


@asynccontextmanager
async def _serve(name: str, handler: Handler, options: dict[str, Any]) -> AsyncIterator[Connect]:
    options.setdefault("ping_interval", None)
    options.setdefault("disconnect_timeout", 10)
    async with anyio.create_task_group() as group:
        if name in ("tcp", "tls"):
            server_context, client_context = _tls_contexts() if name == "tls" else (None, None)
            server: WebSocketServer = await group.start(
                partial(serve_websocket, handler, "127.0.0.1", 0, server_context, **options)
            )
            scheme = "wss" if name == "tls" else "ws"
            url = f"{scheme}://127.0.0.1:{server.port}"

            def connect_url(resource: str = "/", **client: Any) -> Any:
                client.setdefault("ping_interval", None)
                client.setdefault("disconnect_timeout", 10)
                if client_context is not None:
                    client["ssl_context"] = client_context
                return open_websocket_url(url + resource, **client)

            yield connect_url
        elif name == "tcp-anyio":
            multi = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
            tcp_server = WebSocketServer(handler, [multi], **options)
            await group.start(tcp_server.run)
            port = tcp_server.port

            async def open_tcp() -> ByteStream:
                return await anyio.connect_tcp("127.0.0.1", port)

            yield partial(_wrapped_client, open_tcp)
        else:
            listener = _QueueListener()
            await group.start(WebSocketServer(handler, [listener], **options).run)
            pair = memory_stream_pair if name == "memory" else partial(user_stream_pair, 64)

            async def open_memory() -> ByteStream:
                client_end, server_end = pair()
                await listener.incoming.send(server_end)
                return client_end

            yield partial(_wrapped_client, open_memory)
        group.cancel_scope.cancel()


@asynccontextmanager
async def _wrapped_client(
    open_stream: Callable[[], Awaitable[ByteStream]], resource: str = "/", **options: Any
) -> AsyncIterator[WebSocketConnection]:
    """A user's own client over a stream: a task group, wrap_client_stream, aclose."""
    options.setdefault("ping_interval", None)
    options.setdefault("disconnect_timeout", 10)
    stream = await open_stream()
    error: Exception | None = None
    async with anyio.create_task_group() as group:
        ws = await wrap_client_stream(group, stream, "localhost", resource, **options)
        try:
            yield ws
        except Exception as exc:
            # Raised again outside the group, so that it is not wrapped in one.
            error = exc
        finally:
            await ws.aclose()
            await stream.aclose()
    if error is not None:
        raise error


TRANSPORTS = {
    name: Transport(name) for name in ("tcp", "tcp-anyio", "tls", "memory", "user-stream")
}
