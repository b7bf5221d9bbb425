"""A seeded generator of scenarios: what a program does with a WSConnection, step by step.

A scenario is plain JSON: ``{"role": "client" | "server", "family": ..., "steps": [...]}``,
each step one of

- ``{"op": "send", "event": {"type": "TextMessage", "data": ..., ...}}``: ``send(event)``;
- ``{"op": "reply_close"}``: ``send(close.response())`` for the last CloseConnection received;
- ``{"op": "recv", "data": HEX, "chunks": [n, ...]}``: ``receive_data`` chunk by chunk
  (the rest of the data goes last), calling ``events()`` after each;
- ``{"op": "eof"}``: ``receive_data(None)``, then ``events()``;
- ``{"op": "upgrade", "headers": [[name, value], ...], "path": ...}``:
  ``initiate_upgrade_connection``.

Bytes in event fields are ``{"bytes": HEX}``. Received data may hold ``@@ACCEPT@@``,
which the runner replaces by the accept token for the key the client sent.
``scenario(seed, index)`` depends on nothing but its arguments, so one scenario
can be rebuilt alone.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

Json = Any

KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "@@ACCEPT@@"

CLOSE_CODES = [
    *(1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011),  # sendable and receivable
    *(1004, 1005, 1006, 1015),  # reserved / local-only
    *(1012, 1013, 1014),  # registered later (IANA)
    *(1016, 1100, 2000, 2999),  # reserved, unassigned
    *(3000, 3999, 4000, 4999),  # registered / private
    *(0, 999, 5000, 65535),  # out of range
]
TEXTS = ["", "hello", "héllo wörld", "€uro", "😀 grin", "a" * 125, "b" * 126, "x" * 300]
HOSTS = ["example.com", "localhost:8080", "127.0.0.1", "xn--bcher-kva.example", "bücher.example"]
TARGETS = ["/", "/chat", "/a/b?x=1&y=%20", "/ünïcode", "*"]
EXTRA_HEADERS = [
    ("X-Custom", "value"),
    ("Origin", "http://example.com"),
    ("Cookie", "a=b; c=d"),
    ("User-Agent", "compat/1"),
    ("X-Empty", ""),
    ("X-Dup", "1"),
    ("X-Dup", "2"),
]
PMD_PARAMS = [
    "",
    "; client_max_window_bits",
    "; client_max_window_bits=10",
    "; server_max_window_bits=8",
    "; server_max_window_bits=9",
    "; server_max_window_bits=12; client_max_window_bits=15",
    "; server_no_context_takeover",
    "; client_no_context_takeover",
    "; server_no_context_takeover; client_no_context_takeover",
    "; server_max_window_bits=16",
    "; server_max_window_bits=7",
    "; unknown_param=1",
    "; client_max_window_bits=abc",
]


def b(data: bytes) -> Json:
    """Bytes as a scenario field."""
    return {"bytes": data.hex()}


def chunks(rng: random.Random, length: int) -> list[int]:
    """Random chunk sizes covering (part of) ``length`` bytes; the runner sends the rest."""
    if length <= 1 or rng.random() < 0.3:
        return []
    cuts = sorted(rng.sample(range(1, length), min(length - 1, rng.randint(1, 5))))
    sizes, prev = [], 0
    for cut in cuts:
        sizes.append(cut - prev)
        prev = cut
    return sizes


def recv(rng: random.Random, data: bytes) -> Json:
    """A receive step with random chunking."""
    return {"op": "recv", "data": data.hex(), "chunks": chunks(rng, len(data))}


def frame(
    rng: random.Random,
    opcode: int,
    payload: bytes,
    *,
    fin: bool = True,
    rsv: int = 0,
    masked: bool,
    long_length: bool = False,
) -> bytes:
    """One frame as a peer would send it."""
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    mbit = 0x80 if masked else 0
    n = len(payload)
    if long_length:  # a length not minimally encoded (RFC 6455 §5.2 asks the sender not to)
        head += bytes([mbit | 127]) + n.to_bytes(8, "big")
    elif n < 126:
        head += bytes([mbit | n])
    elif n < 65536:
        head += bytes([mbit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mbit | 127]) + n.to_bytes(8, "big")
    if not masked:
        return head + payload
    key = bytes(rng.randrange(256) for _ in range(4))
    return head + key + bytes(c ^ key[i % 4] for i, c in enumerate(payload))


def deflate(data: bytes) -> bytes:
    """A message's payload compressed as permessage-deflate sends it (RFC 7692 §7.2.1)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    out = compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


