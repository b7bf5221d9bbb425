"""wsproto: a strict, fast, I/O-free WebSocket protocol stack (RFC 6455, RFC 7692).

:class:`WSConnection` is the entry point: it runs the HTTP/1.1 opening
handshake, then the WebSocket connection, turning received bytes into events
and events into bytes to send.
"""

from __future__ import annotations

from collections.abc import Iterator

from .connection import Connection, ConnectionState, ConnectionType
from .events import Event
from .handshake import H11Handshake
from .typing import Headers

__all__ = ["ConnectionType", "WSConnection", "__version__"]

#: The version, plain dotted numbers (consumers parse it with ``int()``).
__version__ = "2.0.0"


class WSConnection:
    """Represents the local end of a WebSocket connection to a remote peer.

    Args:
        connection_type: Controls whether the library behaves as a client or
            as a server.
        max_frame_size: If set, a received frame with a larger payload fails
            the connection with 1009 (message too big).
        max_message_size: If set, a received message with more data (after
            decompression) fails the connection with 1009. No limit by default.
    """

    def __init__(
        self,
        connection_type: ConnectionType,
        *,
        max_frame_size: int | None = None,
        max_message_size: int | None = None,
    ) -> None:
        self.client = connection_type is ConnectionType.CLIENT
        self.handshake = H11Handshake(
            connection_type, max_frame_size=max_frame_size, max_message_size=max_message_size
        )
        self.connection: Connection | None = None

    @property
    def state(self) -> ConnectionState:
        """The connection state (a :class:`~wsproto.connection.ConnectionState`)."""
        if self.connection is None:
            return self.handshake.state
        return self.connection.state

    def initiate_upgrade_connection(self, headers: Headers, path: bytes | str) -> None:
        """Start a server connection from an upgrade request parsed elsewhere.

        Use it when your HTTP server already read the request: pass its headers
        and target, then iterate :meth:`events` for the
        :class:`~wsproto.events.Request`.
        """
        self.handshake.initiate_upgrade_connection(headers, path)

    def send(self, event: Event) -> bytes:
        """Generate network data for the specified event.

        Returns:
            The bytes to write to the transport.

        Raises:
            LocalProtocolError: if the event cannot be sent in the current state.
        """
        if self.connection is None:
            data = self.handshake.send(event)
            self.connection = self.handshake.connection_or_none
            return data
        return self.connection.send(event)

    def send_with_data_passthrough(self, event: Event) -> list[bytes]:
        """Like :meth:`send`, as pieces that keep a large payload uncopied.

        See :meth:`wsproto.connection.Connection.send_with_data_passthrough`;
        during the opening handshake the list holds what :meth:`send` returns.

        Raises:
            LocalProtocolError: if the event cannot be sent in the current state.
        """
        if self.connection is None:
            return [self.send(event)]
        return self.connection.send_with_data_passthrough(event)

    def receive_data(self, data: bytes | None) -> None:
        """Feed network data into the connection instance; ``None`` when the transport closed.

        After calling this method, iterate :meth:`events` to see what the data
        triggered.
        """
        if self.connection is None:
            self.handshake.receive_data(data)
            self.connection = self.handshake.connection_or_none
        else:
            self.connection.receive_data(data)

    def events(self) -> Iterator[Event]:
        """Yield pending events (each an instance of a :class:`~wsproto.events.Event` subclass)."""
        if self.connection is not None and not self.handshake._has_events:
            # Open, the handshake's part done: the connection's own iterator,
            # without a generator around it (this runs once per read).
            return self.connection.events()
        return self._all_events()

    def _all_events(self) -> Iterator[Event]:
        yield from self.handshake.events()
        if self.connection is not None:
            yield from self.connection.events()
