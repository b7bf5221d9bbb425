"""A blocking WebSocket client and server for scripts and tests: ``wsproto.sync.connect``.

::

    from wsproto.sync import connect

    with connect("ws://127.0.0.1:8000/") as ws:
        ws.send("Hello")
        print(ws.recv(timeout=10))

It runs the :mod:`wsproto.anyio` client in an event loop of its own, in a
background thread (asyncio by default, ``backend="trio"`` for trio);
:func:`serve` does the same for the server, with a thread per connection. The
exceptions are :mod:`wsproto.anyio`'s. This module only forwards to the anyio
layer: the core never imports anyio, so importing :mod:`wsproto` alone does
not load it.
"""

from .anyio._blocking import Connection
from .anyio._blocking_client import ClientConnection, ConnectOptions, connect
from .anyio._blocking_server import ServeOptions, Server, ServerConnection, serve

__all__ = [
    "ClientConnection",
    "ConnectOptions",
    "Connection",
    "ServeOptions",
    "Server",
    "ServerConnection",
    "connect",
    "serve",
]
