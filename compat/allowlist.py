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
from compat.rfc import response_violation, server_request_violation

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
    """The frames a receive step carries (after the HTTP heads, when it holds the 101)."""
    step = scenario["steps"][diff.step] if diff.step >= 0 else {}
    data = bytes.fromhex(step["data"]) if step.get("op") == "recv" else b""
    while data.startswith(b"HTTP/") and b"\r\n\r\n" in data:
        data = data.partition(b"\r\n\r\n")[2]
    return data


def _closes_with(events: Json, codes: set[int]) -> bool:
    return isinstance(events, list) and any(
        e.get("type") == "CloseConnection" and e.get("code") in codes for e in events
    )


def _accepts_registered_codes(scenario: Json, diff: Difference) -> bool:
    if diff.aspect not in ("events", "state") or diff.action != "recv":
        return False
    codes, _ = _incoming_close_codes(_step_data(scenario, diff))
    return bool(codes & REGISTERED_LATER) and (
        diff.aspect == "state" or _closes_with(diff.reference, {1002})
    )


def _accepts_non_minimal_length(scenario: Json, diff: Difference) -> bool:
    if diff.aspect not in ("events", "state") or diff.action != "recv":
        return False
    _, non_minimal = _incoming_close_codes(_step_data(scenario, diff))
    return non_minimal and (diff.aspect == "state" or _closes_with(diff.reference, {1002}))


def _is_remote_error(value: Json) -> bool:
    return isinstance(value, dict) and "wsproto.RemoteProtocolError" in value.get("mro", [])


def _client_failure_without_hint(scenario: Json, diff: Difference) -> bool:
    pair = _exceptions(diff)
    if pair is None or scenario["role"] != "client":
        return False
    ref, ours = pair
    hint = ref["hint"]
    return (
        ref["type"] in ours["mro"]
        and isinstance(hint, dict)
        and hint.get("type") == "RejectConnection"
        and ours["hint"] is None
    )


