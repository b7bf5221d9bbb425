"""Close frame payloads (RFC 6455 §5.5.1, §7.1.5, §7.4)."""

from __future__ import annotations

import struct

from ._errors import ProtocolFailure
from .frame_protocol import CloseReason
from .utilities import LocalProtocolError, _LocalTypeError

# Codes an endpoint may put in a close frame: the RFC 6455 codes except the
# reserved 1004 and the local-only 1005/1006/1015, the IANA-registered
# 1012-1014, and the 3000-4999 ranges for libraries and applications.
_SENDABLE_BELOW_3000 = frozenset(
    {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014}
)
# §7.4.1: codes that name what happened locally and must never be sent.
# wsproto 1.x sends 1000 in their place, and programs rely on it:
# trio-websocket closes with 1006 when it aborts a connection.
_LOCAL_ONLY = frozenset({1005, 1006, 1015})
_KNOWN = {int(member): member for member in CloseReason}
_unpack_code = struct.Struct("!H").unpack_from
_pack_code = struct.Struct("!H").pack

# A close frame is a control frame: at most 125 bytes of payload, 2 for the code.
MAX_REASON_BYTES = 123


def is_sendable_code(code: int) -> bool:
    """Whether ``code`` may appear in a close frame."""
    return code in _SENDABLE_BELOW_3000 or 3000 <= code <= 4999


def parse_close_payload(payload: bytes) -> tuple[int, str]:
    """Decode a received close frame's payload into ``(code, reason)``."""
    if not payload:
        # §7.1.5: no status code means "1005 No Status Received".
        return CloseReason.NO_STATUS_RCVD, ""
    if len(payload) == 1:
        raise ProtocolFailure(CloseReason.PROTOCOL_ERROR, "close frame with a 1-byte payload")
    (code,) = _unpack_code(payload)
    if not is_sendable_code(code):
        raise ProtocolFailure(CloseReason.PROTOCOL_ERROR, f"close frame with invalid code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolFailure(
            CloseReason.INVALID_FRAME_PAYLOAD_DATA, "close frame reason is not valid UTF-8"
        ) from None
    return _KNOWN.get(code, code), reason


def build_close_payload(code: int | None, reason: str | None) -> bytes:
    """Encode a close frame's payload, refusing what the peer would have to reject.

    As in wsproto 1.x: ``None``, or the member ``CloseReason.NO_STATUS_RCVD``
    (what ``response()`` gives for a received close without a code), sends a
    close without a code; a local-only code given as such (1005, 1006, 1015)
    sends 1000, with the reason.
    """
    if code is None or code is CloseReason.NO_STATUS_RCVD:
        # No code: an empty payload, and so no reason (1.x raised TypeError).
        if reason:
            raise _LocalTypeError("a close reason needs a close code; pass code=1000 or another")
        return b""
    if code in _LOCAL_ONLY:
        code = CloseReason.NORMAL_CLOSURE
    elif not is_sendable_code(code):
        raise LocalProtocolError(
            f"close code {code} may not be sent; use 1000-1003, 1007-1014 or 3000-4999 "
            "(1005, 1006 and 1015 send 1000)"
        )
    data = _pack_code(code)
    if reason:
        data += _truncate_utf8(reason.encode("utf-8"), MAX_REASON_BYTES)
    return data


def _truncate_utf8(data: bytes, limit: int) -> bytes:
    # Consumers pass application-supplied reasons (ASGI's websocket.close); a
    # long one is cut at a character boundary rather than failing the close.
    if len(data) <= limit:
        return data
    return data[:limit].decode("utf-8", "ignore").encode("utf-8")
