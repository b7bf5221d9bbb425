"""The intended differences from wsproto 1.3.2: each names what it allows and why.

A difference the differential test finds passes only if one entry here matches
it. Each entry is narrow (one aspect, one kind of step, one observed pair) and
gives the RFC section or the decision (issue 10) that makes ours right;
docs/compatibility.md lists the same differences for users. A difference that
is merely not fixed yet does not belong here: it fails the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compat.compare import Difference

Json = Any

# Codes an endpoint puts in the CloseConnection it makes up itself when the peer
# breaks the protocol; the reason text that goes with them is ours to write.
FAILURE_CODES = {1002, 1003, 1007, 1008, 1009, 1011}
# Registered by IANA after RFC 6455 (Service Restart, Try Again Later, Bad Gateway).
REGISTERED_LATER = {1012, 1013, 1014}
# RFC 7692 §7.1: the only parameters permessage-deflate has.
PMD_PARAMETERS = {
    "client_no_context_takeover",
    "server_no_context_takeover",
    "client_max_window_bits",
    "server_max_window_bits",
}
# Exceptions 1.3.2 lets escape from inside itself (an assert, a failed lookup):
# no program can rely on them, and a ProtocolError in their place says what was wrong.
INTERNAL_ERRORS = {"AssertionError", "KeyError", "AttributeError", "IndexError"}


@dataclass(frozen=True)
class Allowed:
    """One intended difference."""

    name: str
    reason: str
    matches: Callable[[Json, Difference], bool]
    # True when what follows may differ because of this (another negotiated
    # extension, say): the rest of the scenario is then not compared.
    ends_comparison: bool = False


def _exceptions(diff: Difference) -> tuple[Json, Json] | None:
    if diff.aspect != "exception" or not isinstance(diff.reference, dict):
        return None
    if not isinstance(diff.ours, dict):
        return None
    return diff.reference, diff.ours


def _subclass_of_reference(scenario: Json, diff: Difference) -> bool:
    pair = _exceptions(diff)
    if pair is None:
        return False
    ref, ours = pair
    return ref["type"] in ours["mro"] and ref["hint"] == ours["hint"]


def _instead_of_internal_error(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "exception" or not isinstance(diff.reference, dict):
        return False
    if diff.reference["type"] not in INTERNAL_ERRORS:
        return False
    # Ours either raises a ProtocolError that says what was wrong, or goes on.
    return diff.ours is None or "wsproto.ProtocolError" in diff.ours["mro"]


def _without_reasons(events: Json) -> Json:
    if not isinstance(events, list):
        return events
    return [
        {**e, "reason": "-"}
        if e.get("type") == "CloseConnection" and e.get("code") in FAILURE_CODES
        else e
        for e in events
    ]


def _close_reason_text(scenario: Json, diff: Difference) -> bool:
    if diff.aspect == "events":
        return bool(_without_reasons(diff.reference) == _without_reasons(diff.ours))
    if diff.aspect == "wire" and diff.action == "reply_close":
        strip = [
            {**f, "reason": "-"} if f.get("code") in FAILURE_CODES else f
            for f in (diff.reference or [])
        ]
        strip_ours = [
            {**f, "reason": "-"} if f.get("code") in FAILURE_CODES else f for f in (diff.ours or [])
        ]
        return strip == strip_ours
    return False


def _finish_after_peer_close(scenario: Json, diff: Difference) -> bool:
    if diff.before != "REMOTE_CLOSING" or diff.action not in (
        "send TextMessage",
        "send BytesMessage",
    ):
        return False
    if diff.aspect == "exception":
        return diff.ours is None and diff.reference["type"] == "wsproto.LocalProtocolError"
    if diff.aspect == "wire":
        frames = diff.ours or []
        return diff.reference is None and all(f["opcode"] == 0 for f in frames)
    return False


def _extension_header(value: str) -> list[tuple[str, set[str]]]:
    offers = []
    for offer in value.split(","):
        name, *params = (p.strip() for p in offer.split(";"))
        offers.append((name, set(params)))
    return offers


def _offered_extensions(scenario: Json) -> list[str]:
    offers = []
    for step in scenario["steps"]:
        lines: list[str] = []
        if step["op"] == "recv":
            lines = bytes.fromhex(step["data"]).decode("latin-1").split("\r\n")
        elif step["op"] == "upgrade":
            lines = [f"{n}: {v}" for n, v in step["headers"]]
        for line in lines:
            name, _, value = line.partition(":")
            if name.strip().lower() == "sec-websocket-extensions":
                offers.append(value.strip())
    return offers


def _valid_pmd_offer(params: set[str]) -> bool:
    names = [p.partition("=")[0].strip() for p in params]
    if len(set(names)) != len(names) or not set(names) <= PMD_PARAMETERS:
        return False
    for param in params:
        name, eq, value = (x.strip() for x in param.partition("="))
        if name.endswith("no_context_takeover") and eq:
            return False
        if (
            name.endswith("max_window_bits")
            and eq
            and not (value.isdigit() and 8 <= int(value) <= 15)
        ):
            return False
        if name == "server_max_window_bits" and not eq:
            return False
        # zlib cannot compress with a 256-byte window (it uses 512): we must not
        # agree to compress with 8 bits (issue 10), so such an offer is declined.
        if name == "server_max_window_bits" and value == "8":
            return False
    return True


def _headers(wire: Json) -> dict[str, str]:
    if not isinstance(wire, dict):
        return {}
    return dict(wire.get("headers", []))


def _declines_invalid_deflate_offer(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "wire" or diff.action != "send AcceptConnection":
        return False
    ref, ours = _headers(diff.reference), _headers(diff.ours)
    if "sec-websocket-extensions" not in ref or "sec-websocket-extensions" in ours:
        return False
    ref.pop("sec-websocket-extensions")
    if ref != ours:
        return False
    pmd_offers = [
        params
        for header in _offered_extensions(scenario)
        for name, params in _extension_header(header)
        if name == "permessage-deflate"
    ]
    return bool(pmd_offers) and not any(_valid_pmd_offer(p) for p in pmd_offers)


def _announces_server_window(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "wire" or diff.action != "send AcceptConnection":
        return False
    ref, ours = _headers(diff.reference), _headers(diff.ours)
    ref_ext, our_ext = (
        ref.pop("sec-websocket-extensions", ""),
        ours.pop("sec-websocket-extensions", ""),
    )
    if ref != ours or not ref_ext or not our_ext:
        return False
    (ref_name, ref_params), (our_name, our_params) = (
        _extension_header(ref_ext)[0],
        _extension_header(our_ext)[0],
    )
    extra = our_params - ref_params
    return (
        ref_name == our_name == "permessage-deflate"
        and ref_params <= our_params
        and all(p.startswith("server_max_window_bits=") for p in extra)
    )


def _incoming_close_codes(data: bytes) -> tuple[set[int], bool]:
    """Close codes in a peer's frames, and whether a length was not minimally encoded."""
    codes: set[int] = set()
    non_minimal = False
    pos = 0
    while pos + 2 <= len(data):
        b0, b1 = data[pos], data[pos + 1]
        length, head = b1 & 0x7F, 2
        if length == 126:
            length, head = int.from_bytes(data[pos + 2 : pos + 4], "big"), 4
            non_minimal |= length < 126
        elif length == 127:
            length, head = int.from_bytes(data[pos + 2 : pos + 10], "big"), 10
            non_minimal |= length < 65536
        key = data[pos + head : pos + head + 4] if b1 & 0x80 else b""
        start = pos + head + len(key)
        payload = data[start : start + length]
        if key:
            payload = bytes(c ^ key[i % 4] for i, c in enumerate(payload))
        if b0 & 0x0F == 8 and len(payload) >= 2:
            codes.add(int.from_bytes(payload[:2], "big"))
        pos = start + length
    return codes, non_minimal


