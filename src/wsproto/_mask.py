"""Client-to-server masking (RFC 6455 §5.3): XOR with a repeating 4-byte key.

Masking is an involution, so the same function masks and unmasks.
"""

from __future__ import annotations


def mask(data: bytes, key: bytes) -> bytes:
    """Return ``data`` XORed with ``key`` repeated (``key`` is 4 bytes)."""
    n = len(data)
    if not n:
        return b""
    # One big-integer XOR over the whole payload runs in C, thousands of times
    # faster than a per-byte loop; slicing an exact-length bytes is free.
    pattern = key * ((n + 3) >> 2)
    if len(pattern) != n:
        pattern = pattern[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(pattern, "little")).to_bytes(n, "little")
