"""WebSocket bytes built and checked by straightforward code that is never timed.

The inputs are seeded, so every contender is given byte-identical frames and
payloads; the decoders here check what each contender produced.
"""

from __future__ import annotations

import base64
import hashlib
import random
import zlib

MAGIC = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
SAMPLE_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="  # the nonce of RFC 6455 §1.3's example
DEFLATE_TAIL = b"\x00\x00\xff\xff"  # RFC 7692 §7.2.1: stripped after compressing
TEXT, BINARY, CLOSE = 0x1, 0x2, 0x8
ZERO_KEY = b"\x00\x00\x00\x00"
CHUNK = 64 * 1024  # how the receive benchmarks cut the byte stream
SIZES = (16, 256, 4096, 65536, 1 << 20)

# Payload bytes per receive pass: enough that the per-connection setup is
# noise, small enough that a slow contender finishes a pass quickly.
RECEIVE_PASS_BYTES = 4 << 20


def header(opcode: int, length: int, key: bytes | None = None, rsv1: bool = False) -> bytes:
    """A final frame's header (RFC 6455 §5.2), with the masking key if given."""
    first = 0x80 | (0x40 if rsv1 else 0) | opcode
    mask_bit = 0x80 if key is not None else 0
    if length < 126:
        head = bytes((first, mask_bit | length))
    elif length < 1 << 16:
        head = bytes((first, mask_bit | 126)) + length.to_bytes(2, "big")
    else:
        head = bytes((first, mask_bit | 127)) + length.to_bytes(8, "big")
    return head + key if key is not None else head


def mask(data: bytes, key: bytes) -> bytes:
    """XOR ``data`` with the repeated 4-byte ``key`` (RFC 6455 §5.3)."""
    if not data or key == ZERO_KEY:
        return bytes(data)
    stream = (key * (len(data) // 4 + 1))[: len(data)]
    xored = int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")
    return xored.to_bytes(len(data), "little")


def frames(data: bytes, masked: bool) -> list[tuple[int, bool, bool, bytes]]:
    """Split whole frames into (opcode, fin, rsv1, unmasked payload)."""
    out = []
    pos = 0
    while pos < len(data):
        first, second = data[pos], data[pos + 1]
        pos += 2
        length = second & 0x7F
        if length == 126:
            length = int.from_bytes(data[pos : pos + 2], "big")
            pos += 2
        elif length == 127:
            length = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
        if bool(second & 0x80) != masked:
            raise ValueError("mask bit does not match the sender's role")
        key = ZERO_KEY
        if masked:
            key = data[pos : pos + 4]
            pos += 4
        out.append(
            (
                first & 0x0F,
                bool(first & 0x80),
                bool(first & 0x40),
                mask(data[pos : pos + length], key),
            )
        )
        pos += length
    return out


def messages(data: bytes, masked: bool, deflate: bool) -> list[tuple[int, bytes]]:
    """Reassemble (and inflate) the data messages in a byte stream of whole frames."""
    inflater = zlib.decompressobj(-15)
    out: list[tuple[int, bytes]] = []
    parts: list[bytes] = []
    opcode, compressed = 0, False
    for op, fin, rsv1, payload in frames(data, masked):
        if op >= 0x8:
            continue
        if op:
            opcode, compressed, parts = op, rsv1, []
        parts.append(payload)
        if fin:
            body = b"".join(parts)
            if compressed and deflate:
                body = inflater.decompress(body + DEFLATE_TAIL)
            out.append((opcode, body))
    return out


def accept_token(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + MAGIC).digest())


def upgrade_request(host: str, deflate: bool) -> bytes:
    """A client's opening handshake (RFC 6455 §4.1), offering deflate if asked."""
    lines = [
        b"GET /bench HTTP/1.1",
        b"Host: " + host.encode(),
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Key: " + SAMPLE_KEY,
        b"Sec-WebSocket-Version: 13",
    ]
    if deflate:
        lines.append(b"Sec-WebSocket-Extensions: permessage-deflate")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def upgrade_response(request: bytes, deflate: bool) -> bytes:
    """The server's 101 answer to a client's ``request`` (for the send benchmarks)."""
    key = next(
        line.split(b":", 1)[1].strip()
        for line in request.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key:")
    )
    lines = [
        b"HTTP/1.1 101 Switching Protocols",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Accept: " + accept_token(key),
    ]
    if deflate:
        lines.append(b"Sec-WebSocket-Extensions: permessage-deflate")
    return b"\r\n".join(lines) + b"\r\n\r\n"


_WORDS = ("price", "quote", "order", "filled", "user", "region", "eu-west", "us-east", "ok")


def _json_text(size: int, rng: random.Random) -> str:
    """ASCII that compresses like real JSON traffic, exactly ``size`` characters long."""
    records = []
    total = 0
    while total <= size:
        record = (
            f'{{"id":{rng.randrange(10**7)},"kind":"{rng.choice(_WORDS)}",'
            f'"tag":"{rng.choice(_WORDS)}","value":{rng.random() * 1000:.3f},'
            f'"count":{rng.randrange(1, 900)}}}'
        )
        records.append(record)
        total += len(record) + 1
    return ("[" + ",".join(records) + "]")[:size]


def payloads(kind: str, size: int) -> list[bytes] | list[str]:
    """A few distinct payloads (about 2 MiB together): random bytes, or JSON-like text."""
    count = max(2, min(1024, (2 << 20) // size))
    rng = random.Random(f"{kind}/{size}")
    if kind == "binary":
        return [rng.randbytes(size) for _ in range(count)]
    return [_json_text(size, rng) for _ in range(count)]


def client_stream(kind: str, size: int, deflate: bool) -> tuple[list[bytes], int]:
    """What a client sends for one receive pass: masked frames in 64 KiB chunks.

    Returns the chunks and the number of messages in them (at least four).
    """
    data = payloads(kind, size)
    count = max(4, RECEIVE_PASS_BYTES // size)
    rng = random.Random(f"keys/{kind}/{size}/{deflate}")
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    parts = []
    for i in range(count):
        item = data[i % len(data)]
        body = item.encode() if isinstance(item, str) else item
        if deflate:
            body = compressor.compress(body) + compressor.flush(zlib.Z_SYNC_FLUSH)
            body = body.removesuffix(DEFLATE_TAIL)
        key = rng.randbytes(4)
        parts.append(header(TEXT if kind == "text" else BINARY, len(body), key, deflate))
        parts.append(mask(body, key))
    stream = b"".join(parts)
    return [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)], count