def _stricter_handshake_checks(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "exception" or diff.action not in ("recv", "eof", "upgrade"):
        return False
    if not _is_remote_error(diff.ours) or _is_remote_error(diff.reference):
        return False
    if scenario["role"] == "server":
        return server_request_violation(scenario, diff.step) is not None
    return response_violation(scenario, diff.step) is not None


def _first_status(scenario: Json, upto: int) -> int | None:
    data = b"".join(
        bytes.fromhex(step["data"])
        for step in scenario["steps"][: upto + 1]
        if step["op"] == "recv"
    )
    parts = data.split(b"\r\n", 1)[0].split(b" ")
    if len(parts) >= 2 and parts[0].startswith(b"HTTP/") and parts[1].isdigit():
        return int(parts[1])
    return None


def _informational_rejects(scenario: Json, diff: Difference) -> bool:
    status = _first_status(scenario, diff.step)
    return (
        scenario["role"] == "client"
        and status is not None
        and 100 <= status < 200
        and status != 101
    )


def _forbidden_close_code(code: Json) -> bool:
    if not isinstance(code, int):
        return False
    return code < 1000 or code == 1004 or 1016 <= code < 3000 or code >= 5000


def _refuses_forbidden_close_code(scenario: Json, diff: Difference) -> bool:
    step = scenario["steps"][diff.step] if diff.step >= 0 else {}
    event = step.get("event", {})
    return (
        diff.action == "send CloseConnection"
        and _forbidden_close_code(event.get("code"))
        and diff.aspect in ("exception", "wire", "state")
    )


def _second_upgrade(scenario: Json, diff: Difference) -> bool:
    if diff.action != "upgrade" or diff.aspect != "exception":
        return False
    before = scenario["steps"][: diff.step]
    if not any(step["op"] in ("upgrade", "recv") for step in before):
        return False
    return isinstance(diff.ours, dict) and diff.ours["type"] == "wsproto.LocalProtocolError"


def _sendable_upgrade_hint(scenario: Json, diff: Difference) -> bool:
    pair = _exceptions(diff)
    if pair is None or diff.action != "upgrade":
        return False
    ref, ours = pair
    hint = ours["hint"]
    return (
        ref["type"] in ours["mro"]
        and ref["hint"] is None
        and isinstance(hint, dict)
        and hint.get("type") == "RejectConnection"
    )


def _offered_8_bit_window(scenario: Json, diff: Difference) -> bool:
    if scenario["role"] != "client" or diff.action != "recv":
        return False
    ref = diff.reference if diff.aspect == "exception" else None
    if not (isinstance(ref, dict) and ref["type"] == "ValueError"):
        return False
    step = scenario["steps"][diff.step]
    data = bytes.fromhex(step["data"]).decode("latin-1").lower()
    return "server_max_window_bits=8" in data.replace(" ", "")


def _no_accept_after_answer(scenario: Json, diff: Difference) -> bool:
    if diff.action != "send AcceptConnection" or diff.before not in ("CLOSED", "REJECTING"):
        return False
    if diff.aspect == "exception":
        return bool(
            diff.reference
            and diff.reference["type"] == "h11.LocalProtocolError"
            and diff.ours
            and "wsproto.LocalProtocolError" in diff.ours["mro"]
        )
    return diff.aspect == "state" and diff.reference == "OPEN"


def _pmd_header(wire: Json) -> dict[str, str | None]:
    value = _headers(wire).get("sec-websocket-extensions", "")
    (_name, params), *_ = _extension_header(value) or [("", set())]
    return {p.partition("=")[0].strip(): p.partition("=")[2].strip() or None for p in params}


def _client_window_from_configuration(scenario: Json, diff: Difference) -> bool:
    """A client keeps the smaller window it was configured with (and offered)."""
    if scenario["role"] != "client" or diff.aspect != "events" or diff.action != "recv":
        return False
    requests = [
        step["event"]
        for step in scenario["steps"]
        if step["op"] == "send" and step["event"]["type"] == "Request"
    ]
    configured = [
        e for e in requests[0].get("extensions", []) if e.get("extension") == "permessage-deflate"
    ]
    if len(configured) != 1 or not isinstance(diff.reference, list) or not diff.ours:
        return False
    wanted = configured[0].get("client_max_window_bits")
    if len(diff.reference) != len(diff.ours) or wanted is None:
        return False
    for ref, ours in zip(
        _without_reasons(diff.reference), _without_reasons(diff.ours), strict=True
    ):
        if ref == ours:
            continue
        if ref.get("type") != "AcceptConnection" or ours.get("type") != "AcceptConnection":
            return False
        (ref_ext,), (our_ext,) = ref["extensions"], ours["extensions"]
        if {**ref_ext, "client_max_window_bits": wanted} != our_ext:
            return False
        if our_ext["client_max_window_bits"] > ref_ext["client_max_window_bits"]:
            return False
    return True


def _window_from_configuration(scenario: Json, diff: Difference) -> bool:
    return _client_window_from_configuration(scenario, diff) or _server_window_from_configuration(
        scenario, diff
    )


def _server_window_from_configuration(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "wire" or diff.action != "send AcceptConnection":
        return False
    event = scenario["steps"][diff.step]["event"]
    configured = [
        e for e in event.get("extensions", []) if e.get("extension") == "permessage-deflate"
    ]
    if len(configured) != 1:
        return False
    ref, ours = _pmd_header(diff.reference), _pmd_header(diff.ours)
    for name in ("server_max_window_bits", "client_max_window_bits"):
        ref_bits, our_bits = ref.pop(name, None), ours.pop(name, None)
        if ref_bits == our_bits:
            continue
        wanted = configured[0].get(name)
        if ref_bits is None or our_bits is None or wanted is None:
            return False
        if int(our_bits) != wanted or int(our_bits) > int(ref_bits):
            return False
    return ref == ours


def _without_empty_text(events: Json) -> Json:
    return [
        e
        for e in events
        if not (e.get("type") == "TextMessage" and e["data"] == "" and not e["message_finished"])
    ]


def _no_empty_text_pieces(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "events" or not isinstance(diff.reference, list):
        return False
    ours = _without_empty_text(diff.ours or [])
    return bool(_without_reasons(_without_empty_text(diff.reference)) == _without_reasons(ours))


def _nothing_after_violation(scenario: Json, diff: Difference) -> bool:
    if diff.aspect != "events" or not isinstance(diff.reference, list):
        return False
    ours = diff.ours or []
    if not ours or not _closes_with(ours[-1:], FAILURE_CODES):
        return False
    ref = _without_empty_text(diff.reference)
    return bool(_without_reasons(ref[: len(ours)]) == _without_reasons(ours)) and len(ref) > len(
        ours
    )


# Handshake events one side never sends: wsproto 1.3.2 hands them to h11, which
# refuses them and stays in its ERROR state from then on.
_NEVER_SENT = {
    "server": {"Request"},
    "client": {"AcceptConnection", "RejectConnection", "RejectData"},
}


def _refused_on_both(role: str, event: Json) -> bool:
    """An event both refuse to send, whatever the state."""
    if event["type"] in _NEVER_SENT[role]:
        return True
    if event["type"] != "RejectConnection":
        return False
    framed = any(
        name.lower() == "content-length" and value.strip() != "0"
        for name, value in event.get("headers", [])
    )
    # A 1xx is no rejection; a body announced with has_body=False cannot end.
    return bool(event["status_code"] < 200 or (framed and not event.get("has_body", True)))


def _after_refused_misuse(scenario: Json, diff: Difference) -> bool:
    requests = 0
    for step in scenario["steps"][: max(diff.step, 0)]:
        if step["op"] != "send":
            continue
        requests += step["event"]["type"] == "Request"
        if requests > 1 or _refused_on_both(scenario["role"], step["event"]):
            return True  # (a second Request is refused too)
    return False


def _invalid_offer_crash(scenario: Json, diff: Difference) -> bool:
    if diff.action != "send AcceptConnection" or diff.aspect != "exception":
        return False
    if not (isinstance(diff.reference, dict) and diff.reference["type"] == "ValueError"):
        return False
    pmd_offers = [
        params
        for header in _offered_extensions(scenario)
        for name, params in _extension_header(header)
        if name == "permessage-deflate"
    ]
    return diff.ours is None and not any(_valid_pmd_offer(p) for p in pmd_offers)


def _request_end(scenario: Json) -> tuple[int, bool] | None:
    """The step that completes a server's request, and whether bytes follow it there."""
    data = b""
    for index, step in enumerate(scenario["steps"]):
        if step["op"] == "upgrade":
            return index, False
        if step["op"] == "recv":
            data += bytes.fromhex(step["data"])
            _, sep, rest = data.partition(b"\r\n\r\n")
            if sep:
                return index, bool(rest)
    return None


def _early_frames_kept(scenario: Json, diff: Difference) -> bool:
    """Bytes after the request, before AcceptConnection, reach the connection (ours)."""
    end = _request_end(scenario) if scenario["role"] == "server" else None
    if end is None:
        return False
    index, early = end
    kept = False
    for step in scenario["steps"][index + 1 : diff.step]:
        if step["op"] == "recv" and step["data"]:
            early = True
        if step["op"] == "send" and step["event"]["type"] == "AcceptConnection":
            kept = kept or early
    return kept


def _end_before_accept_kept(scenario: Json, diff: Difference) -> bool:
    if scenario["role"] != "server" or diff.action != "send AcceptConnection":
        return False
    if diff.aspect not in ("state", "events"):
        return False
    return any(step["op"] == "eof" for step in scenario["steps"][: diff.step])


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
        ends_comparison=True,  # 1.3.2 has failed the connection: it reads nothing more
    ),
    Allowed(
        "accept-non-minimal-length",
        "RFC 6455 §5.2 puts minimal length encoding on the sender; a receiver need not fail "
        "the connection over it (1.3.2 does, with 1002).",
        _accepts_non_minimal_length,
        ends_comparison=True,  # 1.3.2 has failed the connection: it reads nothing more
    ),
    Allowed(
        "client-failure-without-hint",
        "The manual: event_hint is an event to send; a client whose handshake failed has "
        "nothing to send (RFC 6455 §4.1: it fails the connection), so ours gives None where "
        "1.3.2 gives a RejectConnection(400) that h11 would refuse to send.",
        _client_failure_without_hint,
    ),
    Allowed(
        "stricter-handshake-checks",
        "RFC 6455 §4.1, §4.2.1, §9.1 and RFC 7692 §5, §7.1 (each rule in compat/rfc.py): ours "
        "fails a request or 101 response that breaks one, 1.3.2 goes on. What follows differs "
        "for that reason only.",
        _stricter_handshake_checks,
        ends_comparison=True,
    ),
    Allowed(
        "informational-response-rejects",
        "The manual: a 1xx answer other than 101 is a RejectConnection (has_body=False) and the "
        "handshake is over (CLOSED); 1.3.2 says so too, yet goes on parsing and may open on a "
        "101 that follows, contradicting its own event.",
        _informational_rejects,
        ends_comparison=True,
    ),
    Allowed(
        "refuse-forbidden-close-code",
        "RFC 6455 §7.4.1, §7.4.2: 0-999, 1004, 1016-2999 and 5000 and above are not to be sent "
        "(the peer would fail the connection with 1002); ours raises LocalProtocolError and "
        "sends nothing.",
        _refuses_forbidden_close_code,
        ends_comparison=True,
    ),
    Allowed(
        "second-initiate-upgrade",
        "The manual: local misuse raises LocalProtocolError; a second "
        "initiate_upgrade_connection (or one after data was received) is misuse, which 1.3.2 "
        "ignores.",
        _second_upgrade,
        ends_comparison=True,
    ),
    Allowed(
        "sendable-upgrade-hint",
        "issue 10: headers h11 refuses in initiate_upgrade_connection raise a RemoteProtocolError "
        "(also the h11.LocalProtocolError 1.3.2 raised) whose event_hint, a 400, can be sent.",
        _sendable_upgrade_hint,
        ends_comparison=True,
    ),
    Allowed(
        "inflate-with-8-bit-window",
        "RFC 7692 §7.1.2.1 allows server_max_window_bits=8; ours inflates with it (issue 10) "
        "where 1.3.2 raises ValueError.",
        _offered_8_bit_window,
        ends_comparison=True,
    ),
    Allowed(
        "no-accept-after-answer",
        "AcceptConnection after the request was answered (rejected) raises on both; 1.3.2 then "
        "reports OPEN although nothing was sent (a bug); ours keeps the state.",
        _no_accept_after_answer,
        ends_comparison=True,
    ),
    Allowed(
        "window-from-configuration",
        "RFC 7692 §7.1.2.1, §7.1.2.2: any window up to the limit is valid; ours keeps the "
        "window it was configured with (a server answers it, a client keeps the smaller one "
        "it offered when the answer allows more); 1.3.2 ignores the configuration.",
        _window_from_configuration,
    ),
    Allowed(
        "no-empty-text-pieces",
        "A text piece holding no complete character carries nothing: ours yields no empty "
        "TextMessage(frame_finished=False) (1.3.2 does); joining the pieces gives the same "
        "message.",
        _no_empty_text_pieces,
    ),
    Allowed(
        "nothing-after-violation",
        "DESIGN.md: after the CloseConnection for a protocol violation nothing more is parsed; "
        "1.3.2 goes on parsing the bytes that follow (RFC 6455 §7.1.7: the connection is failed).",
        _nothing_after_violation,
        ends_comparison=True,
    ),
    Allowed(
        "refused-send-changes-nothing",
        "A send that raises leaves the connection as it was (issue 10). 1.3.2 lets h11 refuse "
        "an event this side never sends (a server's Request, a client's answer) and h11 stays "
        "broken: every later send or receive there fails. Compared up to the refusal only.",
        _after_refused_misuse,
        ends_comparison=True,
    ),
    Allowed(
        "decline-invalid-deflate-offer-without-crash",
        "RFC 7692 §5: an offer with an invalid value (client_max_window_bits=abc) is declined; "
        "1.3.2's AcceptConnection crashes on it with ValueError (from int()).",
        _invalid_offer_crash,
        ends_comparison=True,
    ),
    Allowed(
        "keep-frames-sent-before-the-answer",
        "Bytes a client sends after its request and before the 101 reach the connection once "
        "accepted; 1.3.2 drops them, losing messages or splitting a frame (RFC 6455 §4.1 does "
        "not ask the server to discard them).",
        _early_frames_kept,
        ends_comparison=True,
    ),
    Allowed(
        "keep-end-before-the-answer",
        "A receive_data(None) before AcceptConnection is not forgotten: the opened connection "
        "reports it (CloseConnection 1006, CLOSED); 1.3.2 opens as if the peer were there and "
        "waits for ever.",
        _end_before_accept_kept,
        ends_comparison=True,
    ),
]


def allowed(scenario: Json, diff: Difference) -> Allowed | None:
    """The allow-list entry that covers this difference, if any."""
    for entry in ALLOWED:
        if entry.matches(scenario, diff):
            return entry
    return None
