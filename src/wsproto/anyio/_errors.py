"""The layer's exceptions and small value types (trio-websocket's names)."""

from __future__ import annotations

from wsproto.frame_protocol import CloseReason as _CloseCode
from wsproto.typing import Headers

__all__ = [
    "CloseReason",
    "ConnectionClosed",
    "ConnectionRejected",
    "ConnectionTimeout",
    "DisconnectionTimeout",
    "Endpoint",
    "HandshakeError",
]


class CloseReason:
    """Why a connection closed: a close code, its name, and the peer's reason text.

    Attributes:
        code: The close code (1000 normal closure, 1001 going away, 1006 the
            transport dropped without a close frame, ...).
        name: The code's name, e.g. ``"NORMAL_CLOSURE"``; ``"RFC_RESERVED"``,
            ``"IANA_RESERVED"``, ``"PRIVATE_RESERVED"`` or ``"UNKNOWN"`` for
            codes without one.
        reason: The reason text that came with the close, or ``None``.
    """

    __slots__ = ("_code", "_name", "_reason")

    def __init__(self, code: int, reason: str | None) -> None:
        self._code = code
        try:
            self._name = _CloseCode(code).name
        except ValueError:
            if 1000 <= code <= 2999:
                self._name = "RFC_RESERVED"
            elif 3000 <= code <= 3999:
                self._name = "IANA_RESERVED"
            elif 4000 <= code <= 4999:
                self._name = "PRIVATE_RESERVED"
            else:
                self._name = "UNKNOWN"
        self._reason = reason

    @property
    def code(self) -> int:
        """The close code."""
        return self._code

    @property
    def name(self) -> str:
        """The close code's name."""
        return self._name

    @property
    def reason(self) -> str | None:
        """The reason text, or ``None``."""
        return self._reason

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CloseReason):
            return NotImplemented
        return (self._code, self._reason) == (other._code, other._reason)

    def __hash__(self) -> int:
        return hash((self._code, self._reason))

    def __repr__(self) -> str:
        return f"<CloseReason code={self._code} name={self._name} reason={self._reason}>"


class ConnectionClosed(Exception):
    """The connection is closed: raised by every operation once it is.

    Attributes:
        reason: The :class:`CloseReason` (``None`` only if the connection never opened).
    """

    def __init__(self, reason: CloseReason | None) -> None:
        super().__init__(reason)
        self.reason = reason

    def __repr__(self) -> str:
        return f"{type(self).__name__}<{self.reason}>"


class HandshakeError(Exception):
    """The opening or closing handshake failed."""


class ConnectionTimeout(HandshakeError):
    """The connection or its opening handshake took longer than ``connect_timeout``."""


class DisconnectionTimeout(HandshakeError):
    """The closing handshake took longer than ``disconnect_timeout``."""


class ConnectionRejected(HandshakeError):
    """The server refused the opening handshake with an HTTP response.

    Attributes:
        status_code: The response's status code.
        headers: The response's headers.
        body: The response's body, or ``None`` if it had none.
    """

    def __init__(self, status_code: int, headers: Headers, body: bytes | None) -> None:
        super().__init__(status_code, headers, body)
        self.status_code = status_code
        self.headers = headers
        self.body = body

    def __repr__(self) -> str:
        return f"{type(self).__name__}<status_code={self.status_code}>"


class Endpoint:
    """One end of a connection: an address, a port, and whether TLS is in use."""

    __slots__ = ("address", "is_ssl", "port")

    def __init__(self, address: str, port: int, is_ssl: bool) -> None:
        self.address = address
        self.port = port
        self.is_ssl = is_ssl

    @property
    def url(self) -> str:
        """The endpoint as a ``ws://`` or ``wss://`` URL (default ports left out)."""
        scheme = "wss" if self.is_ssl else "ws"
        host = f"[{self.address}]" if ":" in self.address else self.address
        if (self.port == 443 and self.is_ssl) or (self.port == 80 and not self.is_ssl):
            return f"{scheme}://{host}"
        return f"{scheme}://{host}:{self.port}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Endpoint):
            return NotImplemented
        return (self.address, self.port, self.is_ssl) == (other.address, other.port, other.is_ssl)

    def __hash__(self) -> int:
        return hash((self.address, self.port, self.is_ssl))

    def __repr__(self) -> str:
        return f"Endpoint(address={self.address!r}, port={self.port}, is_ssl={self.is_ssl})"
