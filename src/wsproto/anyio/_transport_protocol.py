"""The asyncio side of our asyncio transport: its protocol, and waking tasks from callbacks.

``Protocol`` is the ``asyncio.BufferedProtocol`` under ``AsyncioStream``
(``_transport.py``): it buffers what the transport reads, within bounds, and
wakes the one reader and the one writer. ``FutureWaiter`` and ``Restarter``
are how code running in its callbacks, outside any task, wakes or starts
tasks. With ``_transport.py``, the only modules of the layer that name asyncio.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

__all__ = [
    "READ_HIGH_WATER",
    "READ_LOW_WATER",
    "RECV_SIZE",
    "FutureWaiter",
    "Protocol",
    "Restarter",
    "on_asyncio",
]

#: Received bytes buffered before the transport stops reading. 256 KiB keeps a
#: few socket reads in hand without letting a fast peer fill memory.
READ_HIGH_WATER = 256 * 1024
#: Reading resumes once the buffer drains below this.
READ_LOW_WATER = 64 * 1024


def on_asyncio() -> bool:
    """Whether the calling task runs on asyncio; call it from a task only.

    Asks which library runs the current task (sniffio, as anyio does), not
    whether an asyncio loop runs in the thread: trio in guest mode runs on an
    asyncio loop, and its tasks must not be given asyncio futures to await.
    """
    try:
        import sniffio  # installed with trio; without it, only asyncio can be running
    except ImportError:  # pragma: no cover (trio, hence sniffio, is installed in the tests)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return False
        return True
    try:
        return sniffio.current_async_library() == "asyncio"
    except sniffio.AsyncLibraryNotFoundError:
        return False


#: Bytes read from the socket at a time (see _Protocol).
RECV_SIZE = 65536
_read_buffer = threading.local()


class Protocol(asyncio.BufferedProtocol):
    """Buffers what the transport reads; wakes the one reader and the one writer.

    A buffered protocol: the transport reads into a buffer of ours instead
    of allocating 256 KiB for every read (asyncio's default read size), which,
    freed and allocated again at each read, costs page faults as glibc hands
    such large blocks back and forth to the system. The buffer is one per
    thread, shared by its connections: what is read is copied out at once,
    and an idle connection holds no buffer.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        # A list, not a deque: it holds a read or two at a time, and an empty
        # deque costs 600 bytes for each idle connection.
        self.chunks: list[bytes] = []
        self.size = 0
        self.reading_paused = False
        self.writing_paused = False
        self.eof = False
        self.error: BaseException | None = None
        self.read_waiter: asyncio.Future[None] | None = None
        self.drain_waiter: asyncio.Future[None] | None = None
        # Called once when data or the end arrives: see AsyncioStream.call_on_data.
        self.on_data: Callable[[], object] | None = None
        # See AsyncioStream.receive_or_push.
        self.push: Callable[[bytes], bool] | None = None
        self.push_size = 65536
        self.pushed_back = False
        # See AsyncioStream.park: called (once) instead of waking a reader.
        self.unpark: Callable[[], object] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def get_buffer(self, sizehint: int) -> memoryview:
        try:
            return _read_buffer.view  # type: ignore[no-any-return]
        except AttributeError:
            _read_buffer.view = memoryview(bytearray(RECV_SIZE))
            return _read_buffer.view  # type: ignore[no-any-return]

    def buffer_updated(self, nbytes: int) -> None:
        # The transport filled this thread's buffer just now, synchronously.
        self.data_received(bytes(_read_buffer.view[:nbytes]))

    def data_received(self, data: bytes) -> None:
        push = self.push
        if push is not None:
            # The reader waits in receive_or_push() with nothing buffered.
            rest = self._push(push, data)
            if rest is None:
                return
            self.push = None
            self.pushed_back = True
            if not rest:
                self._wake_reader()
                return
            data = rest
        self.chunks.append(data)
        self.size += len(data)
        if self.size > READ_HIGH_WATER and not self.reading_paused:
            assert self.transport is not None
            self.transport.pause_reading()
            self.reading_paused = True
        self._wake_reader()

    def _push(self, push: Callable[[bytes], bool], data: bytes) -> bytes | None:
        """Push ``data``, a read's worth (push_size) at a time.

        Returns None if the handler took it all, else the bytes left unpushed
        once it returned False.
        """
        size = self.push_size
        if len(data) <= size:
            return None if push(data) else b""
        for start in range(0, len(data), size):
            if not push(data[start : start + size]):
                return data[start + size :]
        return None

    def eof_received(self) -> bool | None:
        self.eof = True
        self._wake_reader()
        return None  # close the transport (a WebSocket has no use for half-closed TCP)

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if exc is not None:
            self.error = exc
        self._wake_reader()
        self.writing_paused = False
        self._wake_writer()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_writer()

    def _wake_reader(self) -> None:
        unpark = self.unpark
        if unpark is not None:
            self.unpark = None
            self.push = None
            unpark()
        waiter = self.read_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        callback = self.on_data
        if callback is not None:
            self.on_data = None
            callback()

    def _wake_writer(self) -> None:
        waiter = self.drain_waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class FutureWaiter:
    """A one-shot wake-up on a bare asyncio future (see ``_sync.Waiter``)."""

    __slots__ = ("_future",)

    def __init__(self) -> None:
        self._future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def set(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    async def wait(self) -> None:
        await self._future


class Restarter:
    """Starts the readers of parked connections again, from a task of its own.

    A parked connection (see :meth:`AsyncioStream.park`) learns that it needs
    a reader in the transport's data callback, which runs outside any task:
    there anyio cannot tell which library runs, so nothing that starts a task
    or makes a cancel scope may be called. The callback only queues the
    connection's restart here and wakes :meth:`run`, which runs as a task of
    the server's and does the starting.
    """

    __slots__ = ("_due", "_waiter")

    def __init__(self) -> None:
        self._due: list[Callable[[], object]] = []
        self._waiter: asyncio.Future[None] | None = None

    def request(self, start: Callable[[], object]) -> None:
        """Have ``start()`` called from :meth:`run`'s task soon; safe in a callback."""
        self._due.append(start)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def run(self) -> None:
        """Call each requested ``start()``, in order, until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            while self._due:
                due, self._due = self._due, []
                # By index, and cleared after: nothing of a started reader may
                # stay in this frame while it waits (it would keep the
                # connection alive after it closed).
                for index in range(len(due)):
                    due[index]()
                due.clear()
            waiter = self._waiter = loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
