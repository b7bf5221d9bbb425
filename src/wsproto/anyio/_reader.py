"""Reading: the drivers that move bytes from the transport to the engine and back.

A connection has one of three drivers, chosen once when it starts:

* **a reader task** (any ``ByteStream``): ``receive()``, feed the engine, act
  on what it says, write what it answers;
* **the data callback** (a :class:`~._fastpath.FastStream`, i.e. our asyncio
  transport): the same work runs in the transport's callback as the bytes
  arrive (:meth:`Reading._on_push`), sparing a task switch per message;
  whatever has to wait (a full inbox, the peer's close) is handed to the
  reader task as a coroutine (``_pending``);
* **parked** (a server's idle connection on a ``FastStream``): no task at all;
  when the callback needs one, the server's ``Restarter`` starts it (a
  callback runs outside any task and may not start one itself).

Whatever the driver, the decisions are the engine's (:meth:`Engine.next`),
and what needs a task is done by the same coroutine (:meth:`Reading._act`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio

from wsproto.events import AcceptConnection, CloseConnection, Request
from wsproto.utilities import RemoteProtocolError

from . import _log
from ._closing import Closing
from ._compat import TaskSpawner
from ._engine import REJECTED, Failure, Step
from ._errors import ConnectionClosed, Endpoint
from ._fastpath import Restarts
from ._inbox import Fragment
from ._writer import ABORTED

__all__ = ["Reading"]


class Reading(Closing):
    """The reading half of a connection (a part of :class:`WebSocketConnection`)."""

    # The rest of the connection's slots are in WebSocketConnection.
    __slots__ = ("_pending", "_reader_scope")

    _pending: Coroutine[Any, Any, bool] | None  # see _on_push
    _reader_scope: anyio.CancelScope | None

    _spawner: TaskSpawner | None
    _restarter: Restarts | None

    # The reader task

    async def _reader(self) -> None:
        engine = self._engine
        receive = self._stream.receive
        fast = self._fast
        receive_or_push = fast.receive_or_push if fast is not None else None
        size = self._receive_size
        parked = False
        try:
            while True:
                try:
                    pending, self._pending = self._pending, None
                    if pending is not None:
                        # Work the data callback could not finish without waiting.
                        if not await pending:
                            return
                        continue
                    if receive_or_push is not None and engine.open:
                        if self._inbox.empty and self._park():
                            parked = True
                            return
                        data = await receive_or_push(self._on_push, size)
                        if data is None:
                            continue  # the callback left work in _pending
                    else:
                        data = await receive(size)
                except ABORTED:
                    data = None
                try:
                    engine.feed(data)
                except RemoteProtocolError as exc:
                    answer = engine.handshake_failed(exc)
                    if answer is not None:
                        try:
                            await self._write(answer)
                        except ConnectionClosed:
                            pass
                    return
                if not await self._act([]):
                    return
                if data is None:
                    return
        finally:
            if not parked:
                with anyio.CancelScope(shield=True):
                    await self._reader_finished()

    async def _reader_finished(self) -> None:
        self._drop_pending()  # if the reader stopped before it took it
        reason = self._engine.ended()
        handshake = self._engine.handshake
        if handshake is not None:
            handshake.ended(reason)
        await self._teardown()
        self._reader_done.set()

    # The data callback

    def _on_push(self, data: bytes) -> bool:
        """Handle bytes in the transport's callback; False leaves ``_pending`` to the reader.

        Messages go to the inbox while it has room and pongs are written while
        nobody else is writing; anything that has to wait (a full inbox, the
        peer's close ...) is left to the reader task as a coroutine.
        """
        out: list[bytes] = []
        try:
            engine = self._engine
            inbox = self._inbox
            engine.feed(data)
            while True:
                step = engine.next(out)
                if step is None:
                    step = engine.unfinished(inbox.chunks_wanted)
                    if step is None:
                        if not out or self._write_now(out):
                            return True
                        break
                    if inbox.deliver_nowait(step):
                        continue
                    break
                cls = type(step)
                if (cls is str or cls is bytes or cls is Fragment) and inbox.deliver_nowait(
                    step  # type: ignore[arg-type]
                ):
                    continue
                break
        except Exception as exc:  # never into the event loop's callback
            self._pending = _reraise(exc)
            return False
        self._pending = self._act(out, step)
        return False

    # Acting on the engine's steps

    async def _act(self, out: list[bytes], step: Step | None = None) -> bool:
        """Act on the engine's steps until it has none; False once the reader should stop.

        ``step``: one the data callback took and left to do; ``out``: bytes
        to write once the steps are done.
        """
        engine = self._engine
        inbox = self._inbox
        while True:
            if step is None:
                step = engine.next(out)
                if step is None:
                    break
            cls = type(step)
            if cls is str or cls is bytes or cls is Fragment:
                await inbox.deliver(step)  # type: ignore[arg-type]
            elif not await self._act_on_event(step, out):
                return False
            step = None
        unfinished = engine.unfinished(inbox.chunks_wanted)
        if unfinished is not None:
            await inbox.deliver(unfinished)
        if out:
            try:
                await self._write(b"".join(out))
            except ConnectionClosed:
                pass  # the transport is gone: the next read reports it
        return True

    async def _act_on_event(self, step: Step, out: list[bytes]) -> bool:
        """What is not a message; False once the reader should stop."""
        handshake = self._engine.handshake
        if isinstance(step, CloseConnection):
            if out:
                await self._write(b"".join(out))
                out.clear()
            await self._answer_close(step)
            return False
        if isinstance(step, Failure):
            self._inbox.end()
            out.append(step.frame)
            return True
        assert handshake is not None  # the events below come before the connection is open
        if isinstance(step, Request):
            handshake.done.set()
            await handshake.decided.wait()
            # Accepted (the handler may have sent and started closing already),
            # or rejected (then there is nothing more to read).
            return self._engine.open or self._engine.closing_locally
        if isinstance(step, AcceptConnection):
            handshake.done.set()
            return True
        assert step is REJECTED
        handshake.rejected()
        return False

    # Starting, parking and stopping the reader task

    def _start_reader(self) -> None:
        """Start a shielded reader task in ``_spawner`` (a server's connection)."""
        assert self._spawner is not None
        self._reader_scope = anyio.CancelScope(shield=True)
        self._spawner.start_soon(
            _run_contained,
            self._reader_scope,
            self._reader,
            self._engine.log_id,
            self._engine.remote,
            name=f"wsproto reader {self._engine.path}",
        )

    def _park(self) -> bool:
        """End the reader task, leaving the transport's callback to do its work.

        A server's connection on our asyncio transport (see
        ``AsyncioStream.park``): an idle connection then costs no reader task,
        about 4 KiB with anyio. The callback starts a reader again whenever it
        has to wait for something (:meth:`_unpark`). False if the reader has
        to go on (bytes already buffered).
        """
        if self._restarter is None or self._fast is None:
            return False
        if not self._fast.park(self._on_push, self._unpark, self._receive_size):
            return False
        self._reader_scope = None  # its task is ending (a scope is 650 bytes)
        return True

    def _unpark(self) -> None:
        # Called in the transport's data callback, outside any task: only
        # queue the start (see _transport_protocol.Restarter).
        assert self._restarter is not None
        self._restarter.request(self._start_reader)

    def _drop_pending(self) -> None:
        if self._pending is not None:
            self._pending.close()  # never to run: no "never awaited" warning
            self._pending = None


async def _reraise(exc: Exception) -> bool:
    raise exc


async def _run_contained(
    scope: anyio.CancelScope,
    task: Callable[[], Awaitable[None]],
    log_id: int,
    remote: Endpoint | str | None,
) -> None:
    with scope:
        try:
            await task()
        except Exception as exc:
            _log.task_failed(log_id, remote, exc)