def text(rng: random.Random) -> str:
    """Message text: short, long, multi-byte."""
    if rng.random() < 0.1:
        return "".join(rng.choice("aé€😀 ") for _ in range(rng.randint(1, 2000)))
    return rng.choice(TEXTS)


def data_bytes(rng: random.Random) -> bytes:
    """Binary message data."""
    return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 125, 126, 300])))


# --- the handshake ---------------------------------------------------------


def request_bytes(
    rng: random.Random, *, pmd: str | None, protocols: list[str]
) -> tuple[bytes, str]:
    """A client's upgrade request (sometimes malformed); returns it and what was done."""
    host = rng.choice(HOSTS[:4])
    target = rng.choice(TARGETS[:3])
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", KEY),
        ("Sec-WebSocket-Version", "13"),
    ]
    if protocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(protocols)))
    if pmd is not None:
        headers.append(("Sec-WebSocket-Extensions", pmd))
    headers += rng.sample(EXTRA_HEADERS, rng.randint(0, 3))
    method, version, body, flaw = "GET", "HTTP/1.1", b"", "valid"
    if rng.random() < 0.35:
        flaw = rng.choice(
            [
                "no-upgrade",
                "no-connection",
                "wrong-version",
                "no-key",
                "no-host",
                "post",
                "http10",
                "body",
                "garbage",
                "upgrade-h2c",
                "key-not-base64",
                "two-versions",
                "bad-header-line",
            ]
        )
        drop = {
            "no-upgrade": "Upgrade",
            "no-connection": "Connection",
            "no-key": "Sec-WebSocket-Key",
            "no-host": "Host",
        }.get(flaw)
        headers = [h for h in headers if h[0] != drop]
        if flaw == "wrong-version":
            headers = [
                ("Sec-WebSocket-Version", "8") if h[0].endswith("Version") else h for h in headers
            ]
        elif flaw == "two-versions":
            headers.append(("Sec-WebSocket-Version", "8"))
        elif flaw == "post":
            method = "POST"
        elif flaw == "http10":
            version = "HTTP/1.0"
        elif flaw == "body":
            body = b"hello"
            headers.append(("Content-Length", "5"))
        elif flaw == "upgrade-h2c":
            headers = [("Upgrade", "h2c") if h[0] == "Upgrade" else h for h in headers]
        elif flaw == "key-not-base64":
            headers = [
                ("Sec-WebSocket-Key", "not a key") if h[0].endswith("Key") else h for h in headers
            ]
        elif flaw == "bad-header-line":
            headers.append(("Bad Header", "x"))
        elif flaw == "garbage":
            return bytes(rng.randrange(256) for _ in range(40)) + b"\r\n\r\n", flaw
    raw = f"{method} {target} {version}\r\n".encode()
    raw += b"".join(f"{n}: {v}\r\n".encode() for n, v in headers) + b"\r\n" + body
    return raw, flaw


def pmd_extension(rng: random.Random) -> dict[str, Json]:
    """A PerMessageDeflate built with random documented parameters."""
    params: dict[str, Json] = {"extension": "permessage-deflate"}
    if rng.random() < 0.3:
        params["client_no_context_takeover"] = True
    if rng.random() < 0.3:
        params["server_no_context_takeover"] = True
    if rng.random() < 0.3:
        params["client_max_window_bits"] = rng.choice([9, 10, 12, 15])
    if rng.random() < 0.3:
        params["server_max_window_bits"] = rng.choice([9, 10, 12, 15])
    return params


