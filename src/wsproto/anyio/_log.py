"""Logging: the layer's three loggers, connection ids, and one function per event logged.

Standard :mod:`logging`, on three loggers:

* ``wsproto.anyio.client``: a client's opening handshake;
* ``wsproto.anyio.server``: a server's opening handshakes, its handlers'
  failures, failed TLS handshakes, accept() retries, and the limits a
  server enforces before a connection opens (handshake timeout,
  ``max_connections``);
* ``wsproto.anyio.connection``: what happens on a connection: pings, the
  closing handshake with its code, limits that fired, its end.

Levels: ERROR for a bug (a handler that raised, a failed connection task),
with its traceback, once; WARNING for a server in trouble that carries on
(accept() failing for want of descriptors); DEBUG for everything about one
connection, never a record per message. Nothing at INFO: an application that
turns INFO on for its own records would otherwise get two lines per
connection from us (docs/howto-logging.rst says more).

Every record about a connection names it in its message,
``conn 17 127.0.0.1:53412: close received 1000 'bye'``, and carries the same
in ``extra`` fields: ``ws_connection_id`` and ``ws_peer``; every record
carries ``ws_event``, the name of the function below that logged it. Some
add ``ws_path``, ``ws_close_code``, ``ws_status``, ``ws_limit`` or
``ws_latency``.

Cost: a connection holds its id only, a small int. Each function first asks
its logger whether the level is on and, when it is off, does nothing more: no
string is formatted, no dict made.
"""

from __future__ import annotations

import itertools
import logging
from typing import Protocol

__all__ = [
    "accept_failed",
    "client_logger",
    "close_received",
    "close_sent",
    "closed",
    "connection_failed",
    "connection_logger",
    "handler_failed",
    "handshake_accepted",
    "handshake_failed",
    "handshake_logger",
    "handshake_rejected",
    "handshake_sent",
    "limit",
    "new_id",
    "peer_text",
    "ping_received",
    "ping_sent",
    "pong_received",
    "protocol_error",
    "request_received",
    "server_logger",
    "task_failed",
    "tls_failed",
]

client_logger = logging.getLogger("wsproto.anyio.client")
server_logger = logging.getLogger("wsproto.anyio.server")
connection_logger = logging.getLogger("wsproto.anyio.connection")

DEBUG = logging.DEBUG
WARNING = logging.WARNING
ERROR = logging.ERROR


class Address(Protocol):
    """An :class:`~wsproto.anyio.Endpoint`, as this module sees it.

    A protocol rather than an import: this module imports no other module of
    the layer, so that every other one may log.
    """

    @property
    def address(self) -> str: ...

    @property
    def port(self) -> int: ...


#: What a connection's ``remote`` property gives: an Endpoint, a Unix socket
#: path, or None (an in-memory or other stream without an address).
Peer = Address | str | None

#: Ping payloads are shown in hex up to this many bytes.
_PAYLOAD_SHOWN = 16

_ids = itertools.count(1)


def new_id() -> int:
    """A new connection id: 1, 2, 3 ... in the order connections are made in this process.

    (``next()`` on an ``itertools.count`` is one C call: event loops in
    several threads get distinct ids without a lock.)
    """
    return next(_ids)


def handshake_logger(client: bool) -> logging.Logger:
    """The logger of a connection's opening handshake: the client's or the server's."""
    return client_logger if client else server_logger


def peer_text(remote: Peer) -> str | None:
    """A peer's address as records show it (``ws_peer``).

    ``host:port`` (``[::1]:port`` for IPv6), ``unix:PATH`` for a Unix socket
    (``unix`` when the peer's socket has no name, as a client's usually has
    not), ``None`` when the stream has no address.
    """
    if remote is None:
        return None
    if isinstance(remote, str):
        return f"unix:{remote}" if remote else "unix"
    host = remote.address
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{remote.port}"


def _path(target: str) -> str:
    # The query string is left out: it often carries tokens.
    return target.partition("?")[0]


def _payload(payload: bytes) -> str:
    if len(payload) > _PAYLOAD_SHOWN:
        return f"{payload[:_PAYLOAD_SHOWN].hex()}... ({len(payload)} bytes)"
    return payload.hex() or "(empty)"


