"""WebSocket extensions (RFC 6455 §9) and permessage-deflate (RFC 7692)."""

from __future__ import annotations

from collections.abc import Iterator

from ._errors import ProtocolFailure
from .frame_protocol import CloseReason, FrameProtocol, Opcode, RsvBits

__all__ = ["SUPPORTED_EXTENSIONS", "Extension", "PerMessageDeflate"]


class Extension:
    """Base class of WebSocket extensions.

    Negotiation: a client calls :meth:`offer` to build its
    ``Sec-WebSocket-Extensions`` request header and :meth:`finalize` with the
    parameters the server accepted; a server calls :meth:`accept` with each
    offer and answers with what it returns.

    Framing: once negotiated, the connection calls the ``frame_*`` hooks for
    every *data* frame (text, binary, continuation); control frames never pass
    through extensions.
    """

    #: The extension token, as in ``Sec-WebSocket-Extensions``.
    name: str

    def enabled(self) -> bool:
        """Whether negotiation enabled this extension."""
        return False

    def offer(self) -> bool | str:
        """Return the client's offer: ``True`` for the bare name, a parameter string, or ``False``."""
        raise NotImplementedError

    def accept(self, offer: str) -> bool | str | None:
        """Answer a client's offer (server side).

        Args:
            offer: The offered parameters (the header element after the name).

        Returns:
            ``None`` or ``False`` to decline, ``True`` to accept without
            parameters, or the parameter string of the response.
        """
        return None

    def finalize(self, offer: str) -> None:
        """Apply the parameters the server accepted (client side)."""

    def frame_inbound_header(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, payload_length: int
    ) -> CloseReason | RsvBits:
        """See a data frame's header; return the RSV bits this extension claims, or a close code."""
        return RsvBits(False, False, False)

    def frame_inbound_payload_data(self, proto: FrameProtocol, data: bytes) -> bytes | CloseReason:
        """Transform a piece of a data frame's payload, or fail with a close code."""
        return data

    def frame_inbound_complete(self, proto: FrameProtocol, fin: bool) -> bytes | CloseReason | None:
        """Called at the end of each data frame; may return data that completes it."""
        return None

    def frame_outbound(
        self, proto: FrameProtocol, opcode: Opcode, rsv: RsvBits, data: bytes, fin: bool
    ) -> tuple[RsvBits, bytes]:
        """Transform an outgoing data frame's RSV bits and payload."""
        return (rsv, data)

    # The connection calls these two instead of the public payload hooks, so that
    # an extension can hand over its output in bounded pieces (an inflater must
    # not turn a small frame into one huge allocation). The defaults adapt the
    # public hooks; they raise ProtocolFailure instead of returning a close code.

    def _inbound_data(self, proto: FrameProtocol, data: bytes) -> Iterator[bytes]:
        result = self.frame_inbound_payload_data(proto, data)
        if isinstance(result, CloseReason):
            raise ProtocolFailure(result, f"extension {self.name} failed the frame")
        yield result

    def _inbound_complete(self, proto: FrameProtocol, fin: bool) -> Iterator[bytes]:
        result = self.frame_inbound_complete(proto, fin)
        if isinstance(result, CloseReason):
            raise ProtocolFailure(result, f"extension {self.name} failed the frame")
        if result:
            yield result


class PerMessageDeflate(Extension):
    """permessage-deflate (RFC 7692). Placeholder until the implementation lands."""

    name = "permessage-deflate"

    def __init__(
        self,
        client_no_context_takeover: bool = False,
        client_max_window_bits: int | None = None,
        server_no_context_takeover: bool = False,
        server_max_window_bits: int | None = None,
    ) -> None:
        self.client_no_context_takeover = client_no_context_takeover
        self.client_max_window_bits = client_max_window_bits
        self.server_no_context_takeover = server_no_context_takeover
        self.server_max_window_bits = server_max_window_bits

    def offer(self) -> bool | str:
        return False


#: Maps every supported extension name to its class.
SUPPORTED_EXTENSIONS: dict[str, type[Extension]] = {PerMessageDeflate.name: PerMessageDeflate}
