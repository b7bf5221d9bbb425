"""A blocking WebSocket client for scripts and tests: ``from wsproto.sync import connect``.

::

    from wsproto.sync import connect

    with connect("ws://127.0.0.1:8000/") as ws:
        ws.send("Hello")
        print(ws.recv(timeout=10))

It runs the :mod:`wsproto.anyio` client in an event loop of its own, in a
background thread (asyncio by default, ``backend="trio"`` for trio); the
exceptions are :mod:`wsproto.anyio`'s. This module only forwards to the anyio
layer: the core never imports anyio, so importing :mod:`wsproto` alone does
not load it.
"""

from .anyio._blocking import ClientConnection, ConnectOptions, connect

__all__ = ["ClientConnection", "ConnectOptions", "connect"]
