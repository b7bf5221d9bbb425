"""Dialing: from a host, a port and a TLS choice to a byte stream, on either backend.

On asyncio our own transport (``_transport.connect``); on trio a raw socket
stream, or anyio's TLS stream. Failures come out as asyncio's
``create_connection`` raises them, on both backends, so that ``except
ConnectionRefusedError`` works everywhere.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import anyio
from anyio.abc import ByteStream

from . import _transport
from ._rawsocket import RawSocketStream
from ._transport import on_asyncio

__all__ = ["dial", "host_header", "parse_url"]


async def dial(host: str, port: int, use_ssl: bool | ssl.SSLContext) -> tuple[ByteStream, str]:
    """A byte stream to ``host:port`` (TLS unless ``use_ssl`` is False), and its Host header."""
    context: ssl.SSLContext | None
    given: object = use_ssl  # trio-websocket programs may pass anything here
    if given is not True and given is not False and not isinstance(given, ssl.SSLContext):
        raise TypeError(f"use_ssl must be a bool or an ssl.SSLContext, not {type(given).__name__}")
    if use_ssl is True:
        context = ssl.create_default_context()
    elif use_ssl is False:
        context = None
    else:
        context = use_ssl
    stream: ByteStream
    if on_asyncio():
        stream = await _transport.connect(host, port, context)
    elif context is None:
        with _connect_errors():
            stream = RawSocketStream(await anyio.connect_tcp(host, port))
    else:
        # Not "standard compatible": many servers drop TCP without a TLS
        # close_notify once the WebSocket is closed; that is not an error here.
        stream = await _connect_tls(host, port, context)
    return stream, host_header(host, port, context is not None)


def host_header(host: str, port: int, secure: bool) -> str:
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if port == (443 if secure else 80):
        return shown
    return f"{shown}:{port}"


def parse_url(
    url: str, ssl_context: ssl.SSLContext | None
) -> tuple[str, int, str, bool | ssl.SSLContext]:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"WebSocket URL scheme must be ws or wss, not {parts.scheme!r}: {url}")
    if not parts.hostname:
        raise ValueError(f"WebSocket URL has no host: {url}")
    secure = parts.scheme == "wss"
    if not secure and ssl_context is not None:
        raise ValueError("an ssl_context was given for a ws:// URL; use wss://")
    port = parts.port or (443 if secure else 80)
    resource = parts.path or "/"
    if parts.query:
        resource += "?" + parts.query
    use_ssl: bool | ssl.SSLContext = (ssl_context or True) if secure else False
    return parts.hostname, port, resource, use_ssl


@contextmanager
def _connect_errors() -> Iterator[None]:
    """Connection errors as asyncio's ``create_connection`` raises them.

    ``anyio.connect_tcp`` raises a plain ``OSError("All connection attempts
    failed")`` with the real errors as its cause, so ``except
    ConnectionRefusedError`` would work on asyncio only. Like asyncio, raise
    the error itself when there was one, or when every attempt failed the
    same way.
    """
    try:
        yield
    except OSError as exc:
        cause = exc.__cause__
        errors = list(cause.exceptions) if isinstance(cause, ExceptionGroup) else [cause]
        first = errors[0]
        if isinstance(first, OSError) and all(
            isinstance(error, OSError) and str(error) == str(first) for error in errors
        ):
            raise first from None
        raise


async def _connect_tls(host: str, port: int, context: ssl.SSLContext) -> ByteStream:
    """anyio's TLS connection, failing with ``OSError`` as documented (and as on asyncio).

    A server that resets or closes the connection during the TLS handshake
    makes anyio raise ``BrokenResourceError`` or ``EndOfStream``; asyncio
    raises ``ConnectionResetError`` for both.
    """
    try:
        with _connect_errors():
            return await anyio.connect_tcp(
                host, port, ssl_context=context, tls_standard_compatible=False
            )
    except anyio.BrokenResourceError as exc:
        if isinstance(exc.__cause__, OSError):
            raise exc.__cause__ from None
        raise ConnectionResetError("the TLS handshake failed: connection lost") from exc
    except anyio.EndOfStream:
        raise ConnectionResetError(
            "the server closed the connection during the TLS handshake"
        ) from None
