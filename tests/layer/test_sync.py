"""The layer's own synchronisation primitives (Mutex, Flag), on both backends."""

from __future__ import annotations

import anyio
import pytest

from wsproto.anyio._sync import Flag, Mutex

pytestmark = pytest.mark.anyio


async def test_mutex_try_acquire_takes_only_a_free_lock() -> None:
    lock = Mutex()
    assert lock.try_acquire()
    assert lock.locked
    assert not lock.try_acquire()
    lock.release()
    assert not lock.locked
    assert lock.try_acquire()


async def test_mutex_serves_waiters_in_order() -> None:
    lock = Mutex()
    order: list[int] = []

    async def take(n: int) -> None:
        await lock.acquire()
        order.append(n)
        await anyio.sleep(0.01)
        lock.release()

    assert lock.try_acquire()
    async with anyio.create_task_group() as group:
        for n in range(4):
            group.start_soon(take, n)
            await anyio.wait_all_tasks_blocked()
        assert not lock.try_acquire()  # held, and handed on rather than freed
        lock.release()
    assert order == [0, 1, 2, 3]
    assert not lock.locked


async def test_mutex_waiter_cancelled_leaves_the_line() -> None:
    lock = Mutex()
    assert lock.try_acquire()
    with anyio.move_on_after(0.01):
        await lock.acquire()
    lock.release()
    assert not lock.locked  # nobody left waiting to hand it to
    assert lock.try_acquire()


async def test_flag_set_before_wait_returns_at_once() -> None:
    flag = Flag()
    flag.set()
    assert flag.is_set()
    with anyio.fail_after(1):
        await flag.wait()


async def test_flag_wakes_every_waiter() -> None:
    flag = Flag()
    woken = 0

    async def wait() -> None:
        nonlocal woken
        await flag.wait()
        woken += 1

    async with anyio.create_task_group() as group:
        for _ in range(3):
            group.start_soon(wait)
        await anyio.wait_all_tasks_blocked()
        assert woken == 0
        flag.set()
    assert woken == 3
    assert flag.is_set()
