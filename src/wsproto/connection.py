"""An open WebSocket connection, with no handshake: bytes in, events out.

Use :class:`Connection` directly when the opening handshake happened
elsewhere (an HTTP server that parsed the upgrade itself, or HTTP/2);
otherwise use :class:`wsproto.WSConnection`, which handles the handshake too.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from enum import Enum, IntEnum
from typing import Literal, overload

from ._close import build_close_payload
from ._frames import FIN, RSV1, MaskedFrameBuilder, build_frame, build_split_frame
from ._receive import Receiver
from .events import CloseConnection, Event, Message, Ping, Pong
from .extensions import Extension, PerMessageDeflate
from .frame_protocol import FrameProtocol, Opcode, RsvBits
from .utilities import LocalProtocolError, _LocalTypeError, _LocalValueError

__all__ = ["CLIENT", "SERVER", "Connection", "ConnectionState", "ConnectionType"]


class ConnectionState(Enum):
    """RFC 6455, Section 4 - Opening Handshake."""

    #: The opening handshake is in progress.
    CONNECTING = 0
    #: The opening handshake is complete.
    OPEN = 1
    #: The remote WebSocket has initiated a connection close.
    REMOTE_CLOSING = 2
    #: The local WebSocket (i.e. this instance) has initiated a connection close.
    LOCAL_CLOSING = 3
    #: The closing handshake has completed.
    CLOSED = 4
    #: The connection was rejected during the opening handshake.
    REJECTING = 5


class ConnectionType(IntEnum):
    """An enumeration of connection types."""

    #: This connection will act as client and talk to a remote server
    CLIENT = 1
    #: This connection will act as server and wait for client connections
    SERVER = 2


CLIENT = ConnectionType.CLIENT
SERVER = ConnectionType.SERVER

_OPEN = ConnectionState.OPEN
_REMOTE_CLOSING = ConnectionState.REMOTE_CLOSING
_CLOSED = ConnectionState.CLOSED
_MAX_CONTROL_PAYLOAD = 125


class Connection:
    """A WebSocket connection after its opening handshake.

    Feed received bytes to :meth:`receive_data`, then iterate :meth:`events`;
    turn events into bytes to send with :meth:`send`.

    Args:
        connection_type: Whether this end is the client or the server.
        extensions: The extensions negotiated in the handshake.
        trailing_data: Bytes received after the handshake, to process first.
        max_frame_size: If set, a received frame with a larger payload fails
            the connection with 1009 (message too big).
        max_message_size: If set, a received message with more data (after
            decompression) fails the connection with 1009. No limit by default:
            data streams out in pieces, so the core's memory does not grow
            with message size; applications set the limit they need.
    """

    def __init__(
        self,
        connection_type: ConnectionType,
        extensions: Sequence[Extension] | None = None,
        trailing_data: bytes = b"",
        *,
        max_frame_size: int | None = None,
        max_message_size: int | None = None,
    ) -> None:
        self.client = connection_type is ConnectionType.CLIENT
        # An extension that reports itself disabled (an offer negotiation did
        # not accept) is left out, so it costs nothing per frame; extensions
        # that keep the base class's enabled() are trusted to be in use.
        self._extensions = [
            ext
            for ext in extensions or ()
            if ext.enabled() or type(ext).enabled is Extension.enabled
        ]
        self._proto = FrameProtocol(self.client, list(self._extensions))
        # Our own permessage-deflate, alone, compresses whole messages without
        # the frame hook (one call, no RsvBits); others keep the hooks.
        exts = self._extensions
        self._pmd = exts[0] if len(exts) == 1 and type(exts[0]) is PerMessageDeflate else None
        self._state = ConnectionState.OPEN
        self._receiver = Receiver(
            self.client, self._extensions, max_frame_size, max_message_size, self._peer_closed
        )
        self._masked = MaskedFrameBuilder() if self.client else None
        # The opcode of the message being sent in pieces, or None.
        self._sending: Opcode | None = None
        if trailing_data:
            self._receiver.feed(trailing_data)

    @property
    def state(self) -> ConnectionState:
        """The connection's state (a :class:`ConnectionState`)."""
        return self._state

    def send(self, event: Event) -> bytes:
        """Return the bytes that send ``event`` to the peer.

        Accepts :class:`~wsproto.events.TextMessage` and
        :class:`~wsproto.events.BytesMessage` (while open; after the peer's
        close, until it is answered, only the rest of a message already
        begun), :class:`~wsproto.events.Ping` and
        :class:`~wsproto.events.Pong` (while open), and
        :class:`~wsproto.events.CloseConnection` (while open, or in reply to
        the peer's close). Write the returned bytes to the transport.

        A message is text if its ``data`` is a ``str`` and binary if it is
        bytes, whichever event class carries it, as in wsproto 1.x. A close
        with code 1005, 1006 or 1015 (codes that are never sent, RFC 6455
        §7.4.1) sends 1000, as 1.x does; ``CloseReason.NO_STATUS_RCVD``
        itself, as ``response()`` gives for a close without a code, sends a
        close without one.

        Raises:
            LocalProtocolError: if the event cannot be sent in this state, or
                is invalid (a control payload over 125 bytes, a close code that
                may not be sent, a message mixing text and binary pieces). Where
                wsproto 1.x raised ``ValueError`` or ``TypeError`` (the first
                and last of those, message data that is neither ``str`` nor
                bytes, a reason without a code) the error is also one of those.
        """
        if isinstance(event, Message):
            self._check_data_allowed()
            return self._send_message(event)
        if isinstance(event, CloseConnection):
            return self._send_close(event)
        if isinstance(event, Ping | Pong):
            if self._state is not _OPEN:
                raise LocalProtocolError(
                    f"cannot send {type(event).__name__} in state {self._state.name}; "
                    "pings and pongs can be sent only while the connection is OPEN"
                )
            payload = bytes(event.payload)
            if len(payload) > _MAX_CONTROL_PAYLOAD:
                raise _LocalValueError(
                    f"{type(event).__name__} payload is {len(payload)} bytes; "
                    f"control frames carry at most {_MAX_CONTROL_PAYLOAD}"
                )
            opcode = Opcode.PING if isinstance(event, Ping) else Opcode.PONG
            return self._frame(FIN | opcode, payload)
        raise LocalProtocolError(
            f"cannot send {type(event).__name__} on an open connection; send messages, "
            "pings, pongs or a CloseConnection"
        )

    def _check_data_allowed(self) -> None:
        # RFC 6455 §5.5.1 lets an endpoint finish the message it is sending
        # before it answers the peer's close, so REMOTE_CLOSING still takes the
        # rest of that message; a new one cannot start (as in wsproto 1.x).
        state = self._state
        if state is not _OPEN and (state is not _REMOTE_CLOSING or self._sending is None):
            if state is _REMOTE_CLOSING:
                raise LocalProtocolError(
                    "cannot start a message in state REMOTE_CLOSING: the peer closed; "
                    "answer with send(event.response())"
                )
            raise LocalProtocolError(
                f"cannot send data in state {state.name}; messages can be sent while "
                "the connection is OPEN (and a message begun then finished in "
                "REMOTE_CLOSING, before the close is answered)"
            )

    def send_with_data_passthrough(self, event: Event) -> list[bytes]:
        """Like :meth:`send`, but the bytes come as a list of pieces to write in order.

        Not in the wsproto 1.x API; the idea is h11's method of the same name.
        When a large message goes out in a frame the payload of which is the
        message data as it is (a server's frame of 64 KiB or more, not
        compressed), the list is the frame's header and then the payload: for
        a :class:`~wsproto.events.BytesMessage` whose data is a ``bytes``
        object, that very object, so a large payload is never copied behind
        its header. Otherwise the list holds one piece, what :meth:`send`
        returns. Write the pieces one after the other (``writelines``, or a
        scatter/gather write) rather than joining them.

        Raises:
            LocalProtocolError: if the event cannot be sent in the current state.
        """
        if isinstance(event, Message):
            self._check_data_allowed()
            header, payload = self._send_message(event, split=True)
            return [header, payload] if payload else [header]
        return [self.send(event)]

    @overload
    def _send_message(
        self, event: Message[str] | Message[bytes], split: Literal[False] = False
    ) -> bytes: ...

    @overload
    def _send_message(
        self, event: Message[str] | Message[bytes], split: Literal[True]
    ) -> tuple[bytes, bytes]: ...

    def _send_message(
        self, event: Message[str] | Message[bytes], split: bool = False
    ) -> bytes | tuple[bytes, bytes]:
        data: object = event.data  # typed str | bytes, but programs pass others
        # The data's type decides, as in wsproto 1.x (a TextMessage holding
        # bytes is sent as binary).
        if type(data) is bytes:
            payload = data
            kind = Opcode.BINARY
        elif isinstance(data, str):
            payload = data.encode("utf-8")
            kind = Opcode.TEXT
        elif isinstance(data, bytearray | memoryview):
            payload = bytes(data)
            kind = Opcode.BINARY
        else:
            raise _LocalTypeError(
                f"{type(event).__name__}.data must be str or bytes, not {type(data).__name__}"
            )
        sending = self._sending
        if sending is None:
            opcode = kind
        elif sending is kind:
            opcode = Opcode.CONTINUATION
        else:
            raise _LocalTypeError(
                f"a {sending.name.lower()} message is still being sent; finish it "
                "(message_finished=True) before sending another kind"
            )
        fin = event.message_finished
        if fin and sending is None and self._pmd is not None:
            compressed = self._pmd._deflate_message(payload)
            if compressed is None:
                first = FIN | opcode
            else:
                first = FIN | RSV1 | opcode
                payload = compressed
            if split:
                return self._split_frame(first, payload)
            # _frame() inlined: a call is ~5 % of sending a small message.
            if self._masked is not None:
                return self._masked.build(first, payload)
            return build_frame(first, payload)
        self._sending = None if fin else kind
        if self._extensions:
            rsv = RsvBits(False, False, False)
            for ext in self._extensions:
                rsv, payload = ext.frame_outbound(self._proto, opcode, rsv, payload, fin)
            first = (rsv.rsv1 << 6) | (rsv.rsv2 << 5) | (rsv.rsv3 << 4) | opcode
        else:
            first = opcode
        if fin:
            first |= FIN
        if split:
            return self._split_frame(first, payload)
        return self._frame(first, payload)

    def _send_close(self, event: CloseConnection) -> bytes:
        state = self._state
        if state is _OPEN:
            self._state = ConnectionState.LOCAL_CLOSING
        elif state is ConnectionState.REMOTE_CLOSING:
            self._state = ConnectionState.CLOSED
        else:
            raise LocalProtocolError(
                f"cannot send CloseConnection in state {state.name}; a close is sent once, "
                "while OPEN or in reply to the peer's close (REMOTE_CLOSING)"
            )
        try:
            payload = build_close_payload(event.code, event.reason)
        except LocalProtocolError:
            self._state = state
            raise
        return self._frame(FIN | Opcode.CLOSE, payload)

    def _split_frame(self, first_byte: int, payload: bytes) -> tuple[bytes, bytes]:
        if self._masked is None and len(payload) >= 0x10000:
            return build_split_frame(first_byte, payload)
        # Masking makes a new buffer anyway; small frames are cheaper whole.
        return self._frame(first_byte, payload), b""

    def _frame(self, first_byte: int, payload: bytes) -> bytes:
        if self._masked is not None:
            return self._masked.build(first_byte, payload)
        return build_frame(first_byte, payload)

    def receive_data(self, data: bytes | None) -> None:
        """Feed bytes received from the peer; ``None`` when the transport closed.

        Then iterate :meth:`events`. Passing ``None`` moves the connection to
        CLOSED, and :meth:`events` yields a
        :class:`~wsproto.events.CloseConnection` with code 1006 for it (RFC
        6455 §7.1.5), after the events of the bytes received before; as in
        wsproto 1.x, every such call yields one, even after a close frame.
        Bytes that arrive after the peer's close, or after a protocol
        violation, are ignored.

        Raises:
            LocalProtocolError: if the connection is CLOSED (as in wsproto
                1.x): nothing more can arrive, so stop reading and close the
                transport.
        """
        if data is None:
            self._receiver.feed_eof()
            self._state = _CLOSED
            return
        if self._state is _CLOSED:
            raise LocalProtocolError(
                "Connection already closed: the closing handshake is complete or the "
                "transport closed; stop reading and close the transport"
            )
        self._receiver.feed(data)

    def events(self) -> Iterator[Event]:
        """Yield the events the received bytes make up.

        A protocol violation by the peer yields a
        :class:`~wsproto.events.CloseConnection` with the matching code (1002,
        1007, 1009 ...) and nothing after it. The state does not change, as in
        wsproto 1.x (the peer sent no close frame): answer it with
        ``send(event.response())``, which moves an OPEN connection to
        LOCAL_CLOSING and puts that code on the wire, then close the transport
        (RFC 6455 §7.1.7).
        """
        return self._receiver.events()

    def _peer_closed(self) -> None:
        # A close frame arrived.
        if self._state is _OPEN:
            self._state = ConnectionState.REMOTE_CLOSING
        elif self._state is ConnectionState.LOCAL_CLOSING:
            self._state = ConnectionState.CLOSED

    def __repr__(self) -> str:
        role = "client" if self.client else "server"
        return f"<Connection {role} {self._state.name}>"
