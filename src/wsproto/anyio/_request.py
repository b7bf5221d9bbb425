"""WebSocketRequest: a client's upgrade request, for a server's handler to answer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsproto.events import Request
from wsproto.typing import Headers
from wsproto.utilities import LocalProtocolError

from . import _log
from ._connection import WebSocketConnection
from ._errors import Endpoint

__all__ = ["WebSocketRequest"]


class WebSocketRequest:
    """A client's upgrade request, for the handler to accept or reject."""

    def __init__(
        self,
        connection: WebSocketConnection,
        event: Request,
        extensions_factory: Callable[[], list[Any]],
        *,
        log_id: int,
    ) -> None:
        self._connection = connection
        self._event = event
        self._extensions_factory = extensions_factory
        self._log_id = log_id  # the connection's id in the logs

    @property
    def path(self) -> str:
        """The requested target (path and query string)."""
        return self._event.target

    @property
    def headers(self) -> Headers:
        """The request's headers, in wire order, names lower-cased.

        All but ``Host`` (see :attr:`host`), ``Sec-WebSocket-Protocol`` (see
        :attr:`proposed_subprotocols`) and ``Sec-WebSocket-Extensions`` (the
        server negotiates those itself), as in wsproto 1.x.
        """
        return self._event.extra_headers

    @property
    def host(self) -> str:
        """The ``Host`` header: the host (and port) the client asked for."""
        return self._event.host

    @property
    def proposed_subprotocols(self) -> tuple[str, ...]:
        """The subprotocols the client proposed, in its order of preference."""
        return tuple(self._event.subprotocols)

    @property
    def local(self) -> Endpoint | str | None:
        """The server's end of the connection."""
        return self._connection.local

    @property
    def remote(self) -> Endpoint | str | None:
        """The client's end of the connection."""
        return self._connection.remote

    async def accept(
        self, *, subprotocol: str | None = None, extra_headers: Headers | None = None
    ) -> WebSocketConnection:
        """Accept the upgrade and return the open connection.

        Args:
            subprotocol: One of :attr:`proposed_subprotocols`, or ``None``.
            extra_headers: Additional response headers.

        Raises:
            ValueError: if ``subprotocol`` was not proposed by the client.
            ConnectionClosed: if the client went away meanwhile.
        """
        connection = self._connection
        try:
            await connection._accept(subprotocol, extra_headers, self._extensions_factory())
        except LocalProtocolError as exc:
            raise ValueError(str(exc)) from None
        logger = _log.server_logger
        _log.handshake_accepted(logger, self._log_id, connection.remote, self.path, subprotocol)
        return connection

    async def reject(
        self, status_code: int, *, extra_headers: Headers | None = None, body: bytes | None = None
    ) -> None:
        """Refuse the upgrade with an HTTP response, then close the connection."""
        await self._connection._reject(status_code, extra_headers, body)
        remote = self._connection.remote
        _log.handshake_rejected(_log.server_logger, self._log_id, remote, status_code)
