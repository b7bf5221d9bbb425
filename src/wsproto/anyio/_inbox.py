"""The inbox: received messages on their way from the reader task to the application.

The engine gathers the pieces of each message (``_engine.py``); the reader
hands them over through a bounded memory-object stream
(:meth:`Inbox.deliver`); when the stream is full the reader waits, stops
reading, and a slow consumer slows the peer down through TCP instead of
growing memory.

A message that arrives whole in one read goes over as ``str``/``bytes``. One
spread over several reads is gathered and goes over whole, or, while
:meth:`Inbox.chunks` runs or once ``_engine.HANDOVER_SIZE`` is gathered, as
:class:`Fragment` s, which :meth:`Inbox.get_message` reassembles and
:meth:`Inbox.chunks` hands over one by one.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable

import anyio

from ._sync import Mutex, Waiter

__all__ = ["Fragment", "Inbox", "Item"]


class Fragment:
    """A piece of a message handed over before its end."""

    __slots__ = ("data", "last")

    def __init__(self, data: str | bytes, last: bool) -> None:
        self.data = data
        self.last = last


Item = str | bytes | Fragment


class Inbox:
    """Received messages between one producer (the reader) and the application.

    ``ended`` makes the exception the consumer gets once the inbox is closed
    and empty; ``call_on_data`` is the transport's hook that wakes a waiting
    consumer as soon as bytes arrive (see ``AsyncioStream.call_on_data``), and
    ``new_waiter`` its cheaper one-shot wake-up, if it has them.
    """

    def __init__(
        self,
        size: int,
        ended: Callable[[], BaseException],
        call_on_data: Callable[[Callable[[], object]], None] | None,
        new_waiter: Callable[[], Waiter] | None = None,
    ) -> None:
        self._send_items, self._items = anyio.create_memory_object_stream[Item](size)
        self._ended = ended
        self._call_on_data = call_on_data
        # The consumer waits for the next item on an event the reader sets,
        # rather than in MemoryObjectReceiveStream.receive(), which checkpoints
        # first and builds an anyio.Event through a backend lookup (3.3 µs on
        # asyncio, measured): per message, that was a third of our own cost.
        # type(anyio.Event()) is the running backend's Event class; our
        # asyncio transport offers a wake-up without asyncio.Event's deque
        # (600 bytes for each idle connection, and one per message).
        self._new_waiter: Callable[[], Waiter] = new_waiter or type(anyio.Event())
        self._item_waiter: Waiter | None = None
        self._consumer_idle: Waiter | None = None
        # Items delivered and not yet taken (a hint that spares the consumer a
        # receive_nowait() that would raise WouldBlock), and whether the queue
        # has closed (then receive_nowait() reports the end).
        self._undelivered = 0
        self._done = False
        self._lock = Mutex()
        self._chunk_consumer = False  # chunks() is running
        #: The reader waits for room: the consumer is behind, nothing is read.
        self.backed_up = False
        # The pieces of a message taken so far by get_message().
        self._partial: list[str | bytes] = []
        self._abandoned = False  # chunks() stopped mid-message: drop the rest

    # The consumer's side

    async def get_message(self) -> str | bytes:
        """The next message, whole (see WebSocketConnection.get_message)."""
        lock = self._lock
        if not lock.try_acquire():
            await lock.acquire()
        try:
            if self._abandoned:
                await self._skip_abandoned()
            item = await self._next_item(checkpoint=True)
            if not isinstance(item, Fragment):
                return item
            partial = self._partial
            partial.append(item.data)
            while not item.last:
                item = await self._next_item()
                assert isinstance(item, Fragment)
                partial.append(item.data)
            message = "".join(partial) if isinstance(partial[0], str) else b"".join(partial)  # type: ignore[arg-type]
            partial.clear()
            return message
        finally:
            lock.release()

    async def chunks(self) -> AsyncGenerator[str | bytes, None]:
        """The next message piece by piece (see WebSocketConnection.message_chunks)."""
        lock = self._lock
        await lock.acquire()
        unfinished = False  # part of a message handed over, its end not yet
        self._chunk_consumer = True
        try:
            await anyio.lowlevel.checkpoint()
            if self._abandoned:
                await self._skip_abandoned()
            if self._partial:
                pending, self._partial = self._partial, []
                unfinished = True
                for piece in pending:
                    yield piece
                item = await self._next_item()
            else:
                item = await self._next_item()
                if not isinstance(item, Fragment):
                    yield item
                    return
            while True:
                assert isinstance(item, Fragment)
                unfinished = not item.last
                yield item.data
                if item.last:
                    return
                item = await self._next_item()
        finally:
            self._chunk_consumer = False
            self._abandoned = unfinished
            lock.release()

    async def _skip_abandoned(self) -> None:
        """Drop the rest of a message whose chunks the application stopped taking."""
        while self._abandoned:
            item = await self._next_item()
            assert isinstance(item, Fragment)
            self._abandoned = not item.last

    async def _next_item(self, *, checkpoint: bool = False) -> Item:
        """The next item, waiting for it if need be.

        ``checkpoint``: the caller is a public method, which must be a
        checkpoint even when an item is there to take at once (then it
        checkpoints first; a wait is one already).
        """
        items = self._items
        while True:
            try:
                if self._undelivered or self._done:
                    if checkpoint:
                        checkpoint = False
                        await anyio.lowlevel.checkpoint()
                        continue  # look again: things may have moved meanwhile
                    item = items.receive_nowait()
                    self._undelivered -= 1
                    return item
                raise anyio.WouldBlock  # nothing queued: skip the call that would say so
            except anyio.WouldBlock:
                waiter = self._item_waiter = self._new_waiter()
                if self._call_on_data is not None:
                    self._call_on_data(self.wake_consumer)
                idle = self._consumer_idle
                if idle is not None:
                    idle.set()  # the reader waits for this to answer a close
                await waiter.wait()
                checkpoint = False  # the wait was one
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                items.close()
                # A scope cancelled as the connection went down is reported as
                # the cancellation: anyio does not cancel a task whose wait
                # just completed.
                await anyio.lowlevel.checkpoint_if_cancelled()
                raise self._ended() from None

    def wake_consumer(self) -> None:
        """Have a consumer waiting for an item look again."""
        waiter = self._item_waiter
        if waiter is not None:
            self._item_waiter = None
            waiter.set()

    # The reader's side

    def deliver_nowait(self, item: Item) -> bool:
        """Queue ``item`` if there is room; False if the queue is full (then :meth:`deliver` it)."""
        try:
            self._send_items.send_nowait(item)
        except anyio.WouldBlock:
            return False
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            return True  # closed locally: nobody will read it
        self._undelivered += 1
        self.wake_consumer()
        return True

    async def deliver(self, item: Item) -> None:
        """Queue ``item``, waiting while the queue is full (back-pressure)."""
        # Counted first: once a blocked send() below has a consumer's
        # receive_nowait() pull the item into the buffer, it is there to take
        # before this task runs again.
        self._undelivered += 1
        try:
            self._send_items.send_nowait(item)
            self.wake_consumer()
        except anyio.WouldBlock:
            self.backed_up = True
            try:
                await self._send_items.send(item)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                self._undelivered -= 1
                return
            finally:
                self.backed_up = False
            # (Cancelled, it may or may not have been taken: the count stays
            # high, which costs a receive_nowait() that finds nothing.)
            # The item may have gone into the buffer rather than to a
            # consumer's hands: make sure a waiting consumer looks.
            self.wake_consumer()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            self._undelivered -= 1  # closed locally: nobody will read it

    def end(self) -> None:
        """No more items will come: the consumer gets the rest, then ``ended()``."""
        self._done = True
        self._send_items.close()
        self.wake_consumer()

    def discard(self) -> None:
        """Drop whatever was not received yet: the consumer gets ``ended()`` at once."""
        self._done = True
        self._items.close()
        self.wake_consumer()

    @property
    def empty(self) -> bool:
        """Whether no item waits to be taken (a hint: after a cancelled delivery it may be off)."""
        return self._undelivered <= 0

    def queued(self) -> int:
        """How many items wait in the queue."""
        return self._items.statistics().current_buffer_used

    @property
    def chunks_wanted(self) -> bool:
        """Whether chunks() runs, so pieces of a message should go over as they come."""
        return self._chunk_consumer

    @property
    def consumer_waiting(self) -> bool:
        """Whether a consumer waits for the next item."""
        return self._item_waiter is not None

    async def wait_consumer_idle(self, timeout: float) -> None:
        """Wait, ``timeout`` at most, until the consumer has taken every item and waits again."""
        if self.consumer_waiting and not self.queued():
            return
        idle = self._consumer_idle = self._new_waiter()
        with anyio.move_on_after(timeout):
            await idle.wait()
        self._consumer_idle = None
