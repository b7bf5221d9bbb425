"""Opening: the procedures of the opening handshake, on both sides.

A client writes its upgrade request and waits for the answer; a server waits
for the request, and its handler then accepts or rejects. The reader fills in
the handshake's state (``_handshake.py``) as the engine reports it; once the
connection is open, the engine drops that state.
"""

from __future__ import annotations

import anyio

from wsproto.events import Request
from wsproto.extensions import Extension
from wsproto.typing import Headers

from ._closing import Closing

__all__ = ["Opening"]


class Opening(Closing):
    """The opening handshake of a connection (a part of :class:`WebSocketConnection`)."""

    __slots__ = ()

    async def _open_client(self) -> None:
        """Send the upgrade request and wait for the answer (client side)."""
        engine = self._engine
        handshake = engine.handshake
        assert handshake is not None
        assert engine.path is not None
        await self._write(engine.ws.send(handshake.client_request(engine.path)))
        await handshake.done.wait()
        if handshake.error is not None:
            with anyio.CancelScope(shield=True):
                await self._teardown()
            raise handshake.error
        engine.drop_handshake()

    async def _wait_request(self) -> Request | None:
        """Wait for the client's upgrade request (server side); ``None`` if it never came."""
        handshake = self._engine.handshake
        assert handshake is not None
        await handshake.done.wait()
        return handshake.request

    def _handshake_decided(self) -> bool:
        """Whether a server's handler accepted or rejected the request."""
        handshake = self._engine.handshake
        return handshake is None or handshake.decided.is_set()

    async def _accept(
        self, subprotocol: str | None, extra_headers: Headers | None, extensions: list[Extension]
    ) -> None:
        data = self._engine.accept(subprotocol, extra_headers, extensions)
        handshake = self._engine.drop_handshake()
        if handshake is not None:
            handshake.decided.set()  # the reader goes on reading
        await self._write(data)

    async def _reject(
        self, status_code: int, extra_headers: Headers | None, body: bytes | None
    ) -> None:
        handshake = self._engine.handshake
        try:
            data = self._engine.reject(status_code, extra_headers, body)
        except BaseException:
            # Not rejected after all (e.g. already accepted): the connection
            # keeps its state, so a handler error still closes it with 1011.
            if handshake is not None:
                handshake.decided.set()
            raise
        try:
            await self._write(data)
        finally:
            # Only now: once decided, the reader closes the transport, which
            # could cut the response off if it were still being written.
            if handshake is not None:
                handshake.decided.set()
            self._inbox.discard()
            await self._teardown()