def _emit(
    logger: logging.Logger,
    level: int,
    event: str,
    conn_id: int,
    remote: Peer,
    text: str,
    *args: object,
    exc: BaseException | None = None,
    depth: int = 1,
    **fields: int | str | float | None,
) -> None:
    """Log one record about a connection; the caller has checked that ``level`` is on.

    ``fields``: further ``extra`` fields; ``depth``: frames between the event's
    function and this one, so that the record names the line that called
    the event's function.
    """
    peer = peer_text(remote)
    extra = {"ws_event": event, "ws_connection_id": conn_id, "ws_peer": peer, **fields}
    prefix: tuple[object, ...]
    if peer is None:
        template, prefix = "conn %d: " + text, (conn_id,)
    else:
        template, prefix = "conn %d %s: " + text, (conn_id, peer)
    logger.log(level, template, *prefix, *args, extra=extra, exc_info=exc, stacklevel=depth + 2)


# The opening handshake: on the client's or the server's logger


def handshake_sent(conn_id: int, remote: Peer, target: str) -> None:
    """A client sends its upgrade request for ``target``."""
    if client_logger.isEnabledFor(DEBUG):
        path = _path(target)
        text = "upgrade request for %s"
        _emit(client_logger, DEBUG, "handshake_sent", conn_id, remote, text, path, ws_path=path)


def request_received(conn_id: int, remote: Peer, target: str) -> None:
    """A server received a valid upgrade request for ``target``."""
    if server_logger.isEnabledFor(DEBUG):
        path = _path(target)
        text = "upgrade request for %s"
        _emit(server_logger, DEBUG, "request_received", conn_id, remote, text, path, ws_path=path)


def handshake_accepted(
    logger: logging.Logger, conn_id: int, remote: Peer, target: str, subprotocol: str | None
) -> None:
    """The connection is open: the server accepted (client or server side)."""
    if logger.isEnabledFor(DEBUG):
        path = _path(target)
        text = "open, %s, subprotocol %r"
        event = "handshake_accepted"
        _emit(logger, DEBUG, event, conn_id, remote, text, path, subprotocol, ws_path=path)


def handshake_rejected(logger: logging.Logger, conn_id: int, remote: Peer, status: int) -> None:
    """The upgrade was refused with HTTP ``status`` (by the server, or by the handler)."""
    if logger.isEnabledFor(DEBUG):
        text = "handshake rejected with %d"
        _emit(logger, DEBUG, "handshake_rejected", conn_id, remote, text, status, ws_status=status)


def handshake_failed(logger: logging.Logger, conn_id: int, remote: Peer, why: object) -> None:
    """The opening handshake failed: ``why`` is the error (or what happened, as text).

    The peer's doing (a malformed request or answer, a peer that left, a
    timeout): DEBUG, without a traceback.
    """
    if logger.isEnabledFor(DEBUG):
        _emit(logger, DEBUG, "handshake_failed", conn_id, remote, "handshake failed: %s", why)


def handler_failed(
    conn_id: int, remote: Peer, target: str, exc: BaseException, outcome: str
) -> None:
    """A server's handler raised ``exc``: ERROR, with the traceback.

    ``outcome``: what the server does about it ("closing with 1011").
    """
    if server_logger.isEnabledFor(ERROR):
        path = _path(target)
        text = "handler for %s raised %r; %s"
        args = (path, exc, outcome)
        event = "handler_failed"
        _emit(server_logger, ERROR, event, conn_id, remote, text, *args, exc=exc, ws_path=path)


def connection_failed(conn_id: int, remote: Peer, exc: BaseException) -> None:
    """Serving a connection failed outside its handler (a bug in wsproto): ERROR, traceback."""
    if server_logger.isEnabledFor(ERROR):
        text = "serving the connection failed: %r"
        _emit(server_logger, ERROR, "connection_failed", conn_id, remote, text, exc, exc=exc)


def tls_failed(remote: Peer, exc: BaseException) -> None:
    """A client's TLS handshake with the server failed: that client's business, DEBUG.

    No WebSocket connection was made: the record gets an id of its own.
    """
    if server_logger.isEnabledFor(DEBUG):
        text = "TLS handshake failed: %r"
        _emit(server_logger, DEBUG, "tls_failed", new_id(), remote, text, exc)


def accept_failed(error: OSError, suppressed: int, delay: float) -> None:
    """The server's accept() failed for want of a resource; it retries after ``delay``.

    ``suppressed``: failures not logged since the last warning. About the
    server, not a connection: no id, no peer.
    """
    if server_logger.isEnabledFor(WARNING):
        more = f" ({suppressed} more since the last warning)" if suppressed else ""
        server_logger.warning(
            "accept() failed: %s%s; retrying in %.2f s",
            error,
            more,
            delay,
            extra={"ws_event": "accept_failed"},
            stacklevel=2,
        )


