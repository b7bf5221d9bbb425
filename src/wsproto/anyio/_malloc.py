"""Have glibc keep large message buffers in the heap: one allocation, once per process.

glibc's malloc serves blocks over its mmap threshold (128 KiB at start) with
fresh mappings, and gives free memory at the top of the heap back to the
system beyond its trim threshold (also 128 KiB). A process that sends and
receives messages of a few hundred KiB then pays page faults for every
buffer of every message: measured here on a 256 KiB echo, the server spent
three times the CPU of the same server whose allocator had been through one
large free (the mallopt(3) manual: freeing a mapped block raises the mmap
threshold to its size, and the trim threshold to twice that). Which of the
two a server got depended on what else the process had done. Allocating and
freeing one 1 MiB block when the first connection is made settles it:
blocks up to 1 MiB come from the heap, and up to 2 MiB of free heap is kept.
Elsewhere than glibc this is one allocation and nothing more.

It changes the allocator's behaviour for the whole process (its thresholds
stay raised), so it can be switched off: set the environment variable
``WSPROTO_NO_MALLOC_PRIMING`` to a non-empty value before the first
connection is made (docs/layer.rst, "Effects on the process").
"""

from __future__ import annotations

import functools
import os

__all__ = ["prime_allocator"]

#: Messages up to about this size are then served from the heap.
PRIME_SIZE = 1 << 20


@functools.cache
def prime_allocator() -> None:
    """Allocate and free one ``PRIME_SIZE`` block, the first time only (unless switched off)."""
    if os.environ.get("WSPROTO_NO_MALLOC_PRIMING"):
        return
    block = bytearray(PRIME_SIZE)  # over the initial threshold: a mapping of its own
    del block  # freed: glibc raises its thresholds to its size
