"""The allocator priming (``_malloc.py``) happens once, and not at all when switched off."""

from __future__ import annotations

import tracemalloc

import pytest

from wsproto.anyio._malloc import PRIME_SIZE, prime_allocator


@pytest.mark.parametrize("switched_off", [False, True])
def test_priming_allocates_one_block_unless_switched_off(
    monkeypatch: pytest.MonkeyPatch, switched_off: bool
) -> None:
    if switched_off:
        monkeypatch.setenv("WSPROTO_NO_MALLOC_PRIMING", "1")
    else:
        monkeypatch.delenv("WSPROTO_NO_MALLOC_PRIMING", raising=False)
    tracemalloc.start()
    try:
        prime_allocator.__wrapped__()  # the uncached function: the cache holds the first call
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (peak < PRIME_SIZE) is switched_off
