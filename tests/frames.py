"""Hand-built frames for tests, independent of the code under test."""

from __future__ import annotations

import struct

from wsproto.connection import Connection, ConnectionType


def frame(
    opcode: int,
    payload: bytes = b"",
    *,
    fin: bool = True,
    rsv: int = 0,
    key: bytes | None = b"\x01\x02\x03\x04",
    length_size: int | None = None,
) -> bytes:
    """Serialize one frame; ``key=None`` sends it unmasked.

    ``length_size`` forces the length encoding (7, 16 or 64 bits) even when a
    shorter one would do.
    """
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    mask_bit = 0x80 if key is not None else 0
    size = length_size or (7 if n < 126 else 16 if n < 0x10000 else 64)
    if size == 7:
        header = bytes((first, mask_bit | n))
    elif size == 16:
        header = struct.pack("!BBH", first, mask_bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, mask_bit | 127, n)
    if key is None:
        return header + payload
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return header + key + masked


def client_frame(opcode: int, payload: bytes = b"", **kw: object) -> bytes:
    """A frame as a client sends it (masked)."""
    return frame(opcode, payload, **kw)  # type: ignore[arg-type]


def server_frame(opcode: int, payload: bytes = b"", **kw: object) -> bytes:
    """A frame as a server sends it (unmasked)."""
    return frame(opcode, payload, key=None, **kw)  # type: ignore[arg-type]


def server(max_frame_size: int | None = None, max_message_size: int | None = None) -> Connection:
    return Connection(
        ConnectionType.SERVER, max_frame_size=max_frame_size, max_message_size=max_message_size
    )


def client(max_frame_size: int | None = None, max_message_size: int | None = None) -> Connection:
    return Connection(
        ConnectionType.CLIENT, max_frame_size=max_frame_size, max_message_size=max_message_size
    )


def close_payload(code: int, reason: bytes = b"") -> bytes:
    return struct.pack("!H", code) + reason
