"""An independent reading of what RFC 6455 §4 and RFC 7692 require of a handshake.

The allow-list uses it to tell an intended difference (ours refuses a request
or response these rules refuse, where wsproto 1.3.2 lets it through) from a
bug (ours refuses a valid one). Written from the RFCs, not from either
implementation, and deliberately small: each function returns the first rule
broken, or None.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

Json = Any

_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
PMD_PARAMETERS = {
    "client_no_context_takeover",
    "server_no_context_takeover",
    "client_max_window_bits",
    "server_max_window_bits",
}
ACCEPT_PLACEHOLDER = "@@ACCEPT@@"


def _head(data: bytes) -> tuple[str, list[tuple[str, str]], bytes] | None:
    """The start line, the header fields and what follows; None if the head is incomplete."""
    head, sep, rest = data.partition(b"\r\n\r\n")
    if not sep:
        return None
    start, *lines = head.decode("latin-1").split("\r\n")
    fields = []
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not _TOKEN.match(name):
            fields.append(("", line))  # not a header field: the message is malformed
        else:
            fields.append((name.lower(), value.strip()))
    return start, fields, rest


def _values(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [v for n, v in fields if n == name]


def _tokens(fields: list[tuple[str, str]], name: str) -> list[str]:
    return [t.strip().lower() for v in _values(fields, name) for t in v.split(",") if t.strip()]


def request_violation(start: str, fields: list[tuple[str, str]]) -> str | None:
    """The first RFC 6455 §4.2.1 requirement an upgrade request breaks."""
    parts = start.split(" ")
    if len(parts) != 3 or parts[0] != "GET" or parts[2] != "HTTP/1.1":
        return "§4.2.1 item 1: a GET with HTTP/1.1"
    if any(not name for name, _ in fields):
        return "RFC 9112 §5: a header line without a field name"
    if len(_values(fields, "host")) != 1:
        return "§4.2.1 item 2: one Host"
    if "websocket" not in _tokens(fields, "upgrade"):
        return "§4.2.1 item 3: Upgrade: websocket"
    if "upgrade" not in _tokens(fields, "connection"):
        return "§4.2.1 item 4: Connection: Upgrade"
    keys = _values(fields, "sec-websocket-key")
    if len(keys) != 1:
        return "§4.2.1 item 5: one Sec-WebSocket-Key"
    try:
        if len(base64.b64decode(keys[0], validate=True)) != 16:
            return "§4.2.1 item 5: a key of 16 bytes"
    except (binascii.Error, ValueError):
        return "§4.2.1 item 5: a key in base64"
    if _values(fields, "sec-websocket-version") != ["13"]:
        return "§4.2.1 item 6: Sec-WebSocket-Version: 13"
    if _values(fields, "transfer-encoding") or any(
        v != "0" for v in _values(fields, "content-length")
    ):
        return "RFC 9110 §9.3.1: a GET with content"
    if not all(_TOKEN.match(p) for p in _tokens(fields, "sec-websocket-protocol")):
        return "§4.1: subprotocols are tokens"
    return None


def server_request_violation(scenario: Json, upto: int) -> str | None:
    """The rule the request a server got by step ``upto`` breaks, if any (or None)."""
    data = b""
    for step in scenario["steps"][: upto + 1]:
        if step["op"] == "upgrade":
            fields = [(n.lower(), v.strip()) for n, v in step["headers"]]
            return request_violation(f"GET {step['path']} HTTP/1.1", fields)
        if step["op"] == "recv":
            data += bytes.fromhex(step["data"])
        if step["op"] == "eof":
            break
    head = _head(data)
    if head is None:
        return "the request is incomplete" if data else None
    return request_violation(head[0], head[1])


def _params(element: str) -> tuple[str, list[tuple[str, str | None]]]:
    name, *params = (p.strip() for p in element.split(";"))
    parsed = []
    for param in params:
        key, eq, value = (x.strip() for x in param.partition("="))
        parsed.append((key, value.strip('"') if eq else None))
    return name, parsed


def _bits(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def pmd_answer_violation(offer: Json, answer: str) -> str | None:
    """The first RFC 7692 rule a permessage-deflate answer to ``offer`` breaks.

    ``offer`` holds the client's PerMessageDeflate arguments, as the generator
    writes them; every client offers both window sizes (15 unless set).
    """
    _, params = _params(answer)
    names = [k for k, _ in params]
    if len(set(names)) != len(names):
        return "RFC 7692 §7: a parameter twice"
    got = dict(params)
    if not set(got) <= PMD_PARAMETERS:
        return "RFC 7692 §5: an unknown parameter"
    for key in ("client_no_context_takeover", "server_no_context_takeover"):
        if key in got and got[key] is not None:
            return f"RFC 7692 §7.1.1: {key} has no value"
    if offer.get("server_no_context_takeover") and "server_no_context_takeover" not in got:
        return "RFC 7692 §7.1.1.1: the offered server_no_context_takeover not echoed"
    offered_server = offer.get("server_max_window_bits", 15)
    if "server_max_window_bits" in got:
        bits = _bits(got["server_max_window_bits"])
        if bits is None or not 8 <= bits <= offered_server:
            return "RFC 7692 §7.1.2.1: server_max_window_bits above the offer"
    elif offered_server < 15:
        return "RFC 7692 §7.1.2.1: the offered server_max_window_bits not echoed"
    if "client_max_window_bits" in got:
        bits = _bits(got["client_max_window_bits"])
        if bits is None or not 8 <= bits <= offer.get("client_max_window_bits", 15):
            return "RFC 7692 §7.1.2.2: client_max_window_bits invalid or above the offer"
        if bits == 8:
            return "issue 10: zlib cannot compress with an 8-bit window"
    return None


def response_violation(scenario: Json, upto: int) -> str | None:
    """The rule the 101 a client got by step ``upto`` breaks (None if valid or not a 101)."""
    request: Json = None
    data = b""
    for step in scenario["steps"][: upto + 1]:
        if step["op"] == "send" and step["event"]["type"] == "Request" and request is None:
            request = step["event"]
        if step["op"] == "recv":
            data += bytes.fromhex(step["data"])
    head = _head(data)
    if head is None or request is None:
        return None
    start, fields, _ = head
    if start.split(" ")[1:2] != ["101"]:
        return None
    if not start.startswith("HTTP/1.1 "):
        return "RFC 9112 §2.3: HTTP/1.1"
    if any(not name for name, _ in fields):
        return "RFC 9112 §5: a header line without a field name"
    if "websocket" not in _tokens(fields, "upgrade"):
        return "§4.1: Upgrade: websocket"
    if "upgrade" not in _tokens(fields, "connection"):
        return "§4.1: Connection: Upgrade"
    if _values(fields, "sec-websocket-accept") != [ACCEPT_PLACEHOLDER]:
        return "§4.1: the right Sec-WebSocket-Accept"
    protocols = _values(fields, "sec-websocket-protocol")
    if protocols and (len(protocols) != 1 or protocols[0] not in request.get("subprotocols", [])):
        return "§4.1: a subprotocol the client offered"
    offers = {e["extension"]: e for e in request.get("extensions", [])}
    seen = set()
    for value in _values(fields, "sec-websocket-extensions"):
        for element in value.split(","):
            name, _ = _params(element)
            if name not in offers or name in seen:
                return "§9.1: an extension the client did not offer, or twice"
            seen.add(name)
            violation = pmd_answer_violation(offers[name], element)
            if violation:
                return violation
    return None
