"""A pytest plugin for httpx-ws 0.9.0's own tests: time and widen their two races.

Some of httpx-ws's tests fail now and then, on wsproto 1.3.2 as on ours, when
the machine is loaded (docs/compatibility.md, "Consumers' test suites"). This
plugin shows why, on whichever wsproto is imported. Load it into a run of those
tests (``-p httpx_ws_races`` with this folder on ``PYTHONPATH``) and set:

``HTTPX_WS_TIMELINE=FILE``
    Append, for each test, when the client closed, when the test told uvicorn
    to exit, when uvicorn shut its connections down (failing them with 1012),
    what the server's application received, and when the keepalive test's
    session started, pinged, got its pong and ended.
``HTTPX_WS_SERVER_READ_DELAY=SECONDS``
    uvicorn's WebSocket protocols (its websockets one and its wsproto one) get
    each burst of incoming bytes, EOF and connection loss that much later, in
    order: a server that reads late, as under load.
``HTTPX_WS_SWITCH_INTERVAL=SECONDS``
    ``sys.setswitchinterval``: a thread waiting for the GIL while another
    spins (the keepalive test's mock ``read()`` does) waits up to this long
    each time, instead of 5 ms.

It reaches into httpx-ws, uvicorn and websockets (legacy) at the versions
``compat/downstream.py`` pins; other versions may need other hooks.
"""

from __future__ import annotations

import asyncio
import importlib
import os
import sys
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

import pytest

_Method = Callable[..., Any]

_events: list[tuple[float, str]] = []
_lock = threading.Lock()


def _mark(what: str) -> None:
    with _lock:
        _events.append((time.perf_counter(), what))


def _before(cls: Any, name: str, what: str) -> None:
    """Mark ``what`` whenever ``cls.name`` (a plain method) is called."""
    method: _Method = getattr(cls, name)

    def wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
        _mark(what)
        return method(self, *args, **kwargs)

    setattr(cls, name, wrapper)


def _before_async(cls: Any, name: str, what: str) -> None:
    """Mark ``what`` whenever the coroutine method ``cls.name`` is called."""
    method: _Method = getattr(cls, name)

    async def wrapper(self: object, *args: Any, **kwargs: Any) -> Any:
        _mark(what)
        return await method(self, *args, **kwargs)

    setattr(cls, name, wrapper)


def _watch() -> None:
    api = importlib.import_module("httpx_ws._api")
    ping = importlib.import_module("httpx_ws._ping")
    server = importlib.import_module("uvicorn.server").Server
    websockets_impl = importlib.import_module("uvicorn.protocols.websockets.websockets_impl")
    wsproto_impl = importlib.import_module("uvicorn.protocols.websockets.wsproto_impl")

    _before_async(api.AsyncWebSocketSession, "close", "async client closes")
    _before(api.WebSocketSession, "close", "sync client closes")
    _before(api.WebSocketSession, "__enter__", "sync session starts")
    _before(api.WebSocketSession, "__exit__", "sync session exits")
    _before(api.WebSocketSession, "ping", "keepalive thread sends a ping")
    _before(ping.PingManager, "ack", "receive thread gets the pong")
    _before_async(server, "shutdown", "uvicorn shuts down (open connections get 1012)")

    def get_should_exit(self: Any) -> bool:
        return bool(self.__dict__.get("_should_exit", False))

    def set_should_exit(self: Any, value: bool) -> None:
        if value:
            _mark("test tells uvicorn to exit")
        self.__dict__["_should_exit"] = value

    server.should_exit = property(get_should_exit, set_should_exit)

    for cls, name in (
        (websockets_impl.WebSocketProtocol, "asgi_receive"),
        (wsproto_impl.WSProtocol, "receive"),
    ):
        receive: _Method = getattr(cls, name)

        async def wrapper(self: object, _receive: _Method = receive) -> Any:
            message = await _receive(self)
            _mark(f"server app receives {message.get('type')} {message.get('code', '')}")
            return message

        setattr(cls, name, wrapper)


def _read_late(delay: float) -> None:
    websockets_impl = importlib.import_module("uvicorn.protocols.websockets.websockets_impl")
    wsproto_impl = importlib.import_module("uvicorn.protocols.websockets.wsproto_impl")

    def deliver(protocol: Any) -> None:
        pending: list[tuple[_Method, tuple[Any, ...]]] = protocol.__dict__["_late"]
        while pending:
            method, args = pending.pop(0)
            method(protocol, *args)

    def late(method: _Method) -> _Method:
        # Returns None, as both protocols' eof_received do: the transport
        # closes at EOF, and the protocol hears of it later.
        def wrapper(self: Any, *args: Any) -> None:
            pending = self.__dict__.setdefault("_late", [])
            pending.append((method, args))
            if len(pending) == 1:
                asyncio.get_running_loop().call_later(delay, deliver, self)

        return wrapper

    for cls in (websockets_impl.WebSocketProtocol, wsproto_impl.WSProtocol):
        for name in ("data_received", "eof_received", "connection_lost"):
            setattr(cls, name, late(getattr(cls, name)))


def pytest_configure(config: pytest.Config) -> None:
    """Install what the environment asks for."""
    if os.environ.get("HTTPX_WS_SWITCH_INTERVAL"):
        sys.setswitchinterval(float(os.environ["HTTPX_WS_SWITCH_INTERVAL"]))
    if os.environ.get("HTTPX_WS_SERVER_READ_DELAY"):
        _read_late(float(os.environ["HTTPX_WS_SERVER_READ_DELAY"]))
    if os.environ.get("HTTPX_WS_TIMELINE"):
        _watch()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Write the test's timeline (milliseconds from its start) when asked to."""
    path = os.environ.get("HTTPX_WS_TIMELINE")
    with _lock:
        _events.clear()
    _mark("test starts")
    failed = True
    try:
        yield
        failed = False
    finally:
        if path:
            with _lock:
                events = list(_events)
            start = events[0][0]
            with open(path, "a", encoding="utf-8") as out:
                out.write(f"== {item.nodeid} {'FAIL' if failed else 'ok'}\n")
                for at, what in events:
                    out.write(f"  {1000 * (at - start):9.2f} ms  {what}\n")
