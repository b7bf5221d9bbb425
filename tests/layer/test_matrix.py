"""The layer's behaviour, the same in every cell of the driver-by-runner matrix (see matrix.py).

Each scenario is one ``async def`` over a :class:`~tests.layer.matrix.Transport`;
it runs under every runner (``asyncio.run``, ``trio.run``, ``anyio.run`` on
each backend, trio guest mode on an asyncio loop, and the pytest plugins of
anyio, pytest-asyncio and pytest-trio) over every transport. Close codes,
exceptions, the order of messages and the log records are asserted alike
everywhere; nothing here may depend on the cell.
"""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest

from wsproto.anyio import ConnectionClosed, WebSocketConnection, WebSocketRequest

from .matrix import RUNNERS, TRANSPORTS, Transport

Scenario = Callable[[Transport], Awaitable[None]]
#: Scenario name -> (scenario, the log records it must produce at WARNING or above,
#: as (level name, message start, exception type or None)).
SCENARIOS: dict[str, tuple[Scenario, list[tuple[str, str, type[BaseException] | None]]]] = {}


def scenario(
    *logged: tuple[str, str, type[BaseException] | None],
) -> Callable[[Scenario], Scenario]:
    def register(fn: Scenario) -> Scenario:
        SCENARIOS[fn.__name__] = (fn, list(logged))
        return fn

    return register


async def _closed_reason(ws: WebSocketConnection) -> tuple[int | None, str | None]:
    with pytest.raises(ConnectionClosed) as info:
        await ws.get_message()
    reason = info.value.reason
    assert reason is not None
    return reason.code, reason.reason


@scenario()
async def echo_then_client_closes(t: Transport) -> None:
    """Messages echo in order; the client's close reaches the handler as 1000."""
    seen: list[object] = []
    done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        try:
            while True:
                await ws.send_message(await ws.get_message())
        except ConnectionClosed as exc:
            seen.append(exc.reason.code if exc.reason else None)
        finally:
            done.set()

    async with t.server(handler) as connect:
        async with connect() as ws:
            for message in ("a", b"b", "c" * 70_000, b"d" * 300_000):
                await ws.send_message(message)
            received = [await ws.get_message() for _ in range(4)]
            assert received == ["a", b"b", "c" * 70_000, b"d" * 300_000]
        assert ws.closed is not None
        assert ws.closed.code == 1000
        await done.wait()
    assert seen == [1000]


@scenario()
async def server_sends_then_closes(t: Transport) -> None:
    """Messages the server sends right before its close all arrive, then 1000."""
    for count in (3, 20):

        async def handler(request: WebSocketRequest, count: int = count) -> None:
            ws = await request.accept()
            for i in range(count):
                await ws.send_message(f"m{i}")
            await ws.aclose(1000)

        received: list[str | bytes] = []
        async with t.server(handler) as connect, connect() as ws:
            with pytest.raises(ConnectionClosed) as info:  # noqa: PT012
                while True:
                    received.append(await ws.get_message())
        assert received == [f"m{i}" for i in range(count)]
        assert info.value.reason is not None
        assert info.value.reason.code == 1000


@scenario()
async def client_close_code_and_reason(t: Transport) -> None:
    """The handler sees the code and reason the client closed with."""
    seen: list[tuple[int | None, str | None]] = []
    done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        seen.append(await _closed_reason(ws))
        assert ws.closed is not None
        done.set()

    async with t.server(handler) as connect:
        async with connect() as ws:
            await ws.aclose(4001, "bye")
            assert ws.closed is not None
            assert (ws.closed.code, ws.closed.reason) == (4001, "bye")
        await done.wait()
    assert seen == [(4001, "bye")]


@scenario(("ERROR", "handler for /boom raised", ValueError))
async def handler_raises(t: Transport) -> None:
    """A handler's unexpected error is logged once; the client sees 1011."""

    async def handler(request: WebSocketRequest) -> None:
        await request.accept()
        try:
            raise KeyError("first")
        except KeyError:
            raise ValueError("boom") from None

    async with t.server(handler) as connect, connect("/boom") as ws:
        assert await _closed_reason(ws) == (1011, "internal error")


@scenario()
async def server_shutdown_says_going_away(t: Transport) -> None:
    """Cancelling the server closes its connections with 1001."""
    accepted = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        accepted.set()
        await ws.get_message()

    async with anyio.create_task_group() as group:

        async def serve(*, task_status: anyio.abc.TaskStatus[Any]) -> None:
            async with t.server(handler) as connect:
                task_status.started(connect)
                await anyio.sleep_forever()

        connect = await group.start(serve)
        async with connect() as ws:
            await accepted.wait()
            group.cancel_scope.cancel()
            assert await _closed_reason(ws) == (1001, "server shutting down")


@scenario()
async def every_call_is_a_checkpoint(t: Transport) -> None:
    """In a cancelled scope, get_message/send_message/ping/pong raise and do nothing.

    aclose() closes all the same, then raises.
    """
    synced = anyio.Event()
    outcomes: list[object] = []

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("ready")
        await synced.wait()  # "x" is queued on this side now
        for call in (
            ws.get_message,
            lambda: ws.send_message("never"),
            lambda: ws.send_message(b"n" * 100_000),
            ws.pong,
        ):
            with anyio.CancelScope() as scope:
                scope.cancel()
                await call()
            outcomes.append(scope.cancelled_caught)
        outcomes.append(await ws.get_message())
        await ws.send_message("after")
        await ws.get_message()

    async with t.server(handler) as connect, connect() as ws:
        assert await ws.get_message() == "ready"
        await ws.send_message("x")
        await ws.ping()  # answered after the server's reader queued "x"
        synced.set()
        assert await ws.get_message() == "after"
        assert outcomes == [True, True, True, True, "x"]
        with anyio.CancelScope() as scope:
            scope.cancel()
            await ws.ping()
        assert scope.cancelled_caught
        await ws.send_message("end")
        # aclose() too, but it closes first: a cancelled close still closes.
        with anyio.CancelScope() as scope:
            scope.cancel()
            await ws.aclose()
        assert scope.cancelled_caught
        assert ws.closed is not None
        assert ws.closed.code == 1000


