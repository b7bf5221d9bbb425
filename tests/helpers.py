"""Test helpers: two core connections joined by a fake wire."""

from __future__ import annotations

from collections.abc import Sequence

from wsproto.connection import Connection, ConnectionType
from wsproto.events import Event
from wsproto.extensions import Extension


class ConnectionPair:
    """A client and a server :class:`Connection` whose bytes go to each other.

    ``pair.send(sender, events)`` serializes events on one side and returns
    the events the other side parses from the bytes (fed whole, or in
    ``chunk``-sized pieces).
    """

    def __init__(
        self,
        client_extensions: Sequence[Extension] = (),
        server_extensions: Sequence[Extension] = (),
        max_frame_size: int | None = None,
        max_message_size: int | None = None,
    ) -> None:
        self.client = Connection(
            ConnectionType.CLIENT,
            list(client_extensions),
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
        )
        self.server = Connection(
            ConnectionType.SERVER,
            list(server_extensions),
            max_frame_size=max_frame_size,
            max_message_size=max_message_size,
        )

    def peer(self, side: Connection) -> Connection:
        return self.server if side is self.client else self.client

    def send(
        self, side: Connection, events: Sequence[Event], chunk: int | None = None
    ) -> list[Event]:
        data = b"".join(side.send(event) for event in events)
        return feed(self.peer(side), data, chunk)


def feed(conn: Connection, data: bytes, chunk: int | None = None) -> list[Event]:
    """Feed ``data`` to ``conn`` (in ``chunk``-sized pieces) and collect its events."""
    out: list[Event] = []
    step = chunk or max(len(data), 1)
    for i in range(0, max(len(data), 1), step):
        conn.receive_data(data[i : i + step])
        out.extend(conn.events())
    return out
