"""The one internal error of the receive path.

Everything below :meth:`Connection.events` raises :class:`ProtocolFailure`;
``events()`` turns it into a :class:`~wsproto.events.CloseConnection` once.
"""

from __future__ import annotations


class ProtocolFailure(Exception):
    """The peer violated the protocol; the connection fails with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason
