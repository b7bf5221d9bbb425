"""Public names of the framing layer (RFC 6455 §5): opcodes, close codes, RSV bits.

The framing machinery itself lives in private modules (``_frames``, ``_receive``);
this module keeps the names the manual documents and that consumers import.
"""

from __future__ import annotations

from enum import IntEnum
from typing import NamedTuple

__all__ = ["CloseReason", "FrameProtocol", "Opcode", "RsvBits"]


class Opcode(IntEnum):
    """RFC 6455, Section 5.2 - Base Framing Protocol."""

    #: Continuation frame
    CONTINUATION = 0x0
    #: Text message
    TEXT = 0x1
    #: Binary message
    BINARY = 0x2
    #: Close frame
    CLOSE = 0x8
    #: Ping frame
    PING = 0x9
    #: Pong frame
    PONG = 0xA

    def iscontrol(self) -> bool:
        """Whether this is a control opcode (close, ping or pong)."""
        return bool(self & 0x08)


class CloseReason(IntEnum):
    """RFC 6455, Section 7.4.1 - Defined Status Codes."""

    #: The purpose for which the connection was established has been fulfilled.
    NORMAL_CLOSURE = 1000
    #: The endpoint is going away (server shutting down, browser leaving the page).
    GOING_AWAY = 1001
    #: The endpoint is terminating the connection because of a protocol error.
    PROTOCOL_ERROR = 1002
    #: The endpoint received a type of data it cannot accept.
    UNSUPPORTED_DATA = 1003
    #: Reserved; never sent. Stands for "no status code was present".
    NO_STATUS_RCVD = 1005
    #: Reserved; never sent. Stands for "closed without a close frame".
    ABNORMAL_CLOSURE = 1006
    #: Message data was inconsistent with its type (e.g. invalid UTF-8 in text).
    INVALID_FRAME_PAYLOAD_DATA = 1007
    #: A message violated the endpoint's policy.
    POLICY_VIOLATION = 1008
    #: A message was too big to process.
    MESSAGE_TOO_BIG = 1009
    #: The client expected the server to negotiate an extension it did not.
    MANDATORY_EXT = 1010
    #: The server met an unexpected condition.
    INTERNAL_ERROR = 1011
    #: Server/service is restarting (IANA registry, not in RFC 6455).
    SERVICE_RESTART = 1012
    #: Temporary server condition; try again later (IANA registry).
    TRY_AGAIN_LATER = 1013
    #: Reserved; never sent. Stands for "the TLS handshake failed".
    TLS_HANDSHAKE_FAILED = 1015


class RsvBits(NamedTuple):
    """The three reserved bits of a frame header, as extensions see them."""

    rsv1: bool
    rsv2: bool
    rsv3: bool


class FrameProtocol:
    """What an :class:`~wsproto.extensions.Extension` hook learns about its connection.

    Passed as ``proto`` to every ``frame_*`` hook. ``client`` is true on the
    client side of the connection.
    """

    __slots__ = ("client", "extensions")

    def __init__(self, client: bool, extensions: list[object]) -> None:
        self.client = client
        self.extensions = extensions
