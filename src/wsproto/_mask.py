"""Client-to-server masking (RFC 6455 §5.3): XOR with a repeating 4-byte key.

Masking is an involution, so the same function masks and unmasks. The C
accelerator (``wsproto._speedups``) does it at memory speed; the pure-Python
version below is always complete and is used when the accelerator is not
built or ``WSPROTO_NO_EXTENSIONS`` is set.
"""

from __future__ import annotations

import os
from collections.abc import Callable


def py_mask(data: bytes, key: bytes) -> bytes:
    """Return ``data`` XORed with ``key`` repeated (``key`` is 4 bytes)."""
    n = len(data)
    if not n:
        return b""
    # One big-integer XOR over the whole payload runs in C, far faster than a
    # per-byte loop; slicing an exact-length bytes is free.
    pattern = key * ((n + 3) >> 2)
    if len(pattern) != n:
        pattern = pattern[:n]
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(pattern, "little")
    return mixed.to_bytes(n, "little")


def _select() -> tuple[Callable[[bytes, bytes], bytes], bool]:
    if os.environ.get("WSPROTO_NO_EXTENSIONS"):
        return py_mask, False
    try:
        from ._speedups import mask as c_mask
    except ImportError:
        return py_mask, False
    return c_mask, True


#: The masking function in use.
mask: Callable[[bytes, bytes], bytes]
#: Whether the C accelerator is in use.
ACCELERATED: bool
mask, ACCELERATED = _select()