def server_handshake(rng: random.Random) -> tuple[list[Json], bool, bool]:
    """Server steps up to the application's answer; returns (steps, open?, deflate?)."""
    protocols = rng.sample(["chat", "superchat", "v2.json"], rng.randint(0, 2))
    pmd = rng.choice(
        [None, None, "permessage-deflate" + rng.choice(PMD_PARAMS), "x-foo, permessage-deflate"]
    )
    steps: list[Json] = []
    if rng.random() < 0.15:
        headers = [
            ["Host", rng.choice(HOSTS[:4])],
            ["Upgrade", "websocket"],
            ["Connection", "Upgrade"],
            ["Sec-WebSocket-Key", KEY],
            ["Sec-WebSocket-Version", "13"],
        ]
        if protocols:
            headers.append(["Sec-WebSocket-Protocol", ", ".join(protocols)])
        if pmd:
            headers.append(["Sec-WebSocket-Extensions", pmd])
        headers += [list(h) for h in rng.sample(EXTRA_HEADERS, rng.randint(0, 2))]
        if rng.random() < 0.3:
            headers = [
                h for h in headers if h[0] != rng.choice(["Host", "Sec-WebSocket-Key", "Upgrade"])
            ]
        steps.append({"op": "upgrade", "headers": headers, "path": rng.choice(TARGETS[:3])})
        if rng.random() < 0.2:
            steps.append({"op": "upgrade", "headers": headers, "path": "/again"})
        flaw = "upgrade"
    else:
        raw, flaw = request_bytes(rng, pmd=pmd, protocols=protocols)
        if rng.random() < 0.1:
            steps.append({"op": "eof"} if rng.random() < 0.3 else misuse_send(rng))
        steps.append(recv(rng, raw[: rng.randint(1, len(raw))] if rng.random() < 0.1 else raw))
    answer = rng.random()
    if answer < 0.6:
        accept: dict[str, Json] = {"type": "AcceptConnection"}
        if protocols or rng.random() < 0.2:
            accept["subprotocol"] = rng.choice([*protocols, "unoffered", None])
        deflate_on = pmd is not None and rng.random() < 0.7
        if deflate_on:
            accept["extensions"] = [pmd_extension(rng)]
        if rng.random() < 0.3:
            accept["extra_headers"] = [list(h) for h in rng.sample(EXTRA_HEADERS, 2)]
        steps.append({"op": "send", "event": accept})
        return steps, flaw in ("valid", "upgrade"), deflate_on
    if answer < 0.9:
        has_body = rng.random() < 0.5
        reject: dict[str, Json] = {
            "type": "RejectConnection",
            "status_code": rng.choice([400, 403, 404, 426, 500, 101, 200, 99]),
            "has_body": has_body,
        }
        if rng.random() < 0.5:
            reject["headers"] = [["Content-Type", "text/plain"]]
            if rng.random() < 0.3:
                reject["headers"].append(["Content-Length", "4"])
        steps.append({"op": "send", "event": reject})
        body = {"type": "RejectData", "data": b(b"nope")}
        steps.extend(
            {"op": "send", "event": {**body, "body_finished": rng.random() < 0.4}}
            for _ in range(rng.randint(0, 3) if has_body else rng.randint(0, 1))
        )
        if rng.random() < 0.3:
            steps.append(recv(rng, b"more data"))
        if rng.random() < 0.3:
            steps.append(misuse_send(rng))
        return steps, False, False
    steps.append(misuse_send(rng))
    return steps, False, False


