"""A mutex cheaper than ``anyio.Lock`` for the per-message paths.

``anyio.Lock`` costs 1.5-2.3 µs per uncontended acquire/release even with
``fast_acquire=True`` (measured here), a large share of a ~10 µs round trip.
This one costs two attribute writes when nobody else holds it, and hands the
lock directly to the next waiter otherwise, so waiters are served in order.
"""

from __future__ import annotations

from collections import deque

import anyio


class Mutex:
    """A FIFO mutex; ``acquire()`` does not checkpoint when the lock is free."""

    __slots__ = ("_locked", "_waiters")

    def __init__(self) -> None:
        self._locked = False
        self._waiters: deque[anyio.Event] = deque()

    @property
    def locked(self) -> bool:
        """Whether a task holds the lock."""
        return self._locked

    async def acquire(self) -> None:
        """Take the lock, waiting in line if another task holds it."""
        if not self._locked:
            self._locked = True
            return
        turn = anyio.Event()
        self._waiters.append(turn)
        try:
            await turn.wait()
        except BaseException:
            if turn.is_set():
                self.release()  # it was handed to us as we were cancelled: pass it on
            else:
                self._waiters.remove(turn)
            raise

    def release(self) -> None:
        """Release the lock, handing it to the longest waiter if any."""
        if self._waiters:
            self._waiters.popleft().set()
        else:
            self._locked = False
