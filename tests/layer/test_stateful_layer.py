"""Stateful fuzzing of wsproto.anyio over the in-memory pair, on asyncio and on trio.

A hypothesis state machine drives both ends of :func:`open_websocket_pair`
(with and without permessage-deflate) through its public API only: messages
whole and in fragments from either side, receives, pings that wait for their
pong, unsolicited pongs, closes with any sendable code, and calls made in an
already-cancelled scope. The event loop runs in a blocking portal, so each rule
is one awaited call while the connections' own tasks run in between.

Invariants: every message sent arrives intact and in order; once closed, each
side reports the close code that was sent (1006 if a side aborted); a call in
a cancelled scope loses nothing that was already received; no exception group
escapes; nothing hangs (every call is bounded by a generous ``fail_after``,
which only turns a hang into a failure, it measures nothing).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any

import anyio
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import event as note_event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule

from tests.stateful import stateful_settings
from wsproto.anyio import ConnectionClosed, WebSocketConnection
from wsproto.anyio.testing import WebSocketPair, open_websocket_pair

# Long enough for any step on a loaded machine; a hang fails instead of blocking CI.
STEP_LIMIT = 60.0
# Messages in flight per direction: the receive queue holds them all, so a send
# never waits on a consumer that this single-threaded machine is not running.
MAX_PENDING = 8
QUEUE_SIZE = 16

SIDES = ("client", "server")
messages = st.text(max_size=300) | st.binary(max_size=3000)
fragments = st.lists(st.text(max_size=100), min_size=1, max_size=4) | st.lists(
    st.binary(max_size=1000), min_size=1, max_size=4
)
close_codes = st.sampled_from([1000, 1001, 1003, 1008, 1011]) | st.integers(3000, 4999)


def join(pieces: list[str] | list[bytes]) -> str | bytes:
    text = [piece for piece in pieces if isinstance(piece, str)]
    if len(text) == len(pieces):
        return "".join(text)
    return b"".join(piece for piece in pieces if isinstance(piece, bytes))


class LayerMachine(RuleBasedStateMachine):
    """Both ends of an in-memory pair, driven one awaited call at a time."""

    backend = "asyncio"

    def __init__(self) -> None:
        super().__init__()
        self.portal_cm: AbstractContextManager[BlockingPortal] | None = None
        self.pair_cm: AbstractContextManager[WebSocketPair] | None = None

    @initialize(deflate=st.booleans())
    def setup(self, deflate: bool) -> None:
        self.portal_cm = start_blocking_portal(self.backend)
        self.portal = self.portal_cm.__enter__()
        self.pair_cm = self.portal.wrap_async_context_manager(
            open_websocket_pair(
                compression="deflate" if deflate else None,
                message_queue_size=QUEUE_SIZE,
                ping_interval=None,
                disconnect_timeout=STEP_LIMIT,
            )
        )
        pair = self.pair_cm.__enter__()
        self.ends: dict[str, WebSocketConnection] = {"client": pair.client, "server": pair.server}
        # What each side has yet to receive, in order.
        self.pending: dict[str, list[str | bytes]] = {"client": [], "server": []}
        self.close_code: int | None = None  # the first close's code, once closed
        # The codes each side may report once closed: the first close's, or
        # (racing the peer's reader) its own aclose's.
        self.codes: dict[str, set[int]] = {"client": set(), "server": set()}

    def peer(self, side: str) -> str:
        return "server" if side == "client" else "client"

    def call(self, function: Callable[[], Awaitable[Any]]) -> Any:
        """Run one step in the event loop, bounded, with no exception group escaping."""

        async def step() -> Any:
            with anyio.fail_after(STEP_LIMIT):
                return await function()

        try:
            return self.portal.call(step)
        except BaseExceptionGroup as group:  # pragma: no cover - the invariant's failure
            raise AssertionError(f"an exception group escaped: {group!r}") from group

    def closed(self, side: str, exc: ConnectionClosed) -> None:
        """``side`` raised ConnectionClosed: the pair must be closed, with the right code."""
        assert self.close_code is not None, f"{side} closed unexpectedly: {exc!r}"
        assert exc.reason is not None
        assert exc.reason.code in self.codes[side], (exc, self.codes[side])

    def closed_by(self, side: str, code: int) -> bool:
        """Note ``side``'s close (or abort); return whether it was the first."""
        self.pending[side].clear()  # a local close discards what was not received
        if self.close_code is None:
            self.close_code = code
            self.codes = {"client": {code}, "server": {code}}
            return True
        self.codes[side].add(code)
        return False

    # -- rules -----------------------------------------------------------------

    @precondition(lambda self: self.close_code is None)
    @rule(side=st.sampled_from(SIDES), message=messages | fragments)
    def send(self, side: str, message: str | bytes | list[str] | list[bytes]) -> None:
        if len(self.pending[self.peer(side)]) >= MAX_PENDING:
            return
        self.call(lambda: self.ends[side].send_message(message))
        joined: str | bytes = message if not isinstance(message, list) else join(message)
        self.pending[self.peer(side)].append(joined)

    @precondition(lambda self: self.close_code is not None)
    @rule(side=st.sampled_from(SIDES), message=messages)
    def send_after_close(self, side: str, message: str | bytes) -> None:
        with pytest.raises(ConnectionClosed):
            self.call(lambda: self.ends[side].send_message(message))

    @rule(side=st.sampled_from(SIDES))
    def receive(self, side: str) -> None:
        pending = self.pending[side]
        if not pending and self.close_code is None:
            return  # it would wait for a message that nobody is sending
        if pending:
            assert self.call(self.ends[side].get_message) == pending.pop(0)
            return
        with pytest.raises(ConnectionClosed) as caught:
            self.call(self.ends[side].get_message)
        self.closed(side, caught.value)
        closed = self.ends[side].closed
        assert closed is not None
        assert closed.code in self.codes[side]

    @rule(side=st.sampled_from(SIDES), payload=st.none() | st.binary(min_size=1, max_size=20))
    def ping(self, side: str, payload: bytes | None) -> None:
        """A ping returns once its pong is back; after the close it raises."""
        if self.close_code is None:
            self.call(lambda: self.ends[side].ping(payload))
        else:
            with pytest.raises(ConnectionClosed):
                self.call(lambda: self.ends[side].ping(payload))

    @rule(side=st.sampled_from(SIDES), payload=st.binary(max_size=20))
    def pong(self, side: str, payload: bytes) -> None:
        if self.close_code is None:
            self.call(lambda: self.ends[side].pong(payload))
        else:
            with pytest.raises(ConnectionClosed):
                self.call(lambda: self.ends[side].pong(payload))

    @rule(side=st.sampled_from(SIDES), code=close_codes, reason=st.none() | st.text(max_size=20))
    def close(self, side: str, code: int, reason: str | None) -> None:
        """aclose() returns once the peer answered; both ends then report the code."""
        self.call(lambda: self.ends[side].aclose(code, reason))
        first = self.closed_by(side, code)
        closed = self.ends[side].closed
        assert closed is not None
        assert closed.code in self.codes[side]
        if first:
            assert (closed.reason or None) == (reason or None)

    @rule(side=st.sampled_from(SIDES))
    def cancelled_receive(self, side: str) -> None:
        """get_message in a cancelled scope loses nothing.

        It raises the cancellation, or returns the message that was already
        waiting (the layer's fast path takes a queued message without checking
        for cancellation); either way nothing is dropped or reordered.
        """

        async def cancelled() -> str | bytes | None:
            with anyio.CancelScope() as scope:
                scope.cancel()
                return await self.ends[side].get_message()
            return None

        try:
            got = self.call(cancelled)
        except ConnectionClosed as exc:
            self.closed(side, exc)
            return
        if got is not None:
            pending = self.pending[side]
            assert pending, f"a cancelled get_message made up {got!r}"
            assert got == pending.pop(0)

    @precondition(lambda self: self.close_code is None)
    @rule(side=st.sampled_from(SIDES), message=messages)
    def cancelled_send(self, side: str, message: str | bytes) -> None:
        """send_message in a cancelled scope raises; the message is either sent whole or not.

        (Today the in-memory transport cannot take a frame back, so the layer
        aborts the connection: both ends then report 1006.)
        """
        if len(self.pending[self.peer(side)]) >= MAX_PENDING:
            return

        async def cancelled() -> None:
            with anyio.CancelScope() as scope:
                scope.cancel()
                await self.ends[side].send_message(message)

        self.call(cancelled)
        closed = self.ends[side].closed
        if closed is not None:
            assert closed.code == 1006
            self.closed_by(side, 1006)

    @precondition(lambda self: self.close_code is None)
    @rule(side=st.sampled_from(SIDES), size=st.integers(70_000, 400_000))
    def cancelled_midway(self, side: str, size: int) -> None:
        """A large send cancelled once every task is blocked: sent whole, or the connection ends.

        Whether the peer's reader has taken the whole message by then depends
        on the backend's scheduling; either outcome is checked.
        """
        if len(self.pending[self.peer(side)]) >= MAX_PENDING:
            return
        message = bytes(range(256)) * (size // 256)

        async def cancelled() -> None:
            async with anyio.create_task_group() as group:
                group.start_soon(self.ends[side].send_message, message)
                await anyio.wait_all_tasks_blocked()
                group.cancel_scope.cancel()

        self.call(cancelled)
        closed = self.ends[side].closed
        note_event(f"{self.backend}: large send cancelled: {'aborted' if closed else 'sent'}")
        if closed is None:
            self.pending[self.peer(side)].append(message)
        else:
            # Part of a frame may be on the wire: nothing can follow it (RFC 6455 §5.4).
            assert closed.code == 1006
            self.closed_by(side, 1006)

    def teardown(self) -> None:
        try:
            if self.pair_cm is not None:
                self.pair_cm.__exit__(None, None, None)
        finally:
            if self.portal_cm is not None:
                self.portal_cm.__exit__(None, None, None)


class TrioLayerMachine(LayerMachine):
    backend = "trio"


TestLayerAsyncio = LayerMachine.TestCase
TestLayerAsyncio.settings = stateful_settings(0.25)
TestLayerTrio = TrioLayerMachine.TestCase
TestLayerTrio.settings = stateful_settings(0.25)
