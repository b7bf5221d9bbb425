"""Placeholder: the HTTP/1.1 opening handshake lands next."""

from __future__ import annotations

WEBSOCKET_VERSION = b"13"


class H11Handshake:  # placeholder
    def __init__(self, connection_type: object) -> None:
        raise NotImplementedError
