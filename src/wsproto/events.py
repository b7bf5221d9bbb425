"""Events: what :meth:`~wsproto.WSConnection.events` yields and what you pass to ``send()``.

Every event is a dataclass; its constructor accepts any field as a keyword
argument. Some fields are required, others have defaults.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from .typing import Headers

if TYPE_CHECKING:
    from .extensions import Extension

__all__ = [
    "AcceptConnection",
    "BytesMessage",
    "CloseConnection",
    "Event",
    "Message",
    "Ping",
    "Pong",
    "RejectConnection",
    "RejectData",
    "Request",
    "TextMessage",
]

# Events are slotted and mutable: a frozen dataclass's __init__ costs about three
# times as much (measured: 430 ns against 140 ns for a three-field event), and a
# data event is built for every frame received.


@dataclass(slots=True)
class Event:
    """Base class for wsproto events."""


@dataclass(slots=True)
class Request(Event):
    """The beginning of a WebSocket connection: the HTTP upgrade request.

    A server receives it when a client asks to upgrade; a client sends it to
    start the opening handshake.

    Attributes:
        host: (Required) The hostname, or Host header value.
        target: (Required) The request target (path and query string).
        extensions: The proposed extensions: :class:`~wsproto.extensions.Extension`
            objects when sending, the offered header values (``str``) when received.
        extra_headers: The additional request headers, excluding extensions,
            host, subprotocols and version headers.
        subprotocols: The subprotocols proposed in the request.
    """

    host: str
    target: str
    extensions: Sequence[Extension] | Sequence[str] = field(default_factory=list)
    extra_headers: Headers = field(default_factory=list)
    subprotocols: list[str] = field(default_factory=list)


@dataclass(slots=True)
class AcceptConnection(Event):
    """The acceptance of a WebSocket upgrade request.

    A client receives it when the server accepted; a server sends it to accept
    a :class:`Request`.

    Attributes:
        subprotocol: The accepted subprotocol; when sending, one of those the
            client proposed, or ``None``.
        extensions: The extensions to use: when sending, the extensions the
            server supports (negotiated against the client's offer); when
            received, the negotiated extensions.
        extra_headers: Any additional (non-WebSocket) response headers.
    """

    subprotocol: str | None = None
    extensions: list[Extension] = field(default_factory=list)
    extra_headers: Headers = field(default_factory=list)


@dataclass(slots=True)
class RejectConnection(Event):
    """The rejection of a WebSocket upgrade request: the HTTP response.

    To send a body, set ``has_body=True`` and follow this event with one or
    more :class:`RejectData` events; then the headers must carry a
    Content-Length or Transfer-Encoding.

    When received, ``has_body`` is almost always ``True`` and at least one
    :class:`RejectData` follows, even if its data is ``b""``.

    Attributes:
        status_code: The response status code.
        headers: The headers to send with the response.
        has_body: Whether :class:`RejectData` events follow.
    """

    status_code: int = 400
    headers: Headers = field(default_factory=list)
    has_body: bool = False


@dataclass(slots=True)
class RejectData(Event):
    """A piece of the body of a rejection response.

    Attributes:
        data: (Required) The raw body data.
        body_finished: ``True`` on the last piece of the body.
    """

    data: bytes
    body_finished: bool = True


@dataclass(slots=True)
class CloseConnection(Event):
    """The end of a WebSocket connection: a close frame.

    wsproto does not answer a received close by itself. Unless you already
    sent one, send ``event.response()`` (the connection's state is then
    :attr:`~wsproto.connection.ConnectionState.REMOTE_CLOSING`), then close
    the transport.

    Attributes:
        code: (Required) The close code saying why the connection closes.
        reason: Additional text explaining why.
    """

    code: int
    reason: str | None = None

    def response(self) -> CloseConnection:
        """Return the close event to send back in reply to this one (RFC 6455 §5.5.1)."""
        return CloseConnection(code=self.code, reason=self.reason)


T = TypeVar("T", str, bytes)


@dataclass(slots=True)
class Message(Event, Generic[T]):
    """A piece of a WebSocket data message.

    Attributes:
        data: (Required) The data of this piece. A message can arrive as
            several events; join them until ``message_finished``.
        frame_finished: Whether this piece ends a frame. It carries no meaning;
            it is there for those who need the original fragmentation.
        message_finished: ``True`` if this piece ends its message.
    """

    data: T
    frame_finished: bool = True
    message_finished: bool = True


@dataclass(slots=True)
class TextMessage(Message[str]):
    """A piece of a text message; ``data`` is a ``str`` (always whole characters)."""

    data: str


@dataclass(slots=True)
class BytesMessage(Message[bytes]):
    """A piece of a binary message; ``data`` is ``bytes``."""

    data: bytes


@dataclass(slots=True)
class Ping(Event):
    """A ping: send one to get a pong back; received ones need an answer.

    Answer a received ping with ``send(event.response())`` as soon as practical.

    Attributes:
        payload: Up to 125 bytes of application data.
    """

    payload: bytes = b""

    def response(self) -> Pong:
        """Return the :class:`Pong` that answers this ping (it echoes the payload)."""
        return Pong(payload=self.payload)


@dataclass(slots=True)
class Pong(Event):
    """A pong, the answer to a ping, or an unsolicited heartbeat.

    Attributes:
        payload: Up to 125 bytes of application data.
    """

    payload: bytes = b""