@scenario()
async def the_users_exception_keeps_its_context(t: Transport) -> None:
    """An error raised in the client's block comes out as itself, context and cause intact."""

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.get_message()

    async with t.server(handler) as connect:
        with pytest.raises(ValueError, match="second") as info:  # noqa: PT012
            async with connect():
                try:
                    raise TypeError("first")
                except TypeError:
                    raise ValueError("second")  # noqa: B904 (the context is the point)
        assert isinstance(info.value.__context__, TypeError)
        assert not info.value.__suppress_context__
        with pytest.raises(ValueError, match="third") as info:
            async with connect():
                raise ValueError("third") from OSError("cause")
        assert isinstance(info.value.__cause__, OSError)


@scenario()
async def pings_are_answered(t: Transport) -> None:
    """Each side's ping returns once the other side's pong arrives."""
    done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.ping(b"server")
        assert ws.latency is not None
        await ws.send_message("pinged")
        await ws.get_message()
        done.set()

    async with t.server(handler) as connect, connect() as ws:
        await ws.ping(b"client")
        assert ws.latency is not None
        assert await ws.get_message() == "pinged"
        await ws.send_message("bye")
        await done.wait()


@scenario()
async def a_message_over_the_limit_closes_with_1009(t: Transport) -> None:
    """A message over the client's max_message_size fails the connection with 1009, both ends."""
    seen: list[tuple[int | None, str | None]] = []
    done = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        await ws.send_message("small")
        await ws.send_message("x" * 2000)
        seen.append(await _closed_reason(ws))
        done.set()

    async with t.server(handler) as connect, connect(max_message_size=1000) as ws:
        assert await ws.get_message() == "small"
        code, _ = await _closed_reason(ws)
        assert code == 1009
        await done.wait()
    assert [code for code, _ in seen] == [1009]


@scenario()
async def a_closed_connection_is_freed_at_once(t: Transport) -> None:
    """Once closed and let go of, neither end's connection waits for the garbage collector.

    A cycle through a connection keeps it, its buffers and its transport
    until the cyclic collector runs, which under load can be long after.
    """
    refs: list[weakref.ref[WebSocketConnection]] = []
    handled = anyio.Event()

    async def handler(request: WebSocketRequest) -> None:
        ws = await request.accept()
        refs.append(weakref.ref(ws))
        await ws.send_message(await ws.get_message())
        with pytest.raises(ConnectionClosed):
            await ws.get_message()
        handled.set()

    gc.disable()
    try:
        async with t.server(handler) as connect:
            async with connect() as ws:
                refs.append(weakref.ref(ws))
                await ws.send_message("x")
                assert await ws.get_message() == "x"
            del ws
            await handled.wait()
            for _ in range(50):  # the server lets go once its handler's task is done
                await anyio.sleep(0.01)
                if not [ref for ref in refs if ref() is not None]:
                    break
            assert [ref() for ref in refs] == [None, None]
    finally:
        gc.enable()


# The matrix


def _check_logs(caplog: pytest.LogCaptureFixture, name: str) -> None:
    expected = SCENARIOS[name][1]
    seen = [
        (
            record.levelname,
            record.getMessage(),
            type(record.exc_info[1]) if record.exc_info and record.exc_info[1] else None,
        )
        for record in caplog.records
        if record.levelno >= logging.WARNING and record.name.startswith("wsproto")
    ]
    assert len(seen) == len(expected), seen
    for (level, message, exc_type), (want_level, want_text, want_type) in zip(
        seen, expected, strict=True
    ):
        assert level == want_level
        assert want_text in message, message
        assert exc_type is want_type


SCENARIO_NAMES = sorted(SCENARIOS)
TRANSPORT_NAMES = list(TRANSPORTS)


@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
@pytest.mark.parametrize("runner", list(RUNNERS))
@pytest.mark.parametrize("name", SCENARIO_NAMES)
def test_under_runner(
    name: str, runner: str, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    RUNNERS[runner](lambda: SCENARIOS[name][0](TRANSPORTS[transport]))
    _check_logs(caplog, name)


@pytest.mark.anyio
@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_under_anyio_plugin(
    name: str, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    await SCENARIOS[name][0](TRANSPORTS[transport])
    _check_logs(caplog, name)


@pytest.mark.asyncio
@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_under_pytest_asyncio(
    name: str, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    await SCENARIOS[name][0](TRANSPORTS[transport])
    _check_logs(caplog, name)


@pytest.mark.trio
@pytest.mark.parametrize("transport", TRANSPORT_NAMES)
@pytest.mark.parametrize("name", SCENARIO_NAMES)
async def test_under_pytest_trio(
    name: str, transport: str, caplog: pytest.LogCaptureFixture
) -> None:
    await SCENARIOS[name][0](TRANSPORTS[transport])
    _check_logs(caplog, name)
