"""Exceptions and small helpers shared by the handshake and the connection."""

from __future__ import annotations

import base64
import hashlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .events import Event

__all__ = [
    "LocalProtocolError",
    "ProtocolError",
    "RemoteProtocolError",
    "generate_accept_token",
    "generate_nonce",
    "split_comma_header",
]

# RFC 6455 §1.3: the GUID appended to Sec-WebSocket-Key before hashing.
ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class ProtocolError(Exception):
    """Base class of :class:`LocalProtocolError` and :class:`RemoteProtocolError`."""


class LocalProtocolError(ProtocolError):
    """Indicates an error due to local/programming errors.

    Raised when the connection is asked to do something that is incompatible
    with its state or with the WebSocket standard; the message says what.
    """


class _LocalValueError(LocalProtocolError, ValueError):
    """Misuse that wsproto 1.x reported as a ``ValueError`` (a ping payload over 125 bytes).

    Both types, so that ``except`` clauses written for either still catch it.
    """


class _LocalTypeError(LocalProtocolError, TypeError):
    """Misuse that wsproto 1.x reported as a ``TypeError`` (text and binary in one message)."""


class _LocalUnicodeError(LocalProtocolError, UnicodeEncodeError):
    """A name wsproto 1.x failed to encode, with a ``UnicodeEncodeError`` (a non-ASCII target).

    Also that exact type, so that ``except UnicodeEncodeError`` still catches it.
    """

    def __init__(self, message: str, text: str) -> None:
        start = next((i for i, char in enumerate(text) if not char.isascii()), 0)
        UnicodeEncodeError.__init__(self, "ascii", text, start, start + 1, message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _LocalRuntimeError(LocalProtocolError, RuntimeError):
    """Data fed after the end of the transport: wsproto 1.x let h11's ``RuntimeError`` out."""


class RemoteProtocolError(ProtocolError):
    """Indicates an error due to the remote's actions.

    Raised while processing the opening handshake when the peer sent data that
    violates the standard. Once the connection is open, violations are reported
    as a :class:`~wsproto.events.CloseConnection` event instead.

    Attributes:
        event_hint: An event to send to the peer in answer (for instance a
            :class:`~wsproto.events.RejectConnection` with the right status),
            or ``None`` when there is no suggestion.
    """

    def __init__(self, message: str, event_hint: Event | None = None) -> None:
        self.event_hint = event_hint
        super().__init__(message)


def split_comma_header(value: bytes) -> list[str]:
    """Split a comma-separated header value into stripped, non-empty items."""
    return [item.strip() for item in value.decode("latin-1").split(",") if item.strip()]


def generate_nonce() -> bytes:
    """Return a fresh ``Sec-WebSocket-Key``: 16 random bytes, base64-encoded."""
    return base64.b64encode(os.urandom(16))


def generate_accept_token(token: bytes) -> bytes:
    """Return the ``Sec-WebSocket-Accept`` value for a ``Sec-WebSocket-Key`` (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1(token.strip() + ACCEPT_GUID).digest()
    return base64.b64encode(digest)
