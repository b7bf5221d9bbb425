"""Frame serialization (RFC 6455 §5.2)."""

from __future__ import annotations

import os
import struct

from ._mask import mask

_pack_16 = struct.Struct("!BBH").pack
_pack_64 = struct.Struct("!BBQ").pack

FIN = 0x80
RSV1 = 0x40
RSV2 = 0x20
RSV3 = 0x10
MASK_BIT = 0x80


def build_frame(first_byte: int, payload: bytes) -> bytes:
    """Serialize an unmasked frame (server to client)."""
    n = len(payload)
    if n < 126:
        return bytes((first_byte, n)) + payload
    if n < 0x10000:
        return _pack_16(first_byte, 126, n) + payload
    return _pack_64(first_byte, 127, n) + payload


def build_split_frame(first_byte: int, payload: bytes) -> tuple[bytes, bytes]:
    """An unmasked frame of 64 KiB or more as its header and its payload.

    Written one after the other, they spare the copy that joins them: for a
    large message, a fresh buffer of its size (and its page faults).
    """
    n = len(payload)
    assert n >= 0x10000
    return _pack_64(first_byte, 127, n), payload


class MaskedFrameBuilder:
    """Serializes masked frames (client to server) with unpredictable keys.

    RFC 6455 §5.3 asks for masking keys from a strong source of entropy. Keys
    come from ``os.urandom`` drawn 256 at a time: one system call per frame
    would cost more than building a small frame.
    """

    __slots__ = ("_keys", "_next")

    _BATCH = 1024

    def __init__(self) -> None:
        self._keys = b""
        self._next = 0

    def build(self, first_byte: int, payload: bytes) -> bytes:
        """Serialize a masked frame."""
        i = self._next
        if i >= len(self._keys):
            self._keys = os.urandom(self._BATCH)
            i = 0
        key = self._keys[i : i + 4]
        self._next = i + 4
        n = len(payload)
        if n < 126:
            header = bytes((first_byte, MASK_BIT | n))
        elif n < 0x10000:
            header = _pack_16(first_byte, MASK_BIT | 126, n)
        else:
            header = _pack_64(first_byte, MASK_BIT | 127, n)
        return header + key + mask(payload, key)