def limit(
    logger: logging.Logger,
    conn_id: int,
    remote: Peer,
    name: str,
    detail: str,
    *args: object,
    close_code: int | None = None,
    status: int | None = None,
) -> None:
    """A limit fired: ``name`` is the setting's (``max_message_size``, ``ping_timeout`` ...).

    On the logger of whoever enforces it. ``detail`` says what happened, a
    %-format string for ``args`` (formatted only if the record is made), as
    in ``limit(..., "no pong within %s s", ping_timeout, close_code=1011)``.
    ``close_code``: the close code the connection closes with; ``status``:
    the HTTP status a handshake was refused with (the record's
    ``ws_close_code`` and ``ws_status``, ``None`` when not given).
    """
    if logger.isEnabledFor(DEBUG):
        outcome: tuple[int, ...]
        if close_code is not None:
            text, outcome = "%s: " + detail + "; closing with %d", (close_code,)
        elif status is not None:
            text, outcome = "%s: " + detail + "; answered %d", (status,)
        else:
            text, outcome = "%s: " + detail, ()
        _emit(
            logger,
            DEBUG,
            "limit",
            conn_id,
            remote,
            text,
            name,
            *args,
            *outcome,
            ws_limit=name,
            ws_close_code=close_code,
            ws_status=status,
        )


# An open connection: on the connection logger


def ping_sent(conn_id: int, remote: Peer, payload: bytes) -> None:
    """A ping went out (the application's or keepalive's)."""
    if connection_logger.isEnabledFor(DEBUG):
        shown = _payload(payload)
        _emit(connection_logger, DEBUG, "ping_sent", conn_id, remote, "ping sent %s", shown)


def ping_received(conn_id: int, remote: Peer, payload: bytes) -> None:
    """The peer's ping arrived (the core's pong answers it)."""
    if connection_logger.isEnabledFor(DEBUG):
        shown = _payload(payload)
        text = "ping received %s"
        _emit(connection_logger, DEBUG, "ping_received", conn_id, remote, text, shown)


def pong_received(conn_id: int, remote: Peer, payload: bytes, latency: float | None) -> None:
    """A pong arrived; ``latency``: seconds since its ping, ``None`` if it answered none."""
    if connection_logger.isEnabledFor(DEBUG):
        shown = _payload(payload)
        event = "pong_received"
        if latency is None:
            text = "pong received %s, answering no ping"
            _emit(connection_logger, DEBUG, event, conn_id, remote, text, shown)
        else:
            text = "pong received %s, latency %.1f ms"
            args = (shown, latency * 1000)
            _emit(connection_logger, DEBUG, event, conn_id, remote, text, *args, ws_latency=latency)


def _close_event(
    event: str, text: str, conn_id: int, remote: Peer, code: int, reason: str | None
) -> None:
    if reason:
        text += " %d %r"
        args: tuple[object, ...] = (code, reason)
    else:
        text += " %d"
        args = (code,)
    _emit(
        connection_logger, DEBUG, event, conn_id, remote, text, *args, depth=2, ws_close_code=code
    )


def close_sent(conn_id: int, remote: Peer, code: int, reason: str | None) -> None:
    """Our close frame was written."""
    if connection_logger.isEnabledFor(DEBUG):
        _close_event("close_sent", "close sent", conn_id, remote, code, reason)


def close_received(conn_id: int, remote: Peer, code: int, reason: str | None) -> None:
    """The peer's close frame arrived."""
    if connection_logger.isEnabledFor(DEBUG):
        _close_event("close_received", "close received", conn_id, remote, code, reason)


def protocol_error(conn_id: int, remote: Peer, code: int, reason: str | None) -> None:
    """The peer broke the protocol (1002, 1007 ...): the connection fails with ``code``."""
    if connection_logger.isEnabledFor(DEBUG):
        text = "protocol error, failing with"
        _close_event("protocol_error", text, conn_id, remote, code, reason)


def closed(conn_id: int, remote: Peer, code: int, reason: str | None) -> None:
    """The connection is over (once per connection): its final code (1006: abnormal)."""
    if connection_logger.isEnabledFor(DEBUG):
        _close_event("closed", "closed", conn_id, remote, code, reason)


def task_failed(conn_id: int, remote: Peer, exc: BaseException) -> None:
    """A connection's own task failed (a bug in wsproto): ERROR, with the traceback."""
    if connection_logger.isEnabledFor(ERROR):
        text = "connection task failed: %r"
        _emit(connection_logger, ERROR, "task_failed", conn_id, remote, text, exc, exc=exc)
