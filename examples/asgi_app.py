"""An ASGI WebSocket application, for ASGI servers that run on wsproto's core.

Run it with uvicorn (``--ws wsproto`` picks uvicorn's wsproto-based
WebSocket protocol) or with hypercorn, which always speaks WebSocket through
wsproto; installing this package gives both servers this project's core::

    uvicorn --ws wsproto asgi_app:app
    hypercorn asgi_app:app                 # asyncio
    hypercorn --worker-class trio asgi_app:app

Routes:

- ``/echo`` accepts and sends every message back;
- ``/close/CODE`` accepts, then closes with CODE and the reason ``"goodbye"``;
- ``/reject`` refuses the upgrade with a 403 response and a body of its own
  (the ``websocket.http.response`` extension), or, on a server without that
  extension, by closing before accepting (the server answers 403);
- any other path is refused by closing before accepting (403).

Plain HTTP requests get 426 Upgrade Required. It prints one line when a
client closes a connection, with the code (and the reason, where the server
passes it on).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

REJECTION = b"no WebSocket for you here\n"


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI 3 entry point."""
    if scope["type"] == "websocket":
        await websocket(scope, receive, send)
    elif scope["type"] == "http":
        await http(receive, send)
    elif scope["type"] == "lifespan":
        await lifespan(receive, send)


async def websocket(scope: Scope, receive: Receive, send: Send) -> None:
    path: str = scope["path"]
    connect = await receive()
    assert connect["type"] == "websocket.connect"
    if path == "/reject":
        await reject(scope, send)
        return
    if path != "/echo" and not path.startswith("/close/"):
        await send({"type": "websocket.close"})  # before accepting: 403
        return
    await send({"type": "websocket.accept"})
    if path.startswith("/close/"):
        code = int(path.removeprefix("/close/"))
        await send({"type": "websocket.close", "code": code, "reason": "goodbye"})
        return
    while True:
        message = await receive()
        if message["type"] == "websocket.disconnect":
            # ASGI 2.3 added the reason; servers without it pass the code only.
            reason = f" {message['reason']!r}" if message.get("reason") else ""
            print(f"asgi: {path} closed by the client with {message['code']}{reason}", flush=True)
            return
        if message.get("text") is not None:
            await send({"type": "websocket.send", "text": message["text"]})
        else:
            await send({"type": "websocket.send", "bytes": message["bytes"]})


async def reject(scope: Scope, send: Send) -> None:
    """Refuse the upgrade with an HTTP response of our own, where the server allows it."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await send({"type": "websocket.close"})
        return
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 403,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(REJECTION)).encode()),
            ],
        }
    )
    await send({"type": "websocket.http.response.body", "body": REJECTION})


async def http(receive: Receive, send: Send) -> None:
    body = b"this is a WebSocket endpoint\n"
    await send(
        {
            "type": "http.response.start",
            "status": 426,
            "headers": [
                (b"content-type", b"text/plain"),
                (b"content-length", str(len(body)).encode()),
                (b"upgrade", b"websocket"),
                (b"connection", b"upgrade"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
