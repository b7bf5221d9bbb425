"""The opening handshake's state, held by a connection only until it is open.

A connection is made with a :class:`Handshake`; the reader fills it in as the
upgrade request (server) or the answer (client) arrives, and the code waiting
for the handshake reads it. Once the connection is open (or has failed to
open), the connection drops it: an idle open connection holds none of this.
"""

from __future__ import annotations

from wsproto.events import Event, RejectConnection, RejectData, Request
from wsproto.extensions import Extension
from wsproto.typing import Headers

from ._errors import CloseReason, ConnectionClosed, ConnectionRejected, HandshakeError
from ._sync import Flag

__all__ = ["MAX_REJECT_BODY", "Handshake"]

#: A rejection body kept for ConnectionRejected is cut at this size.
MAX_REJECT_BODY = 65536


class Handshake:
    """What the opening handshake produced, or the error it ended with."""

    __slots__ = (
        "decided",
        "done",
        "error",
        "extensions",
        "extra_headers",
        "host",
        "reject_body",
        "reject_headers",
        "reject_status",
        "request",
        "subprotocols",
    )

    def __init__(
        self,
        host: str | None = None,
        subprotocols: list[str] | None = None,
        extra_headers: Headers | None = None,
        extensions: list[Extension] | None = None,
    ) -> None:
        # What a client asks for.
        self.host = host
        self.subprotocols = subprotocols or []
        self.extra_headers = extra_headers or []
        self.extensions = extensions or []
        #: Set once the request (server) or the answer (client) is in, or never will be.
        self.done = Flag()
        self.error: BaseException | None = None
        #: A server's handler accepted or rejected the request.
        self.decided = Flag()
        self.request: Request | None = None
        self.reject_status: int | None = None
        self.reject_headers: Headers = []
        self.reject_body = bytearray()

    def client_request(self, target: str) -> Request:
        """The upgrade request a client sends."""
        assert self.host is not None
        return Request(
            host=self.host,
            target=target,
            subprotocols=self.subprotocols,
            extensions=self.extensions,
            extra_headers=self.extra_headers,
        )

    def add_rejection(self, event: Event) -> bool:
        """Note a piece of the server's rejection; whether it is complete."""
        if isinstance(event, RejectConnection):
            self.reject_status = event.status_code
            self.reject_headers = list(event.headers)
            return not event.has_body
        assert isinstance(event, RejectData)
        self.add_reject_body(event.data)
        return event.body_finished

    def add_reject_body(self, data: bytes) -> None:
        """Keep a piece of a rejection's body, up to MAX_REJECT_BODY bytes in all."""
        room = MAX_REJECT_BODY - len(self.reject_body)
        if room > 0:
            self.reject_body += data[:room]

    def rejected(self) -> None:
        """The server's rejection is complete: the client's error is ConnectionRejected."""
        self.error = ConnectionRejected(
            self.reject_status or 0, self.reject_headers, bytes(self.reject_body) or None
        )
        self.done.set()

    def failed(self, exc: Exception) -> None:
        """The peer broke the handshake's rules (``exc`` is the core's error)."""
        error = HandshakeError(f"the opening handshake failed: {exc}")
        error.__cause__ = exc
        self.error = error

    def ended(self, reason: CloseReason) -> None:
        """The transport ended: whoever still waits for the handshake is told."""
        if self.error is None and not self.done.is_set():
            self.error = ConnectionClosed(reason)
        self.done.set()
        self.decided.set()