def response_bytes(
    rng: random.Random, *, pmd_offered: bool, protocols: list[str]
) -> tuple[bytes, str, bool]:
    """A server's answer to the client (sometimes odd); returns it, its kind and deflate-on."""
    kind = rng.choice(
        ["accept"] * 6
        + [
            "reject",
            "reject-body",
            "reject-chunked",
            "reject-eof",
            "informational",
            "continue-then-accept",
        ]
        + [
            "wrong-accept",
            "no-upgrade",
            "malformed",
            "bad-extension",
            "unoffered-protocol",
            "garbage",
        ]
    )
    headers = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {ACCEPT}",
    ]
    deflate_on = False
    if protocols and rng.random() < 0.7:
        headers.append(f"Sec-WebSocket-Protocol: {rng.choice(protocols)}")
    if pmd_offered and rng.random() < 0.7:
        headers.append("Sec-WebSocket-Extensions: permessage-deflate" + rng.choice(PMD_PARAMS[:9]))
        deflate_on = True
    if kind == "wrong-accept":
        headers[3] = "Sec-WebSocket-Accept: c2FtZSBvbGQgYWNjZXB0IHRva2Vu"
    elif kind == "no-upgrade":
        del headers[1]
    elif kind == "bad-extension":
        headers.append(
            "Sec-WebSocket-Extensions: "
            + rng.choice(
                [
                    "x-unknown",
                    "permessage-deflate; server_max_window_bits=8",
                    "permessage-deflate; bogus",
                ]
            )
        )
    elif kind == "unoffered-protocol":
        headers.append("Sec-WebSocket-Protocol: never-offered")
    head = ("\r\n".join(headers) + "\r\n\r\n").encode()
    if kind == "reject":
        head = b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
    elif kind == "reject-body":
        head = b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 9\r\n\r\n"
        head += b"not found"
    elif kind == "reject-chunked":
        head = b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
        head += b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
    elif kind == "reject-eof":
        head = b"HTTP/1.0 400 Bad Request\r\nConnection: close\r\n\r\nbody until eof"
    elif kind == "informational":
        head = (
            b"HTTP/1.1 "
            + rng.choice([b"100 Continue", b"102 Processing", b"103 Early Hints"])
            + b"\r\n\r\n"
        )
    elif kind == "continue-then-accept":
        head = b"HTTP/1.1 100 Continue\r\n\r\n" + head
    elif kind == "malformed":
        head = rng.choice(
            [
                b"HTTP/1.1 abc Huh\r\n\r\n",
                b"HTTP/9.9 101 X\r\n\r\n",
                b"NOTHTTP\r\n\r\n",
                b"HTTP/1.1 101\r\nBad Header\r\n\r\n",
            ]
        )
    elif kind == "garbage":
        head = bytes(rng.randrange(256) for _ in range(30)) + b"\r\n\r\n"
    return head, kind, deflate_on


def client_handshake(rng: random.Random) -> tuple[list[Json], bool, bool, bytes]:
    """Client steps: the request, then the server's answer (not yet received: returned)."""
    protocols = rng.sample(["chat", "superchat", "v2.json"], rng.randint(0, 2))
    # A name or target that is not ASCII is misuse (1.x raises UnicodeEncodeError): seldom.
    unicode = rng.random() < 0.1
    request: dict[str, Json] = {
        "type": "Request",
        "host": rng.choice(HOSTS if unicode else HOSTS[:4]),
        "target": rng.choice(TARGETS if unicode else TARGETS[:3] + TARGETS[4:]),
    }
    if protocols:
        request["subprotocols"] = protocols
    pmd_offered = rng.random() < 0.4
    if pmd_offered:
        request["extensions"] = [pmd_extension(rng)]
    if rng.random() < 0.4:
        request["extra_headers"] = [list(h) for h in rng.sample(EXTRA_HEADERS, rng.randint(1, 3))]
    steps: list[Json] = []
    if rng.random() < 0.05:
        steps.append(misuse_send(rng))
    if rng.random() < 0.03:  # a server-only call on a client: misuse
        headers = [["Host", "example.com"], ["Sec-WebSocket-Key", KEY]]
        steps.append({"op": "upgrade", "headers": headers, "path": "/"})
    steps.append({"op": "send", "event": request})
    if rng.random() < 0.05:
        steps.append({"op": "send", "event": request})
    response, kind, deflate_on = response_bytes(rng, pmd_offered=pmd_offered, protocols=protocols)
    return steps, kind in ("accept", "continue-then-accept"), deflate_on, response


# --- the data phase --------------------------------------------------------


