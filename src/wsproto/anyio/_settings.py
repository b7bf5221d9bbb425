"""Per-connection settings, shared by every client and server entry point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from anyio import TypedAttributeProvider
from anyio.abc import ByteStream, SocketAttribute
from anyio.streams.tls import TLSAttribute

from wsproto import ConnectionType, WSConnection
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.typing import Headers

from ._compat import KnowsTLS
from ._connection import WebSocketConnection
from ._errors import Endpoint
from ._limits import (
    CONN_TIMEOUT,
    MAX_FRAGMENTS,
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    PING_INTERVAL,
    PING_TIMEOUT,
)

Compression = Literal["deflate"] | None
DeflateOptions = Mapping[str, "int | bool | None"]


def make_extensions(compression: Compression, options: DeflateOptions | None) -> list[Extension]:
    """The extensions to offer or accept for a ``compression`` setting."""
    if compression is None:
        return []
    if compression != "deflate":
        raise ValueError(f"unknown compression {compression!r}; use 'deflate' or None")
    return [PerMessageDeflate(**dict(options or {}))]  # type: ignore[arg-type]


def endpoints(
    stream: TypedAttributeProvider,
) -> tuple[Endpoint | str | None, Endpoint | str | None]:
    """The local and remote ends of a socket stream, if it is one."""
    is_ssl = stream.extra(TLSAttribute.ssl_object, None) is not None or (
        isinstance(stream, KnowsTLS) and stream.tls
    )

    def endpoint(address: object) -> Endpoint | str | None:
        if isinstance(address, tuple):
            return Endpoint(str(address[0]), int(address[1]), is_ssl)
        if isinstance(address, str):
            return address  # a Unix socket path
        return None

    return (
        endpoint(stream.extra(SocketAttribute.local_address, None)),
        endpoint(stream.extra(SocketAttribute.remote_address, None)),
    )


@dataclass(frozen=True)
class Settings:
    """The options every entry point takes, gathered once and validated."""

    message_queue_size: int = MESSAGE_QUEUE_SIZE
    max_message_size: int | None = MAX_MESSAGE_SIZE
    receive_buffer_size: int | None = None
    max_fragments: int | None = MAX_FRAGMENTS
    compression: Compression = "deflate"
    deflate_options: DeflateOptions | None = None
    ping_interval: float | None = PING_INTERVAL
    ping_timeout: float | None = PING_TIMEOUT
    disconnect_timeout: float = CONN_TIMEOUT

    def __post_init__(self) -> None:
        self.extensions()  # fail early on an unknown compression or bad options

    def extensions(self) -> list[Extension]:
        """Fresh extension objects for one connection (they hold its state)."""
        return make_extensions(self.compression, self.deflate_options)

    def connection(
        self,
        stream: ByteStream,
        *,
        client: bool,
        log_id: int,
        host: str | None = None,
        path: str | None = None,
        subprotocols: list[str] | None = None,
        extra_headers: Headers | None = None,
    ) -> WebSocketConnection:
        """A new (not yet started) connection over ``stream``.

        ``log_id``: the connection's id in the logs (``_log.new_id()``), which
        the caller's records about it carry too.
        """
        local, remote = endpoints(stream)
        kind = ConnectionType.CLIENT if client else ConnectionType.SERVER
        return WebSocketConnection(
            stream,
            WSConnection(kind, max_message_size=self.max_message_size),
            host=host,
            path=path,
            client_subprotocols=subprotocols,
            client_extra_headers=extra_headers,
            client_extensions=self.extensions() if client else None,
            message_queue_size=self.message_queue_size,
            max_fragments=self.max_fragments,
            receive_buffer_size=self.receive_buffer_size,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            disconnect_timeout=self.disconnect_timeout,
            local=local,
            remote=remote,
            log_id=log_id,
        )
