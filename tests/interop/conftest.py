"""Interop tests: our layer against other WebSocket implementations over loopback.

Our side runs on both anyio backends (asyncio in debug mode, and trio), pinned
here as in ``tests/layer``. The ``websockets`` peer runs on an asyncio loop of
its own in a thread (:class:`AsyncioThread`), which works the same whichever
backend our side uses.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import anyio.to_thread
import pytest

T = TypeVar("T")

# A peer that does not finish a step within this many seconds has hung.
PEER_TIMEOUT = 20.0


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"debug": True}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    backend: tuple[str, dict[str, object]] = request.param
    return backend


class AsyncioThread:
    """An asyncio event loop running in a thread of its own, for peers written for asyncio."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        # A daemon, so that a peer stuck after a failed test cannot hang the run.
        self._thread = threading.Thread(
            target=self.loop.run_forever, name="asyncio peer", daemon=True
        )
        self._thread.start()

    async def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the peer's loop; wait for it without blocking ours."""
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return await anyio.to_thread.run_sync(future.result, PEER_TIMEOUT)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(PEER_TIMEOUT)
        if not self._thread.is_alive():
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()


@pytest.fixture(scope="session")
def asyncio_thread() -> Iterator[AsyncioThread]:
    thread = AsyncioThread()
    try:
        yield thread
    finally:
        thread.stop()
