"""Execute scenarios on whichever ``wsproto`` this interpreter imports; report what a program sees.

Run as a script, one process per implementation: ``python compat/runner.py
[--path SRC]`` (``--path`` is put first on ``sys.path``, so ``import wsproto``
finds that tree). It reads one JSON scenario a line on stdin and writes one JSON
observation a line on stdout. It uses wsproto's documented API only, and records
for every step the events (every field), the state, any exception (type, the
names of its classes, ``event_hint``) and the bytes sent, parsed: HTTP as status
or method and target plus a header multiset, frames unmasked and inflated. The
random parts are replaced by what they must satisfy: a ``Sec-WebSocket-Key`` by
whether it is 16 random bytes in base64, a ``Sec-WebSocket-Accept`` by whether
it answers the key that was sent.

This file imports only the standard library besides wsproto, and nothing from
the ``compat`` package, so the same file runs under both implementations.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import hashlib
import json
import re
import sys
import zlib
from typing import Any

ACCEPT_PLACEHOLDER = b"@@ACCEPT@@"
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
KEY_HEADER = re.compile(rb"^sec-websocket-key:[ \t]*([^\r\n]*?)[ \t]*\r?$", re.I | re.M)

Json = Any


def accept_for(key: bytes) -> bytes:
    """The Sec-WebSocket-Accept that answers ``key`` (RFC 6455 §4.2.2)."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def plain(value: object) -> Json:
    """A JSON form of an event field's value."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, bytes | bytearray):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    name = getattr(value, "name", None)
    if isinstance(name, str):  # an Extension
        params = {
            p: getattr(value, p)
            for p in (
                "client_no_context_takeover",
                "client_max_window_bits",
                "server_no_context_takeover",
                "server_max_window_bits",
            )
            if isinstance(getattr(value, p, None), bool | int | type(None))
        }
        return {"extension": name, **params}
    if hasattr(value, "name") and hasattr(value, "value"):  # an enum member
        return str(value.name)
    return {"repr-of": type(value).__name__}


def event_json(event: object) -> Json:
    """An event as its class name and every field."""
    if dataclasses.is_dataclass(event) and not isinstance(event, type):
        fields = {f.name: plain(getattr(event, f.name)) for f in dataclasses.fields(event)}
    else:  # pragma: no cover - both implementations use dataclasses
        fields = {k: plain(v) for k, v in vars(event).items() if not k.startswith("_")}
    return {"type": type(event).__name__, **fields}


def class_name(cls: type) -> str:
    """``wsproto.X``, ``h11.X`` or a builtin's name: where a program would import it from.

    The defining private module is left out (it differs between implementations);
    the package is kept, since h11 and wsproto each have a ``LocalProtocolError``.
    """
    package = cls.__module__.partition(".")[0]
    return cls.__name__ if package == "builtins" else f"{package}.{cls.__name__}"


def exception_json(exc: BaseException) -> Json:
    """An exception as a program can tell it apart: its type, its classes and its hint."""
    hint = getattr(exc, "event_hint", None)
    return {
        "type": class_name(type(exc)),
        "mro": [class_name(c) for c in type(exc).__mro__ if c not in (object, BaseException)],
        "hint": None if hint is None else event_json(hint),
        "message": str(exc)[:200],
    }


def normal_extensions(value: bytes) -> bytes:
    """An extensions header with each extension's parameters sorted.

    RFC 7692 §5 gives parameters no order, so ``a; x; y`` and ``a; y; x`` say the same.
    """
    offers = []
    for offer in value.split(b","):
        name, *params = (p.strip() for p in offer.split(b";"))
        offers.append(b"; ".join([name, *sorted(params)]))
    return b", ".join(offers)


class Wire:
    """Parses what one connection sends: HTTP heads, bodies, then frames."""

    def __init__(self) -> None:
        self.key: bytes | None = None  # the handshake key, to check the accept token
        self.buffer = b""
        self.inflater: Any = None
        self.compressed = False
        self.inflated = b""

    def http(self, data: bytes) -> Json:
        """An HTTP request or response head, with what follows it as raw bytes."""
        head, sep, rest = data.partition(b"\r\n\r\n")
        if not sep:
            return {"raw": data.hex()}
        lines = head.split(b"\r\n")
        first = lines[0].split(b" ", 2)
        headers: list[list[str]] = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            value = value.strip()
            if lname == b"sec-websocket-key":
                self.key = value
                try:
                    ok = len(base64.b64decode(value, validate=True)) == 16
                except binascii.Error:
                    ok = False
                value = b"<key: 16 bytes>" if ok else b"<key: malformed>"
            elif lname == b"sec-websocket-accept":
                good = self.key is not None and value == accept_for(self.key)
                value = b"<accept: right>" if good else b"<accept: wrong>"
            elif lname == b"sec-websocket-extensions":
                value = normal_extensions(value)
            headers.append([lname.decode("latin-1"), value.decode("latin-1")])
        result: dict[str, Json] = {"headers": sorted(headers)}
        if first[0].startswith(b"HTTP/"):
            # The reason phrase is free text (RFC 9112 §4); only the code counts.
            result["status"] = int(first[1]) if len(first) > 1 and first[1].isdigit() else None
            result["version"] = first[0].decode("latin-1")
        else:
            result["request"] = [p.decode("latin-1") for p in first]
        if rest:
            result["rest"] = rest.hex()
        return result

    def frames(self, data: bytes) -> Json:
        """Every whole frame in ``data`` (plus what was left over before it), unmasked."""
        self.buffer += data
        out: list[Json] = []
        buf = self.buffer
        while len(buf) >= 2:
            b0, b1 = buf[0], buf[1]
            length = b1 & 0x7F
            pos = 2
            if length == 126:
                if len(buf) < 4:
                    break
                length = int.from_bytes(buf[2:4], "big")
                pos = 4
            elif length == 127:
                if len(buf) < 10:
                    break
                length = int.from_bytes(buf[2:10], "big")
                pos = 10
            mask = b""
            if b1 & 0x80:
                if len(buf) < pos + 4:
                    break
                mask = buf[pos : pos + 4]
                pos += 4
            if len(buf) < pos + length:
                break
            payload = buf[pos : pos + length]
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            buf = buf[pos + length :]
            opcode, fin, rsv1 = b0 & 0x0F, bool(b0 & 0x80), bool(b0 & 0x40)
            frame: dict[str, Json] = {
                "fin": fin,
                "rsv": (b0 >> 4) & 0x07,
                "opcode": opcode,
                "masked": bool(mask),
            }
            if opcode in (1, 2) and rsv1:
                self.compressed = True
                self.inflater = zlib.decompressobj(-15) if self.inflater is None else self.inflater
            if opcode < 8 and self.compressed:
                # How a compressed message is cut into frames' payloads is the
                # sender's choice (when to flush): the message is what counts,
                # so it is shown whole at its last frame.
                try:
                    tail = b"\x00\x00\xff\xff" if fin else b""
                    self.inflated += self.inflater.decompress(payload + tail)
                    frame["inflated"] = True
                except zlib.error as exc:
                    frame["inflated"] = f"error: {exc}"
                payload = b""
                if fin:
                    payload, self.inflated = self.inflated, b""
                    self.compressed = False
            if opcode == 8 and len(payload) >= 2:
                frame["code"] = int.from_bytes(payload[:2], "big")
                frame["reason"] = payload[2:].hex()
            else:
                frame["payload"] = payload.hex()
            out.append(frame)
        self.buffer = buf
        return out


def make_event(spec: Json, ev: Any, ext: Any) -> Any:
    """Build the event a scenario step sends."""
    kind = spec["type"]
    args = {k: v for k, v in spec.items() if k != "type"}
    for key in ("data", "payload"):
        if isinstance(args.get(key), dict):
            args[key] = bytes.fromhex(args[key]["bytes"])
    for key in ("extra_headers", "headers"):
        if isinstance(args.get(key), list):
            args[key] = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in args[key]]
    if "extensions" in args:
        args["extensions"] = [
            ext.PerMessageDeflate(**{k: v for k, v in e.items() if k != "extension"})
            for e in args["extensions"]
        ]
    return getattr(ev, kind)(**args)


def run_scenario(scenario: Json) -> Json:
    """Execute one scenario and return what was observed, step by step."""
    import wsproto
    from wsproto import events as ev
    from wsproto import extensions as ext

    role = (
        wsproto.ConnectionType.CLIENT
        if scenario["role"] == "client"
        else wsproto.ConnectionType.SERVER
    )
    conn = wsproto.WSConnection(role)
    wire = Wire()
    last_close: Any = None
    observed: list[Json] = []
    for step in scenario["steps"]:
        record: dict[str, Json] = {}
        events: list[Json] = []
        op = step["op"]
        try:
            if op in ("send", "reply_close"):
                if op == "send":
                    event = make_event(step["event"], ev, ext)
                elif last_close is None:
                    record["skipped"] = "no close received"
                    event = None
                else:
                    event = last_close.response()
                if event is not None:
                    out = conn.send(event)
                    if isinstance(event, ev.Request | ev.AcceptConnection | ev.RejectConnection):
                        record["wire"] = wire.http(out)
                        if "rest" in record["wire"] and isinstance(event, ev.AcceptConnection):
                            record["wire"]["rest"] = wire.frames(
                                bytes.fromhex(record["wire"]["rest"])
                            )
                    elif isinstance(event, ev.RejectData):
                        record["wire"] = {"raw": out.hex()}
                    else:
                        record["wire"] = wire.frames(out)
            elif op == "upgrade":
                headers = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in step["headers"]]
                for name, value in headers:
                    if name.lower() == b"sec-websocket-key":
                        wire.key = value
                conn.initiate_upgrade_connection(headers, step["path"])
            elif op in ("recv", "eof"):
                chunks: list[bytes | None]
                if op == "eof":
                    chunks = [None]
                else:
                    data = bytes.fromhex(step["data"])
                    if ACCEPT_PLACEHOLDER in data:
                        data = data.replace(ACCEPT_PLACEHOLDER, accept_for(wire.key or b""))
                    match = KEY_HEADER.search(data)
                    if match and scenario["role"] == "server":
                        wire.key = match.group(1)
                    chunks = []
                    pos = 0
                    for size in step.get("chunks", []):
                        chunks.append(data[pos : pos + size])
                        pos += size
                    if pos < len(data) or not chunks:
                        chunks.append(data[pos:])
                for chunk in chunks:
                    conn.receive_data(chunk)
                    for event in conn.events():
                        if isinstance(event, ev.CloseConnection):
                            last_close = event
                        events.append(event_json(event))
            else:
                raise ValueError(f"unknown step {op!r}")
        except Exception as exc:
            record["exception"] = exception_json(exc)
        if events:
            record["events"] = events
        record["state"] = conn.state.name
        observed.append(record)
    return {"steps": observed}


def main() -> None:
    """Read scenarios (JSON lines) on stdin, write observations (JSON lines) on stdout."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", help="a source tree to import wsproto from")
    args = parser.parse_args()
    if args.path:
        sys.path.insert(0, args.path)
    import wsproto

    hello = {"version": getattr(wsproto, "__version__", "?"), "file": wsproto.__file__}
    sys.stdout.write(json.dumps(hello) + "\n")
    sys.stdout.flush()
    for line in sys.stdin:
        scenario = json.loads(line)
        try:
            result = run_scenario(scenario)
        except Exception as exc:  # a runner bug, or a crash outside any step
            result = {"crash": repr(exc)}
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
