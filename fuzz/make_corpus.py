"""Write the seed corpus of every fuzz target into fuzz/corpus/TARGET/.

Run from the repository root: ``python -m fuzz.make_corpus``. The seeds are
small valid (and a few classic invalid) inputs, built with the core itself,
so that the fuzzer starts from inputs that reach deep into each target. Each
input starts with the two control bytes described in :mod:`fuzz.targets`.
The script is deterministic: re-running it rewrites the same files.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import zlib
from pathlib import Path

from wsproto.events import BytesMessage, CloseConnection, Event, Ping, Pong, TextMessage

from .targets import CLIENT_ACCEPT, CLIENT_KEY

CORPUS = Path(__file__).resolve().parent / "corpus"

WHOLE, LIMITS, INTERLEAVED = 0, 1, 16


def frame(opcode: int, payload: bytes, *, masked: bool, fin: bool = True, rsv: int = 0) -> bytes:
    """One frame, masked with a fixed key if ``masked`` (RFC 6455 §5.2)."""
    first = (0x80 if fin else 0) | (rsv << 4) | opcode
    n = len(payload)
    bit = 0x80 if masked else 0
    if n < 126:
        header = bytes((first, bit | n))
    elif n < 0x10000:
        header = struct.pack("!BBH", first, bit | 126, n)
    else:
        header = struct.pack("!BBQ", first, bit | 127, n)
    if not masked:
        return header + payload
    key = b"\x37\xfa\x21\x3d"
    return header + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def peer_stream(events: list[Event], masked: bool) -> bytes:
    """The frames that carry ``events`` (whole messages, or pieces of one)."""
    out = b""
    continuing = False
    for event in events:
        if isinstance(event, TextMessage | BytesMessage):
            data = event.data.encode() if isinstance(event.data, str) else event.data
            opcode = 0 if continuing else 1 if isinstance(event, TextMessage) else 2
            out += frame(opcode, data, masked=masked, fin=event.message_finished)
            continuing = not event.message_finished
        elif isinstance(event, Ping | Pong):
            out += frame(9 if isinstance(event, Ping) else 10, event.payload, masked=masked)
        elif isinstance(event, CloseConnection):
            payload = struct.pack("!H", event.code) + (event.reason or "").encode()
            out += frame(8, payload, masked=masked)
    return out


def deflated(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4]


def receive_seeds(masked: bool, deflate: bool) -> dict[str, bytes]:
    conversation: list[Event] = [
        TextMessage("hello"),
        BytesMessage(b"\x00\x01\x02"),
        Ping(b"ping"),
        TextMessage("caf\u00e9 ", message_finished=False),
        TextMessage("\u263a", message_finished=True),
        Pong(b""),
        CloseConnection(1000, "bye"),
    ]
    seeds = {
        "conversation": bytes((WHOLE, 0)) + peer_stream(conversation, masked),
        "conversation-chunked": bytes((7, 0)) + peer_stream(conversation, masked),
        "conversation-limits": bytes((3, LIMITS)) + peer_stream(conversation, masked),
        "conversation-interleaved": bytes((4, INTERLEAVED)) + peer_stream(conversation, masked),
        "interleaved-whole-frames": bytes((9, INTERLEAVED)) + frame(9, b"1234567", masked=masked),
        "big-binary": bytes((WHOLE, LIMITS)) + frame(2, bytes(400), masked=masked),
        "len16": bytes((WHOLE, 0)) + frame(2, b"x" * 200, masked=masked),
        "len64": bytes((WHOLE, 0)) + frame(2, b"y" * 0x10000, masked=masked)[:400],
        "fragments": bytes((WHOLE, 0))
        + frame(1, b"ab", masked=masked, fin=False)
        + frame(9, b"", masked=masked)
        + frame(0, b"\xc3", masked=masked, fin=False)
        + frame(0, b"\xa9", masked=masked),
        "bad-utf8": bytes((WHOLE, 0)) + frame(1, b"\xff\xfe", masked=masked),
        "bad-close": bytes((WHOLE, 0)) + frame(8, b"\x03", masked=masked),
        "reserved-opcode": bytes((WHOLE, 0)) + frame(3, b"", masked=masked),
        "eof-mid-frame": bytes((WHOLE, 0)) + frame(2, b"z" * 50, masked=masked)[:20],
    }
    if deflate:
        for options in range(0, 16, 2):
            seeds[f"deflate-{options}"] = (
                bytes((WHOLE, options))
                + frame(1, deflated(b"hello hello hello"), masked=masked, rsv=4)
                + frame(2, deflated(b""), masked=masked, rsv=4)
            )
        bomb = deflated(bytes(200_000))
        seeds["deflate-bomb"] = bytes((WHOLE, LIMITS)) + frame(2, bomb, masked=masked, rsv=4)
        seeds["deflate-big"] = bytes((WHOLE, 0)) + frame(2, bomb, masked=masked, rsv=4)
        seeds["deflate-big-interleaved"] = (
            bytes((50, INTERLEAVED))
            + frame(2, bomb, masked=masked, rsv=4)
            + frame(9, b"p", masked=masked)
        )
        compressed = deflated(b"fragmented and compressed " * 4)
        seeds["deflate-fragments"] = (
            bytes((5, 0))
            + frame(1, compressed[:10], masked=masked, fin=False, rsv=4)
            + frame(0, compressed[10:], masked=masked)
        )
        seeds["deflate-garbage"] = bytes((WHOLE, 0)) + frame(2, b"\xff" * 8, masked=masked, rsv=4)
    return seeds


REQUEST = (
    b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"
    b"Connection: Upgrade\r\nSec-WebSocket-Key: " + CLIENT_KEY + b"\r\n"
    b"Sec-WebSocket-Version: 13\r\n"
)


def handshake_server_seeds() -> dict[str, bytes]:
    offer = b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
    protocols = b"Sec-WebSocket-Protocol: chat, v2\r\n"
    hello = frame(1, b"hi", masked=True)
    return {
        "plain": bytes((WHOLE, 0)) + REQUEST + b"\r\n",
        "deflate-subprotocol": bytes((WHOLE, 12)) + REQUEST + offer + protocols + b"\r\n" + hello,
        "chunked": bytes((9, 8)) + REQUEST + offer + b"\r\n" + hello,
        "reject": bytes((WHOLE, 6)) + REQUEST + b"\r\n",
        "no-key": bytes((WHOLE, 0)) + REQUEST.replace(b"Sec-WebSocket-Key", b"X-Key") + b"\r\n",
        "post": bytes((WHOLE, 0)) + REQUEST.replace(b"GET", b"POST") + b"\r\n",
        "version-8": bytes((WHOLE, 0)) + REQUEST.replace(b": 13", b": 8") + b"\r\n",
        "limits": bytes((WHOLE, LIMITS)) + REQUEST + b"\r\n" + frame(2, bytes(500), masked=True),
    }


RESPONSE = (
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: " + CLIENT_ACCEPT + b"\r\n"
)


def handshake_client_seeds() -> dict[str, bytes]:
    hello = frame(1, b"hi", masked=False)
    return {
        "plain": bytes((WHOLE, 0)) + RESPONSE + b"\r\n" + hello,
        "deflate": bytes((WHOLE, 0))
        + RESPONSE
        + b"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=10\r\n"
        + b"Sec-WebSocket-Protocol: v2\r\n\r\n"
        + frame(1, deflated(b"compressed hello"), masked=False, rsv=4),
        "chunked": bytes((5, 1)) + RESPONSE + b"\r\n" + hello,
        "interim": bytes((WHOLE, 0)) + b"HTTP/1.1 100 Continue\r\n\r\n" + RESPONSE + b"\r\n",
        "rejected": bytes((WHOLE, 0)) + b"HTTP/1.1 403 Forbidden\r\nContent-Length: 5\r\n\r\nnope!",
        "rejected-chunked": bytes((WHOLE, 0))
        + b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\n0\r\n\r\n",
        "wrong-accept": bytes((WHOLE, 0)) + RESPONSE.replace(b"s3pP", b"AAAA") + b"\r\n",
        "not-offered": bytes((WHOLE, 2))
        + RESPONSE
        + b"Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
    }


def extensions_seeds() -> dict[str, bytes]:
    pairs = [
        ("permessage-deflate", "permessage-deflate"),
        (
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=9",
        ),
        (
            "permessage-deflate; server_max_window_bits=10; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=10",
        ),
        ("x-foo, permessage-deflate; server_no_context_takeover", "x-foo"),
        (
            'permessage-deflate; client_max_window_bits="12"',
            "permessage-deflate, permessage-deflate",
        ),
        ("permessage-deflate; server_max_window_bits=08", "permessage-deflate; unknown=1"),
    ]
    return {
        f"pair-{i}-{options}": bytes((WHOLE, options)) + f"{offer}\n{answer}".encode()
        for i, (offer, answer) in enumerate(pairs)
        for options in (0, 4, 14)
    }


def seeds() -> dict[str, dict[str, bytes]]:
    """Every target's seeds, by name."""
    return {
        "receive_server": receive_seeds(masked=True, deflate=False),
        "receive_client": receive_seeds(masked=False, deflate=False),
        "receive_server_deflate": receive_seeds(masked=True, deflate=True),
        "receive_client_deflate": receive_seeds(masked=False, deflate=True),
        "handshake_server": handshake_server_seeds(),
        "handshake_client": handshake_client_seeds(),
        "extensions": extensions_seeds(),
    }


def main() -> None:
    for target, inputs in seeds().items():
        folder = CORPUS / target
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, data in inputs.items():
            digest = hashlib.sha1(data).hexdigest()[:8]
            (folder / f"{name}-{digest}").write_bytes(data)
        print(f"{target}: {len(inputs)} seeds in {folder}")


if __name__ == "__main__":
    main()
