"""Listening: the server's listeners, their accept loops, and failures there.

How ``serve_websocket`` listens on each backend (our asyncio listener; on
trio a raw socket listener, or anyio's TLS listener made quiet), and the
accept loop that outlives a shortage of file descriptors or memory instead
of ending the server.
"""

from __future__ import annotations

import errno
import ssl
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio import aclose_forcefully
from anyio.abc import AnyByteStream, Listener, SocketAttribute
from anyio.streams.tls import TLSListener

from . import _log
from ._errors import Endpoint
from ._rawsocket import RawSocketListener
from ._settings import endpoints
from ._transport import AsyncioTCPListener, on_asyncio

__all__ = [
    "QuietTLSListener",
    "accept_capacity_error",
    "peer_of",
    "serve_listener",
    "tcp_listeners",
]

#: accept() errors that mean "out of a resource for now", not "the listener is
#: broken": the process or system file table is full, or the kernel is short
#: of memory. The pending connection stays in the backlog, so accepting again
#: at once would fail again at once (a 100 % CPU spin); the server waits and
#: retries instead, as trio's serve_listeners does.
ACCEPT_CAPACITY_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
#: First wait after such an error, doubled at each failure in a row up to the
#: maximum: a server out of descriptors tries a few times a second at most.
ACCEPT_RETRY_DELAY = 0.05
ACCEPT_RETRY_MAX_DELAY = 1.0
#: Seconds between two warnings about the same streak of accept failures.
ACCEPT_WARNING_INTERVAL = 10.0


def accept_capacity_error(exc: BaseException) -> OSError | None:
    """The resource-exhaustion ``OSError`` behind a failed accept loop, if that is what it is.

    The listeners report it differently: asyncio's and trio's own accept raise
    the ``OSError``; anyio's trio listener raises ``BrokenResourceError`` from
    it; a listener's task group wraps either in an exception group.
    """
    while True:
        if isinstance(exc, BaseExceptionGroup):
            if len(exc.exceptions) != 1:
                return None
            exc = exc.exceptions[0]
        elif isinstance(exc, anyio.BrokenResourceError) and exc.__cause__ is not None:
            exc = exc.__cause__
        elif isinstance(exc, OSError) and exc.errno in ACCEPT_CAPACITY_ERRNOS:
            return exc
        else:
            return None


class QuietTLSListener(TLSListener):
    """anyio's TLS listener, but a failed TLS handshake is logged at DEBUG, not ERROR.

    A client that drops or stalls during the TLS handshake concerns that
    client only (a scanner, a health check, a lost network): anyio logs each
    with a full traceback, which on a public server floods the logs. The
    asyncio listener is as quiet.
    """

    @staticmethod
    async def handle_handshake_error(exc: BaseException, stream: AnyByteStream) -> None:
        failed = isinstance(exc, Exception) and not isinstance(exc, anyio.get_cancelled_exc_class())
        if failed:
            _log.tls_failed(peer_of(stream), exc)  # before the client can see the end
        await aclose_forcefully(stream)
        if not failed:
            raise exc


def peer_of(stream: AnyByteStream) -> Endpoint | str | None:
    """The peer's address, or ``None`` if the socket no longer knows it (reset)."""
    try:
        return endpoints(stream)[1]
    except OSError:
        return None


async def serve_listener(
    listener: Listener[Any], handle: Callable[[Any], Awaitable[None]], spawner: Any
) -> None:
    """Run ``listener``'s accept loop, outliving a shortage of descriptors or memory.

    Out of file descriptors (EMFILE), the accept loop fails; other errors
    end the server as before. Connections in the backlog wait until
    descriptors are freed, as they would if the server were busy.
    """
    delay = ACCEPT_RETRY_DELAY
    last_failure = last_warning = -ACCEPT_WARNING_INTERVAL
    suppressed = 0
    while True:
        try:
            await listener.serve(handle, spawner)
            return
        except BaseException as exc:
            error = accept_capacity_error(exc)
            if error is None:
                raise
        now = time.monotonic()
        if now - last_failure > 2 * ACCEPT_RETRY_MAX_DELAY:
            delay = ACCEPT_RETRY_DELAY  # a new streak
        last_failure = now
        if now - last_warning >= ACCEPT_WARNING_INTERVAL:
            _log.accept_failed(error, suppressed, delay)
            last_warning = now
            suppressed = 0
        else:
            suppressed += 1
        await anyio.sleep(delay)
        delay = min(delay * 2, ACCEPT_RETRY_MAX_DELAY)


async def tcp_listeners(
    host: str | Sequence[str] | None,
    port: int,
    ssl_context: ssl.SSLContext | None,
    handshake_timeout: float,
) -> list[Listener[Any]]:
    """A listener per address of ``host`` (every interface for ``None``), all on one port.

    ``handshake_timeout`` bounds a TLS handshake too: it comes before the
    upgrade request, and a client stalling it must not hold a task for ever.
    """
    hosts: list[str | None] = [host] if host is None or isinstance(host, str) else list(host)
    listeners: list[Listener[Any]] = []
    try:
        for address in hosts:
            multi = await anyio.create_tcp_listener(local_host=address, local_port=port)
            for tcp in multi.listeners:
                if on_asyncio():
                    listeners.append(AsyncioTCPListener(tcp, ssl_context, handshake_timeout))
                elif ssl_context is not None:
                    listeners.append(
                        QuietTLSListener(
                            tcp,
                            ssl_context,
                            standard_compatible=False,
                            handshake_timeout=handshake_timeout,
                        )
                    )
                else:
                    listeners.append(RawSocketListener(tcp))
            if port == 0 and multi.listeners:
                # Several addresses on one free port: the first one picks it.
                port = multi.listeners[0].extra(SocketAttribute.local_port)
    except BaseException:
        for listener in listeners:
            await listener.aclose()
        raise
    return listeners
