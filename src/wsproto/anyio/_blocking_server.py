"""The blocking server (``wsproto.sync.serve``): the anyio server, with a thread per connection.

:func:`serve` runs :func:`~wsproto.anyio.serve_websocket` in an event loop
in a background thread. Each connection it accepts gets a thread of its own
that runs the handler with a :class:`ServerConnection`; the connection's work
stays in the event loop, as for the blocking client.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterable
from contextlib import AbstractContextManager
from types import TracebackType
from typing import Literal, TypedDict, Unpack

import anyio
from anyio.abc import TaskStatus
from anyio.from_thread import BlockingPortal, start_blocking_portal

from . import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
    serve_websocket,
)
from ._blocking import Connection

logger = logging.getLogger("wsproto.sync")


class ServeOptions(TypedDict, total=False):
    """The keyword arguments :func:`serve` passes on to :func:`~wsproto.anyio.serve_websocket`.

    Each has the meaning and the default documented there.
    """

    message_queue_size: int
    max_message_size: int | None
    compression: Literal["deflate"] | None
    ping_interval: float | None
    ping_timeout: float | None
    handshake_timeout: float
    disconnect_timeout: float
    max_connections: int | None


class ServerConnection(Connection):
    """One client's connection, as the handler given to :func:`serve` gets it.

    It follows the threading rules of :class:`Connection`. When the handler
    returns, the connection is closed (1000) if the handler did not close it;
    if the handler raises, the error is logged (logger ``wsproto.sync``) and
    the connection closed with 1011.
    """

    def __init__(
        self, portal: BlockingPortal, ws: WebSocketConnection, request: WebSocketRequest
    ) -> None:
        super().__init__(portal, ws)
        self._request_headers = list(request.headers)

    @property
    def request_headers(self) -> list[tuple[bytes, bytes]]:
        """The headers of the client's opening handshake request."""
        return self._request_headers


class Server:
    """A running blocking server; :func:`serve` makes one.

    ``with serve(handler, "127.0.0.1", 8000) as server: server.serve_forever()``
    serves until :meth:`shutdown` (from another thread) or Ctrl-C.
    """

    def __init__(
        self,
        handler: Callable[[ServerConnection], None],
        subprotocols: Iterable[str],
    ) -> None:
        self._handler = handler
        self._subprotocols = list(subprotocols)
        self._portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self._portal: BlockingPortal | None = None
        self._server: WebSocketServer | None = None
        self._scope: anyio.CancelScope | None = None
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    @property
    def port(self) -> int:
        """The port the server listens on (the one it got, when asked for port 0)."""
        assert self._server is not None
        return self._server.port

    def serve_forever(self) -> None:
        """Block until :meth:`shutdown` is called (from another thread)."""
        self._stopped.wait()

    def shutdown(self) -> None:
        """Stop listening, close every connection with 1001, and wait for the handlers.

        Each handler's calls then raise :class:`~wsproto.anyio.ConnectionClosed`;
        this returns once every handler thread has returned (but the one
        calling it, if a handler does) and the event loop's thread has ended.
        Calling it again does nothing.
        """
        with self._lock:
            portal_cm, self._portal_cm = self._portal_cm, None
            if portal_cm is None:
                return
            assert self._portal is not None
            try:
                # Cancelling the server closes every connection with 1001.
                self._portal.call(self._stop)
                for thread in list(self._threads):
                    if thread is not threading.current_thread():  # called by a handler
                        thread.join()
            finally:
                portal_cm.__exit__(None, None, None)
                self._stopped.set()

    async def _stop(self) -> None:
        assert self._scope is not None
        self._scope.cancel()
        await self._served.wait()

    def _start(self, backend: str, start: Callable[..., Awaitable[object]]) -> None:
        """Start the event loop's thread, and the server in it; return once it listens."""
        portal_cm = start_blocking_portal(backend)
        # Set before the server starts: a connection may come at once.
        self._portal = portal_cm.__enter__()
        try:
            _, self._server = self._portal.start_task(self._run, start)
        except BaseException as exc:
            portal_cm.__exit__(type(exc), exc, exc.__traceback__)
            raise
        self._portal_cm = portal_cm

    async def _run(
        self,
        start: Callable[..., Awaitable[object]],
        *,
        task_status: TaskStatus[WebSocketServer] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        self._served = anyio.Event()
        try:
            with anyio.CancelScope() as self._scope:
                await start(self._handle, task_status=task_status)
        finally:
            self._served.set()

    async def _handle(self, request: WebSocketRequest) -> None:
        offered = request.proposed_subprotocols
        subprotocol = next((name for name in offered if name in self._subprotocols), None)
        ws = await request.accept(subprotocol=subprotocol)
        assert self._portal is not None
        connection = ServerConnection(self._portal, ws, request)
        done = anyio.Event()
        # A daemon: a program that never calls shutdown() can still exit.
        thread = threading.Thread(
            target=self._run_handler, args=(connection, done), name="wsproto handler", daemon=True
        )
        # Threads that ended are dropped; shutdown() joins the others.
        self._threads = {known for known in self._threads if known.is_alive()}
        self._threads.add(thread)
        thread.start()
        # Cancelled at shutdown: the layer then closes the connection with
        # 1001, and the handler's next call raises ConnectionClosed.
        await done.wait()

    def _run_handler(self, connection: ServerConnection, done: anyio.Event) -> None:
        try:
            self._handler(connection)
        except ConnectionClosed:
            pass  # the client went away, or the server is shutting down
        except Exception:
            logger.exception("the handler of a WebSocket connection failed")
            with contextlib.suppress(Exception):
                connection.close(1011, "handler failed")
        finally:
            # Fails only when the server is shutting down: nobody waits then.
            with contextlib.suppress(Exception):
                self._portal.call(done.set)  # type: ignore[union-attr]

    def __enter__(self) -> Server:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.shutdown()


def serve(
    handler: Callable[[ServerConnection], None],
    host: str | None,
    port: int,
    *,
    backend: str = "asyncio",
    ssl_context: ssl.SSLContext | None = None,
    subprotocols: Iterable[str] = (),
    **options: Unpack[ServeOptions],
) -> Server:
    """Start a blocking WebSocket server; return it once it listens.

    ``handler(connection)`` runs in a thread of its own for each client, with
    a :class:`ServerConnection`: a blocking connection like the client's.
    Every upgrade request is accepted.

    Args:
        handler: Called with each connection, in a new thread.
        host: The address to listen on; ``None`` for every interface.
        port: The port; 0 picks a free one (see :attr:`Server.port`).
        backend: The event loop to run the server on: ``"asyncio"`` or ``"trio"``.
        ssl_context: TLS settings, to serve ``wss://``.
        subprotocols: The subprotocols to accept, in order of preference
            among those the client offers.
        **options: Passed on to :func:`~wsproto.anyio.serve_websocket`; see
            :class:`ServeOptions`.

    Raises:
        OSError: if the server cannot listen (the port is taken, ...).
    """
    server = Server(handler, subprotocols)
    start = functools.partial(
        serve_websocket, host=host, port=port, ssl_context=ssl_context, **options
    )
    server._start(backend, start)
    return server
