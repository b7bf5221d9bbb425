"""Reading the opening handshake's header fields (RFC 6455 §4.1, §4.2.1, §9.1).

The functions here turn a parsed h11 request or response into what the
handshake needs, or raise :class:`~wsproto.utilities.RemoteProtocolError`
saying which rule the peer broke. They never touch connection state.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass
from http import HTTPStatus

import h11

from .events import RejectConnection, Request
from .typing import Headers
from .utilities import (
    LocalProtocolError,
    RemoteProtocolError,
    generate_accept_token,
    split_comma_header,
)

#: RFC 6455 §4.2.1 item 6: the only protocol version this library speaks.
WEBSOCKET_VERSION = b"13"

# The bound on an opening handshake: request or response line plus headers.
# 16 KiB is h11's own default and Node.js's --max-http-header-size; nginx
# allows 4 x 8 KiB buffers and Apache 8 KiB a line. Cookies are the only
# thing that legitimately grows a WebSocket handshake, and 16 KiB holds them.
MAX_HANDSHAKE_SIZE = 16 * 1024

# RFC 9110 §5.6.2: a token, as used for subprotocols and extension names.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

# Request headers the Request event reports in dedicated fields, left out of
# extra_headers. The manual lists the version header among them too, but
# wsproto 1.x keeps it, and servers that pass extra_headers on (ASGI scopes)
# show it to applications, so it stays, as do Connection, Upgrade and
# Sec-WebSocket-Key.
_REQUEST_FIELDS = frozenset({b"host", b"sec-websocket-extensions", b"sec-websocket-protocol"})
# Response headers the client checks itself; the rest are extra_headers.
_RESPONSE_FIELDS = frozenset(
    {
        b"connection",
        b"upgrade",
        b"sec-websocket-accept",
        b"sec-websocket-extensions",
        b"sec-websocket-protocol",
    }
)


def is_token(value: str) -> bool:
    """Whether ``value`` is an RFC 9110 token (subprotocol, extension name)."""
    return _TOKEN.fullmatch(value) is not None


def values(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[bytes]:
    """Every value of header ``name`` (lower case), in order."""
    return [value for key, value in headers if key.lower() == name]


def list_items(headers: Iterable[tuple[bytes, bytes]], name: bytes) -> list[str]:
    """The comma-separated items of every ``name`` header line, joined (RFC 9110 §5.3)."""
    items: list[str] = []
    for value in values(headers, name):
        items.extend(split_comma_header(value))
    return items


def has_token(headers: Iterable[tuple[bytes, bytes]], name: bytes, token: str) -> bool:
    """Whether a ``name`` header lists ``token``, compared case-insensitively."""
    return any(item.lower() == token for item in list_items(headers, name))


def head_size(target: bytes, headers: Iterable[tuple[bytes, bytes]]) -> int:
    """Roughly the bytes the request or status line and headers took on the wire."""
    return len(target) + 16 + sum(len(key) + len(value) + 4 for key, value in headers)


def _bad_request(
    message: str, status_code: int = 400, headers: Headers | None = None
) -> RemoteProtocolError:
    hint = RejectConnection(status_code=status_code, headers=headers or [])
    return RemoteProtocolError(message, event_hint=hint)


def _single(headers: Headers, name: bytes, label: str) -> bytes:
    found = values(headers, name)
    if len(found) != 1:
        problem = "missing" if not found else f"sent {len(found)} times"
        raise _bad_request(f"{label} header is {problem}; a handshake carries exactly one")
    return found[0]


@dataclass(slots=True)
class ClientRequest:
    """A validated upgrade request: the event to report and the key to answer."""

    event: Request
    key: bytes


def read_request(request: h11.Request) -> ClientRequest:
    """Check a client's opening handshake (RFC 6455 §4.2.1).

    Raises:
        RemoteProtocolError: naming the broken rule; its ``event_hint`` is the
            :class:`~wsproto.events.RejectConnection` to answer with (426 for
            an unsupported version, 431 for an oversized head, else 400).
    """
    headers: Headers = list(request.headers)
    if head_size(request.target, headers) > MAX_HANDSHAKE_SIZE:
        raise _bad_request(
            f"the upgrade request exceeds {MAX_HANDSHAKE_SIZE} bytes of headers", 431
        )
    if request.method != b"GET":
        method = request.method.decode("ascii", "replace")
        raise _bad_request(f"the upgrade request must use GET, not {method} (RFC 6455 §4.1)")
    if request.http_version != b"1.1":
        version = request.http_version.decode("ascii", "replace")
        raise _bad_request(f"the upgrade request must be HTTP/1.1, not HTTP/{version}")
    if values(headers, b"transfer-encoding") or any(
        value.strip() != b"0" for value in values(headers, b"content-length")
    ):
        raise _bad_request("the upgrade request must not have a body")
    if not has_token(headers, b"upgrade", "websocket"):
        raise _bad_request("the request is not a WebSocket upgrade: no 'Upgrade: websocket' header")
    if not has_token(headers, b"connection", "upgrade"):
        raise _bad_request("the request lacks the 'Connection: Upgrade' header (RFC 6455 §4.2.1)")
    versions = values(headers, b"sec-websocket-version")
    if versions != [WEBSOCKET_VERSION]:
        # RFC 6455 §4.4: answer an unknown version with 426 and the versions we
        # speak. A missing version is a malformed request, but the version
        # header still tells the client what would work.
        version_header = [(b"Sec-WebSocket-Version", WEBSOCKET_VERSION)]
        if not versions:
            raise _bad_request("the Sec-WebSocket-Version header is missing", 400, version_header)
        raise _bad_request(
            f"unsupported Sec-WebSocket-Version {b', '.join(versions)!r}; only 13 is supported",
            426,
            version_header,
        )
    key = _single(headers, b"sec-websocket-key", "Sec-WebSocket-Key")
    try:
        raw_key = base64.b64decode(key, validate=True)
    except binascii.Error:
        raw_key = b""
    if len(raw_key) != 16:
        raise _bad_request(
            f"Sec-WebSocket-Key {key!r} is not 16 random bytes in base64 (RFC 6455 §4.1)"
        )
    host = _single(headers, b"host", "Host")
    try:
        host_text = _host_name(host.decode("ascii"))
    except UnicodeDecodeError:
        raise _bad_request("the Host header must be ASCII (IDNA-encode names)") from None
    subprotocols = list_items(headers, b"sec-websocket-protocol")
    for subprotocol in subprotocols:
        if not is_token(subprotocol):
            raise _bad_request(f"subprotocol {subprotocol!r} is not a token (RFC 6455 §4.1)")
    event = Request(
        host=host_text,
        target=request.target.decode("ascii"),  # h11 allows only VCHARs
        extensions=list_items(headers, b"sec-websocket-extensions"),
        extra_headers=[(k, v) for k, v in headers if k not in _REQUEST_FIELDS],
        subprotocols=subprotocols,
    )
    return ClientRequest(event, key)


def _host_name(host: str) -> str:
    """The Host value as Request.host gives it: IDNA labels decoded, as in wsproto 1.x.

    The client sent ``xn--bcher-kva.example``; programs get ``bücher.example``
    back, the name the client's ``Request(host=...)`` was given. A value that
    is not valid IDNA is passed on as it came.
    """
    if "xn--" not in host.lower():
        return host  # nothing to decode (and no codec call on the common path)
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return host


@dataclass(slots=True)
class ServerResponse:
    """What a valid 101 response negotiated, before extensions are finalized."""

    subprotocol: str | None
    extensions: list[str]
    extra_headers: Headers


def read_response(
    response: h11.InformationalResponse, key: bytes, offered_subprotocols: list[str]
) -> ServerResponse:
    """Check a server's 101 answer to our handshake (RFC 6455 §4.1, client side).

    Raises:
        RemoteProtocolError: naming the broken rule; the client must fail the
            connection (close the transport), so there is no ``event_hint``.
    """
    headers: Headers = list(response.headers)
    if head_size(response.reason, headers) > MAX_HANDSHAKE_SIZE:
        raise RemoteProtocolError(f"the 101 response exceeds {MAX_HANDSHAKE_SIZE} bytes of headers")
    if [item.lower() for item in list_items(headers, b"upgrade")] != ["websocket"]:
        raise RemoteProtocolError(
            "the 101 response must carry 'Upgrade: websocket' (RFC 6455 §4.1)"
        )
    if not has_token(headers, b"connection", "upgrade"):
        raise RemoteProtocolError("the 101 response lacks 'Connection: Upgrade' (RFC 6455 §4.1)")
    if values(headers, b"sec-websocket-accept") != [generate_accept_token(key)]:
        raise RemoteProtocolError(
            "the server's Sec-WebSocket-Accept does not match our key; "
            "it did not understand the WebSocket handshake (RFC 6455 §4.1)"
        )
    protocols = list_items(headers, b"sec-websocket-protocol")
    subprotocol: str | None = None
    if protocols:
        if len(protocols) > 1 or protocols[0] not in offered_subprotocols:
            raise RemoteProtocolError(
                f"the server chose subprotocol {', '.join(protocols)!r}, which we did not offer "
                f"(offered: {offered_subprotocols})"
            )
        subprotocol = protocols[0]
    return ServerResponse(
        subprotocol=subprotocol,
        extensions=list_items(headers, b"sec-websocket-extensions"),
        extra_headers=[(k, v) for k, v in headers if k not in _RESPONSE_FIELDS],
    )


class RefusedByH11(LocalProtocolError, h11.LocalProtocolError):
    """A handshake event h11 cannot send (an invalid header name, a wrong status ...).

    wsproto 1.x let h11's own ``LocalProtocolError`` through here; this is
    both, so ``except`` clauses written for either still catch it.
    """


class InvalidUpgradeRequest(RemoteProtocolError, h11.LocalProtocolError):
    """Headers given to ``initiate_upgrade_connection`` that h11 cannot send.

    A :class:`RemoteProtocolError` with a sendable 400 ``event_hint`` (the
    headers came from the client), and also h11's ``LocalProtocolError``,
    which wsproto 1.x raised here.
    """


def reason_phrase(status_code: int) -> bytes:
    try:
        return HTTPStatus(status_code).phrase.encode()
    except ValueError:
        return b""
