"""The fuzz targets: one function per target, bytes in, invariants asserted.

Each target takes the fuzzer's input and drives the core with it, asserting
the invariants of :mod:`tests.invariants` (the same code the stateful tests
use): only documented exceptions escape, every state change is legal, a
close is last and can be answered, and the core's buffers stay bounded.
Anything else (an unexpected exception, a failed assertion) is a finding.

The targets need no fuzzer: ``tests/test_fuzz_corpus.py`` replays the seed
corpus through them in the ordinary test run, and ``fuzz/run.py`` runs them
under atheris.

An input starts with two control bytes, then the data:

* byte 0, the chunking: 0 feeds the data whole, n > 0 in pieces of n bytes;
* byte 1, options: bit 0 sets small ``max_frame_size``/``max_message_size``
  limits, bits 1-3 choose permessage-deflate parameters (receive targets) or
  how a server answers (handshake targets); bit 4 (receive targets) feeds
  the next chunk from inside the ``events()`` loop, after each event.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tests.invariants import CheckedConnection, CheckedHandshake

import wsproto.handshake
from wsproto import WSConnection
from wsproto.connection import Connection, ConnectionState, ConnectionType
from wsproto.events import (
    AcceptConnection,
    BytesMessage,
    Event,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)
from wsproto.extensions import Extension, PerMessageDeflate
from wsproto.handshake import client_extensions_handshake, server_extensions_handshake
from wsproto.utilities import RemoteProtocolError

CLIENT = ConnectionType.CLIENT
SERVER = ConnectionType.SERVER

#: The limits bit 0 of the options byte sets: small, so the fuzzer reaches them.
MAX_FRAME_SIZE = 300
MAX_MESSAGE_SIZE = 1000

#: The client's Sec-WebSocket-Key in the handshake targets, fixed so that a
#: seed response can carry the matching accept token (RFC 6455 §4.2.2).
CLIENT_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="
CLIENT_ACCEPT = b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="

# The permessage-deflate parameters bits 1-3 of the options byte choose.
DEFLATE_OFFERS = [
    "permessage-deflate",
    "permessage-deflate; client_no_context_takeover",
    "permessage-deflate; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits=9",
    "permessage-deflate; server_max_window_bits=8",
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover",
    "permessage-deflate; client_max_window_bits=8; server_max_window_bits=15",
    "permessage-deflate; server_max_window_bits=12; client_max_window_bits",
]


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """``data`` whole (``size`` 0) or in ``size``-byte pieces."""
    if not size:
        yield data
        return
    for start in range(0, len(data), size):
        yield data[start : start + size]


def split_input(data: bytes) -> tuple[int, int, bytes]:
    """The chunk size, the options byte and the data of a fuzzer input."""
    if len(data) < 2:
        return 0, 0, data
    return data[0], data[1], data[2:]


def negotiated(offer: str, role: ConnectionType) -> list[Extension]:
    """``role``'s permessage-deflate after a client offered ``offer``'s parameters.

    As documented, neither end agrees to compress with an 8-bit window (zlib
    cannot): our server declines an offer of ``server_max_window_bits=8`` (a
    client then inflates with 8 only from another server, whose answer is
    the offer's parameters here), and our client fails a response of
    ``client_max_window_bits=8``. Then ``role`` goes on without the extension,
    as after a handshake that did not negotiate it.
    """
    server = PerMessageDeflate()
    answer = server.accept(offer)
    if answer is None:
        assert "server_max_window_bits=8" in offer, f"the server declined {offer!r}"
        if role is SERVER:
            return []
        answer = offer.partition(";")[2].strip() or True
    elif role is SERVER:
        return [server]
    response = "permessage-deflate" if answer is True else f"permessage-deflate; {answer}"
    client = PerMessageDeflate()
    client.offer()
    try:
        client.finalize(response)
    except RemoteProtocolError:
        assert "client_max_window_bits=8" in response, f"the client failed {response!r}"
        return []
    return [client]


def _respond(checked: CheckedConnection, events: list[Event]) -> None:
    """Answer as an application following the manual does: pongs, then the close."""
    for event in events:
        if isinstance(event, Ping):
            checked.send(event.response())
    if checked.close is not None and not checked.sent_close:
        checked.answer_close()


def _receive(role: ConnectionType, deflate: bool, data: bytes) -> None:
    size, options, stream = split_input(data)
    extensions: list[Extension] = []
    if deflate:
        extensions = negotiated(DEFLATE_OFFERS[(options >> 1) & 7], role)
    limited = bool(options & 1)
    max_message = MAX_MESSAGE_SIZE if limited else None
    conn = Connection(
        role,
        extensions,
        max_frame_size=MAX_FRAME_SIZE if limited else None,
        max_message_size=max_message,
    )
    checked = CheckedConnection(conn, max_message_size=max_message)
    if options & 16 and stream:
        _respond(checked, checked.receive_interleaved(list(chunks(stream, size))))
    else:
        for chunk in chunks(stream, size):
            _respond(checked, checked.receive(chunk))
    _respond(checked, checked.receive(None))


def receive_server(data: bytes) -> None:
    """``Connection.receive_data`` as a server (the client's masked frames)."""
    _receive(SERVER, False, data)


def receive_client(data: bytes) -> None:
    """``Connection.receive_data`` as a client (the server's frames)."""
    _receive(CLIENT, False, data)


def receive_server_deflate(data: bytes) -> None:
    """``receive_data`` as a server with permessage-deflate negotiated."""
    _receive(SERVER, True, data)


def receive_client_deflate(data: bytes) -> None:
    """``receive_data`` as a client with permessage-deflate negotiated."""
    _receive(CLIENT, True, data)


def _drive_open(checked: CheckedHandshake, events: list[Event]) -> None:
    if checked.opened is not None:
        _respond(checked.opened, events)


def handshake_server(data: bytes) -> None:
    """A server's opening handshake fed the fuzzer's request (and frames after it)."""
    size, options, stream = split_input(data)
    max_message = MAX_MESSAGE_SIZE if options & 1 else None
    ws = WSConnection(
        SERVER,
        max_frame_size=MAX_FRAME_SIZE if options & 1 else None,
        max_message_size=max_message,
    )
    checked = CheckedHandshake(ws, max_message_size=max_message)
    answered = False
    for chunk in [*chunks(stream, size), None]:
        if checked.failed:
            return
        events = checked.receive(chunk)
        requests = [event for event in events if isinstance(event, Request)]
        if requests and not answered:
            answered = True
            _answer(checked, requests[0], options)
        _drive_open(checked, events)


def _answer(checked: CheckedHandshake, request: Request, options: int) -> None:
    """Accept (perhaps with a subprotocol and permessage-deflate) or reject, by ``options``."""
    answer: Event
    if options & 2:
        answer = RejectConnection(status_code=403, has_body=bool(options & 4))
    else:
        subprotocol = request.subprotocols[0] if request.subprotocols and options & 4 else None
        extensions: list[Extension] = [PerMessageDeflate()] if options & 8 else []
        answer = AcceptConnection(subprotocol=subprotocol, extensions=extensions)
    sent = checked.send(answer)
    assert sent is not None, f"{answer!r} refused"
    if isinstance(answer, AcceptConnection):
        assert checked.opened is not None
        # A message as soon as it is open (refused if the client already left).
        checked.send(TextMessage("hello"))


def _fixed_nonce() -> bytes:
    return CLIENT_KEY


def handshake_client(data: bytes) -> None:
    """A client's opening handshake fed the fuzzer's response (and frames after it)."""
    size, options, stream = split_input(data)
    max_message = MAX_MESSAGE_SIZE if options & 1 else None
    ws = WSConnection(
        CLIENT,
        max_frame_size=MAX_FRAME_SIZE if options & 1 else None,
        max_message_size=max_message,
    )
    checked = CheckedHandshake(ws, max_message_size=max_message)
    extensions: list[Extension] = [PerMessageDeflate()] if not options & 2 else []
    request = Request("example.com", "/chat", subprotocols=["chat", "v2"], extensions=extensions)
    with _nonce(_fixed_nonce):
        assert checked.send(request) is not None
    for chunk in [*chunks(stream, size), None]:
        if checked.failed:
            return
        events = checked.receive(chunk)
        _drive_open(checked, events)
        if checked.opened is not None and checked.opened.state is ConnectionState.OPEN:
            checked.send(BytesMessage(b"data"))


@contextmanager
def _nonce(nonce: Callable[[], bytes]) -> Iterator[None]:
    """Make the handshake use a fixed key (the fuzzer cannot guess a random one's token)."""
    # The handshake module imported the function by name: patch that name.
    saved = getattr(wsproto.handshake, "generate_nonce")  # noqa: B009
    setattr(wsproto.handshake, "generate_nonce", nonce)  # noqa: B010
    try:
        yield
    finally:
        setattr(wsproto.handshake, "generate_nonce", saved)  # noqa: B010


def extensions(data: bytes) -> None:
    """Extension negotiation: the input is a client's offer and a server's answer.

    The data is split at the first newline. The offer goes to
    ``server_extensions_handshake`` and ``PerMessageDeflate.accept``; whatever
    the server answers must be an answer a default client accepts, and the
    pair so negotiated must carry messages both ways. The answer goes to
    ``client_extensions_handshake`` and ``PerMessageDeflate.finalize``, which
    may only raise :class:`RemoteProtocolError`.
    """
    _, options, text = split_input(data)
    offer, _, answer = text.decode("latin-1").partition("\n")
    server_options = DEFLATE_OFFERS[(options >> 1) & 7].split(";")[1:]
    server = _deflate(server_options)
    header = server_extensions_handshake([offer], [server])
    assert header is None or isinstance(header, bytes)
    if header is not None:
        client = PerMessageDeflate()
        client.offer()
        if re.search(rb"client_max_window_bits=8(?![0-9])", header):
            # The server may inflate with an 8-bit window, but zlib cannot
            # compress with one: a client must fail such an answer.
            try:
                client_extensions_handshake([header.decode("ascii")], [client])
            except RemoteProtocolError:
                pass
            else:
                raise AssertionError(f"a client accepted {header!r}")
        else:
            accepted = client_extensions_handshake([header.decode("ascii")], [client])
            assert accepted == [client]
            _round_trip(client, server)
    for side in (CLIENT, SERVER):
        # An answer the server's PerMessageDeflate never saw.
        client = _deflate(server_options if side is SERVER else [])
        client.offer()
        try:
            accepted = client_extensions_handshake([answer], [client])
        except RemoteProtocolError:
            continue
        assert all(isinstance(extension, Extension) for extension in accepted)
    PerMessageDeflate().accept(answer)


def _deflate(params: list[str]) -> PerMessageDeflate:
    kwargs: dict[str, int | bool] = {}
    for param in params:
        name, _, value = param.strip().partition("=")
        kwargs[name] = int(value) if value else True
    if kwargs.get("client_max_window_bits") is True:
        del kwargs["client_max_window_bits"]
    return PerMessageDeflate(**kwargs)  # type: ignore[arg-type]


def _round_trip(client: PerMessageDeflate, server: PerMessageDeflate) -> None:
    """Messages both ways between connections using the negotiated extensions."""
    ends = {
        CLIENT: CheckedConnection(Connection(CLIENT, [client])),
        SERVER: CheckedConnection(Connection(SERVER, [server])),
    }
    messages: list[Event] = [
        TextMessage("hello " * 50),
        BytesMessage(bytes(range(256)) * 4),
        TextMessage("again " * 50),
    ]
    for side, peer in ((CLIENT, SERVER), (SERVER, CLIENT)):
        for message in messages:
            data = ends[side].send(message)
            assert data is not None
            ends[peer].receive(data)
    sent = [m.data for m in messages if isinstance(m, TextMessage | BytesMessage)]
    for end in ends.values():
        received: list[str | bytes] = []
        text: list[str] = []
        binary: list[bytes] = []
        for event in end.events:
            if isinstance(event, TextMessage):
                text.append(event.data)
                if event.message_finished:
                    received.append("".join(text))
                    text = []
            elif isinstance(event, BytesMessage):
                binary.append(event.data)
                if event.message_finished:
                    received.append(b"".join(binary))
                    binary = []
        assert received == sent


#: Every target, by name.
TARGETS: dict[str, Callable[[bytes], None]] = {
    "receive_server": receive_server,
    "receive_client": receive_client,
    "receive_server_deflate": receive_server_deflate,
    "receive_client_deflate": receive_client_deflate,
    "handshake_server": handshake_server,
    "handshake_client": handshake_client,
    "extensions": extensions,
}
