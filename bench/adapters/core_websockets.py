"""websockets' I/O-free core (ServerProtocol / ClientProtocol) with its C speedups.

Its protocol hands over frames; text is UTF-8 bytes that websockets' own I/O
layers decode to ``str``, so this receiver decodes too, and joins fragments,
to deliver what an application receives.
"""

from __future__ import annotations

from collections.abc import Callable

import websockets
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import (
    ClientPerMessageDeflateFactory,
    ServerPerMessageDeflateFactory,
)
from websockets.frames import Opcode
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from bench.wire import upgrade_request, upgrade_response


def versions() -> dict[str, object]:
    try:
        from websockets import speedups  # noqa: F401
    except ImportError:
        speedups_built = False
    else:
        speedups_built = True
    return {"websockets": websockets.__version__, "speedups": speedups_built}


def receiver(kind: str, deflate: bool) -> Callable[[bytes, list[object]], None]:
    factories = [ServerPerMessageDeflateFactory()] if deflate else None
    protocol = ServerProtocol(extensions=factories, max_size=None)
    protocol.receive_data(upgrade_request("localhost", deflate))
    [request] = protocol.events_received()
    protocol.send_response(protocol.accept(request))
    protocol.data_to_send()
    assert protocol.state is State.OPEN
    assert bool(protocol.extensions) == deflate
    receive_data, events_received = protocol.receive_data, protocol.events_received
    data_to_send = protocol.data_to_send
    text, binary, continuation = Opcode.TEXT, Opcode.BINARY, Opcode.CONT
    pieces: list[bytes] = []
    first = [binary]

    def feed(chunk: bytes, out: list[object]) -> None:
        receive_data(chunk)
        for frame in events_received():
            opcode = frame.opcode
            if opcode is text or opcode is binary:
                if frame.fin:
                    data = frame.data
                    out.append(data.decode() if opcode is text else data)
                    continue
                first[0] = opcode
                pieces.append(frame.data)
            elif opcode is continuation:
                pieces.append(frame.data)
                if frame.fin:
                    data = b"".join(pieces)
                    pieces.clear()
                    out.append(data.decode() if first[0] is text else data)
        data_to_send()  # pongs, if any

    return feed


def sender(kind: str, deflate: bool) -> Callable[[object], list[bytes]]:
    factories = [ClientPerMessageDeflateFactory()] if deflate else None
    protocol = ClientProtocol(
        parse_uri("ws://localhost/bench"), extensions=factories, max_size=None
    )
    protocol.send_request(protocol.connect())
    request = b"".join(protocol.data_to_send())
    protocol.receive_data(upgrade_response(request, deflate))
    protocol.events_received()
    assert protocol.state is State.OPEN
    assert bool(protocol.extensions) == deflate
    data_to_send = protocol.data_to_send
    if kind == "text":
        send_text = protocol.send_text

        def send(payload: object) -> list[bytes]:
            send_text(payload.encode())
            return data_to_send()

        return send
    send_binary = protocol.send_binary

    def send(payload: object) -> list[bytes]:
        send_binary(payload)
        return data_to_send()

    return send
