"""The faster path a byte stream may declare: driving the connection from its data callback.

Any anyio ``ByteStream`` carries a connection: a reader task receives, feeds
the engine and writes what it answers. A stream that also implements
:class:`FastStream` (today only the asyncio transport, ``_transport.py``)
lets the connection do that work in the stream's own data callback, as the
bytes arrive, with no task switch per message, and lets an idle server
connection hold no task at all ("parking"). The connection checks for it once,
with ``isinstance``, when it is made; nothing else about a stream is probed.

Whatever runs in a callback here runs outside any task: it must not call
anything that needs one (anyio's ``CancelScope``, a task group's
``start_soon``, ``get_cancelled_exc_class`` ...), since anyio cannot tell
there which library is running.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ._sync import Waiter

__all__ = ["FastStream", "Restarts"]


class Restarts(Protocol):
    """Starts tasks on behalf of callbacks, which cannot (see ``_transport_protocol.Restarter``)."""

    def request(self, start: Callable[[], object]) -> None:
        """Have ``start()`` called soon from a task; safe to call in a callback."""
        ...


@runtime_checkable
class FastStream(Protocol):
    """A byte stream that can hand arriving bytes to a callback (see ``AsyncioStream``).

    Its :meth:`send` takes all of its bytes or none, so a send cancelled while
    it waits for the transport to drain leaves the connection in step.
    """

    async def receive_or_push(
        self, handler: Callable[[bytes], bool], max_bytes: int
    ) -> bytes | None:
        """Receive; while waiting, bytes that arrive go to ``handler`` in the callback.

        ``handler(data)`` returns True once it dealt with them, False once it
        left work that needs waiting (then this returns None).
        """
        ...

    def park(
        self, handler: Callable[[bytes], bool], unpark: Callable[[], object], max_bytes: int
    ) -> bool:
        """As :meth:`receive_or_push` with nobody waiting; ``unpark()`` when a reader is needed."""
        ...

    def call_on_data(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` once when bytes (or the end) next arrive."""
        ...

    def new_waiter(self) -> Waiter:
        """A one-shot wake-up that a callback may set."""
        ...

    async def send_parts(self, items: list[bytes]) -> None:
        """Send ``items`` in order without joining them; all or none."""
        ...

    def send_nowait(self, item: bytes) -> None:
        """Write ``item`` now, without waiting (the next send waits if the transport is full)."""
        ...

    def close_nowait(self) -> None:
        """Close the stream now."""
        ...

    def abort(self) -> None:
        """Close the stream now, dropping the bytes not sent yet."""
        ...
