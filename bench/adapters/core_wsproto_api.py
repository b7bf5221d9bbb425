"""The core of anything with wsproto's documented API: real wsproto 1.3.2, and ours.

Only the documented names are used (WSConnection, ConnectionType, events,
PerMessageDeflate), so the same code measures both, each in its own
environment. wsproto hands over a message in as many pieces as it arrived
in; like any application, the receiver joins them at ``message_finished``.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import wsproto
from bench.wire import upgrade_request, upgrade_response
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    CloseConnection,
    Message,
    Ping,
    Request,
    TextMessage,
)
from wsproto.extensions import PerMessageDeflate


def versions() -> dict[str, str]:
    return {"wsproto": version("wsproto"), "path": str(Path(wsproto.__file__).parent)}


def _extensions(deflate: bool) -> list[PerMessageDeflate]:
    return [PerMessageDeflate()] if deflate else []


def receiver(kind: str, deflate: bool) -> Callable[[bytes, list[object]], None]:
    conn = WSConnection(ConnectionType.SERVER)
    conn.receive_data(upgrade_request("localhost", deflate))
    request = next(conn.events())
    assert isinstance(request, Request), request
    conn.send(AcceptConnection(extensions=_extensions(deflate)))
    receive_data, events, send = conn.receive_data, conn.events, conn.send
    join = "".join if kind == "text" else b"".join
    pieces: list[object] = []

    def feed(chunk: bytes, out: list[object]) -> None:
        receive_data(chunk)
        for event in events():
            if isinstance(event, Message):
                if not event.message_finished:
                    pieces.append(event.data)
                elif pieces:
                    pieces.append(event.data)
                    out.append(join(pieces))
                    pieces.clear()
                else:
                    out.append(event.data)
            elif isinstance(event, Ping):
                send(event.response())
            elif isinstance(event, CloseConnection):
                raise RuntimeError(f"closed by the core: {event.code} {event.reason}")

    return feed


def sender(kind: str, deflate: bool) -> Callable[[object], bytes]:
    conn = WSConnection(ConnectionType.CLIENT)
    request = conn.send(Request(host="localhost", target="/bench", extensions=_extensions(deflate)))
    conn.receive_data(upgrade_response(request, deflate))
    accepted = next(conn.events())
    assert isinstance(accepted, AcceptConnection), accepted
    send = conn.send
    if kind == "text":
        return lambda payload: send(TextMessage(data=payload))
    return lambda payload: send(BytesMessage(data=payload))
