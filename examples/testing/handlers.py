"""The server handler that the tests beside this file test: an upper-casing echo.

It serves ``/shout`` only (other paths get 404) and answers every message
with the same message in capitals, text as text and bytes as bytes.
"""

from __future__ import annotations

from wsproto.anyio import WebSocketRequest


async def shout(request: WebSocketRequest) -> None:
    """Accept ``/shout``, reject anything else; echo every message upper-cased."""
    if request.path != "/shout":
        await request.reject(404, body=b"try /shout\n")
        return
    ws = await request.accept()
    async for message in ws:
        await ws.send_message(message.upper())