def _step_data(scenario: Json, diff: Difference) -> bytes:
    step = scenario["steps"][diff.step] if diff.step >= 0 else {}
    return bytes.fromhex(step["data"]) if step.get("op") == "recv" else b""


def _closes_with(events: Json, codes: set[int]) -> bool:
    return isinstance(events, list) and any(
        e.get("type") == "CloseConnection" and e.get("code") in codes for e in events
    )


def _accepts_registered_codes(scenario: Json, diff: Difference) -> bool:
    if diff.aspect not in ("events", "state") or diff.action != "recv":
        return False
    codes, _ = _incoming_close_codes(_step_data(scenario, diff))
    return bool(codes & REGISTERED_LATER) and (
        diff.aspect == "state" or _closes_with(diff.ours, REGISTERED_LATER)
    )


def _accepts_non_minimal_length(scenario: Json, diff: Difference) -> bool:
    if diff.aspect not in ("events", "state") or diff.action != "recv":
        return False
    _, non_minimal = _incoming_close_codes(_step_data(scenario, diff))
    return non_minimal and (diff.aspect == "state" or _closes_with(diff.reference, {1002}))


ALLOWED: list[Allowed] = [
    Allowed(
        "exception-subclass",
        "Ours raises a type that is also an instance of what 1.3.2 raises (with the same "
        "event_hint), so existing `except` clauses still catch it (issue 10).",
        _subclass_of_reference,
    ),
    Allowed(
        "instead-of-internal-error",
        "1.3.2 lets an internal error escape (an assert, a failed dict or index lookup) where "
        "ours raises a wsproto ProtocolError saying what was wrong, or handles the input; no "
        "program can rely on the former (asserts vanish under -O).",
        _instead_of_internal_error,
    ),
    Allowed(
        "close-reason-text",
        "The reason text of a close we make up after a protocol violation (1002, 1007, 1009 ...) "
        "is a message text; issue 10 keeps message texts as they are. The code matches.",
        _close_reason_text,
    ),
    Allowed(
        "finish-message-after-peer-close",
        "RFC 6455 §5.5.1: after receiving a Close an endpoint may finish the message it was "
        "sending; 1.3.2 refuses the rest of the message.",
        _finish_after_peer_close,
    ),
    Allowed(
        "decline-invalid-deflate-offer",
        "RFC 7692 §5 and §7.1: an offer with an unknown or invalid parameter must be declined; "
        "1.3.2 accepts it. So is server_max_window_bits=8: zlib cannot compress with a "
        "256-byte window (issue 10). The messages that follow are then not compressed.",
        _declines_invalid_deflate_offer,
        ends_comparison=True,
    ),
    Allowed(
        "announce-server-max-window-bits",
        "RFC 7692 §7.1.2.1 lets the server announce the server_max_window_bits it uses.",
        _announces_server_window,
    ),
    Allowed(
        "accept-close-codes-1012-1014",
        "Close codes 1012-1014 are registered with IANA (after RFC 6455) and may be received; "
        "1.3.2 fails the connection with 1002.",
        _accepts_registered_codes,
    ),
    Allowed(
        "accept-non-minimal-length",
        "RFC 6455 §5.2 puts minimal length encoding on the sender; a receiver need not fail "
        "the connection over it (1.3.2 does, with 1002).",
        _accepts_non_minimal_length,
    ),
]


def allowed(scenario: Json, diff: Difference) -> Allowed | None:
    """The allow-list entry that covers this difference, if any."""
    for entry in ALLOWED:
        if entry.matches(scenario, diff):
            return entry
    return None