def misuse_send(rng: random.Random) -> Json:
    """Any event at all, whatever the state (the implementation must refuse or accept it alike)."""
    kind = rng.choice(
        [
            "Request",
            "AcceptConnection",
            "RejectConnection",
            "RejectData",
            "CloseConnection",
            "TextMessage",
            "BytesMessage",
            "Ping",
            "Pong",
        ]
    )
    if kind == "Request":
        return {"op": "send", "event": {"type": kind, "host": "example.com", "target": "/"}}
    if kind == "AcceptConnection":
        return {"op": "send", "event": {"type": kind}}
    if kind == "RejectConnection":
        return {
            "op": "send",
            "event": {"type": kind, "status_code": 400, "has_body": rng.random() < 0.5},
        }
    if kind == "RejectData":
        return {"op": "send", "event": {"type": kind, "data": b(b"x")}}
    if kind == "CloseConnection":
        return close_send(rng)
    return data_send(rng, kind)


def data_send(rng: random.Random, kind: str) -> Json:
    """A message, ping or pong to send, sometimes an odd one."""
    if kind == "TextMessage":
        return {"op": "send", "event": {"type": kind, "data": text(rng)}}
    if kind == "BytesMessage":
        return {"op": "send", "event": {"type": kind, "data": b(data_bytes(rng))}}
    size = rng.choice([0, 4, 125, 126])
    return {
        "op": "send",
        "event": {"type": kind, "payload": b(bytes(range(size % 256)) * (size // 256 + 1))},
    }


def close_send(rng: random.Random) -> Json:
    """A CloseConnection with any kind of code and reason."""
    code = rng.choice(CLOSE_CODES) if rng.random() < 0.95 else None  # None: misuse
    event: dict[str, Json] = {"type": "CloseConnection", "code": code}
    reason = rng.choice([None, None, "", "bye", "é" * 70, "r" * 124])
    if reason is not None:
        event["reason"] = reason
    return {"op": "send", "event": event}


def fragmented_send(rng: random.Random) -> list[Json]:
    """A message sent in parts (message_finished=False on all but the last)."""
    binary = rng.random() < 0.5
    parts = rng.randint(2, 4)
    steps = []
    for i in range(parts):
        kind = "BytesMessage" if binary else "TextMessage"
        if rng.random() < 0.05:
            kind = "TextMessage" if binary else "BytesMessage"  # a mixed message: misuse
        data: Json = b(data_bytes(rng)[:20]) if kind == "BytesMessage" else text(rng)[:20]
        event = {"type": kind, "data": data, "message_finished": i == parts - 1}
        steps.append({"op": "send", "event": event})
        if rng.random() < 0.15:
            steps.append(data_send(rng, rng.choice(["Ping", "Pong"])))
    return steps


def incoming(rng: random.Random, *, masked: bool, deflate_on: bool) -> bytes:
    """A few frames from the peer, well-formed or not."""
    out = b""
    for _ in range(rng.randint(1, 3)):
        kind = rng.choices(
            ["text", "binary", "fragmented", "ping", "pong", "close", "bad", "utf8", "compressed"],
            weights=[4, 3, 3, 2, 1, 2, 2, 2, 3 if deflate_on else 0],
        )[0]
        if kind == "text":
            out += frame(rng, 1, text(rng).encode(), masked=masked, long_length=rng.random() < 0.05)
        elif kind == "binary":
            out += frame(rng, 2, data_bytes(rng), masked=masked)
        elif kind == "fragmented":
            payload = text(rng).encode() or b"xy"
            cut = rng.randint(0, len(payload))
            op = rng.choice([1, 2])
            out += frame(rng, op, payload[:cut], fin=False, masked=masked)
            if rng.random() < 0.3:
                out += frame(rng, 9, b"mid", masked=masked)
            out += frame(rng, 0, payload[cut:], masked=masked)
        elif kind == "ping":
            out += frame(rng, 9, rng.choice([b"", b"ping", b"p" * 125]), masked=masked)
        elif kind == "pong":
            out += frame(rng, 10, b"pong", masked=masked)
        elif kind == "close":
            code = rng.choice(CLOSE_CODES)
            payload = rng.choice(
                [
                    code.to_bytes(2, "big"),
                    code.to_bytes(2, "big") + b"bye",
                    b"",
                    b"\x03",
                    code.to_bytes(2, "big") + b"\xff\xfe",
                ]
            )
            out += frame(rng, 8, payload, masked=masked)
            if rng.random() < 0.3:
                out += frame(rng, 1, b"after close", masked=masked)
        elif kind == "utf8":
            out += frame(
                rng,
                1,
                rng.choice([b"\xff", b"ok\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]),
                masked=masked,
            )
        elif kind == "compressed":
            payload = text(rng).encode()
            if rng.random() < 0.4:
                z = deflate(payload)
                cut = rng.randint(0, len(z))
                out += frame(rng, 1, z[:cut], fin=False, rsv=4, masked=masked)
                out += frame(rng, 0, z[cut:], masked=masked)
            else:
                out += frame(rng, 1, deflate(payload), rsv=4, masked=masked)
        else:  # a protocol violation
            bad = rng.choice(
                [
                    "opcode",
                    "rsv",
                    "mask",
                    "ping-long",
                    "ping-fragmented",
                    "continuation",
                    "nested",
                    "rsv1-plain",
                ]
            )
            if bad == "opcode":
                out += frame(rng, rng.choice([3, 7, 11, 15]), b"x", masked=masked)
            elif bad == "rsv":
                out += frame(rng, 1, b"x", rsv=rng.choice([2, 1, 6]), masked=masked)
            elif bad == "mask":
                out += frame(rng, 1, b"wrong masking", masked=not masked)
            elif bad == "ping-long":
                out += frame(rng, 9, b"p" * 126, masked=masked)
            elif bad == "ping-fragmented":
                out += frame(rng, 9, b"p", fin=False, masked=masked)
            elif bad == "continuation":
                out += frame(rng, 0, b"orphan", masked=masked)
            elif bad == "nested":
                out += frame(rng, 1, b"a", fin=False, masked=masked) + frame(
                    rng, 1, b"b", masked=masked
                )
            else:
                out += frame(rng, 1, b"x", rsv=4, masked=masked)
    if rng.random() < 0.05:
        out += bytes(rng.randrange(256) for _ in range(rng.randint(1, 20)))
    return out


def data_phase(rng: random.Random, role: str, deflate_on: bool, length: int) -> list[Json]:
    """Steps once open: sends, receives, closes, EOF, in any order and in any state."""
    steps: list[Json] = []
    for _ in range(length):
        r = rng.random()
        if r < 0.2:
            steps.append(data_send(rng, rng.choice(["TextMessage", "BytesMessage"])))
        elif r < 0.27:
            steps += fragmented_send(rng)
        elif r < 0.33:
            steps.append(data_send(rng, rng.choice(["Ping", "Pong"])))
        elif r < 0.42:
            steps.append(close_send(rng))
        elif r < 0.5:
            steps.append({"op": "reply_close"})
        elif r < 0.8:
            steps.append(recv(rng, incoming(rng, masked=role == "server", deflate_on=deflate_on)))
        elif r < 0.85:
            steps.append(recv(rng, bytes(rng.randrange(256) for _ in range(rng.randint(1, 30)))))
        elif r < 0.92:
            steps.append({"op": "eof"})
        else:
            steps.append(misuse_send(rng))
    return steps


def scenario(seed: int, index: int) -> Json:
    """Scenario number ``index`` of the run seeded ``seed``."""
    rng = random.Random(f"{seed}:{index}")
    role = rng.choice(["client", "server"])
    if role == "server":
        steps, is_open, deflate_on = server_handshake(rng)
        family = "server-handshake"
    else:
        steps, is_open, deflate_on, response = client_handshake(rng)
        family = "client-handshake"
        if rng.random() < 0.1:
            steps.append({"op": "eof"})
        if is_open and rng.random() < 0.4:  # frames in the same read as the 101
            response += incoming(rng, masked=False, deflate_on=deflate_on)
        steps.append(recv(rng, response))
        if b"body until eof" in response or rng.random() < 0.1:
            steps.append({"op": "eof"})
    if is_open or rng.random() < 0.3:
        family = f"{role}-data"
        steps += data_phase(rng, role, deflate_on, rng.randint(1, 12))
    if rng.random() < 0.3:
        steps.append({"op": "eof"})
    if rng.random() < 0.2:
        steps.append(misuse_send(rng))
    return {"seed": seed, "index": index, "role": role, "family": family, "steps": steps}
