"""The differential test's own parts (compat/), checked against ours alone.

The comparison with wsproto 1.3.2 is ``nox -s compat``; these tests keep the
harness honest without 1.3.2: scenarios are reproducible JSON, every one runs
to the end on ours, and an implementation compared with itself shows nothing.
"""

from __future__ import annotations

import json

from compat.allowlist import allowed
from compat.compare import Difference, differences
from compat.generate import scenario
from compat.rfc import pmd_answer_violation, request_violation
from compat.runner import Wire, normal_extensions, run_scenario


def test_scenarios_are_reproducible_json() -> None:
    for index in range(50):
        built = scenario(7, index)
        assert json.loads(json.dumps(built)) == built
        assert scenario(7, index) == built


def test_every_scenario_runs_on_ours_and_matches_itself() -> None:
    for index in range(30):
        built = scenario(11, index)
        first, second = run_scenario(built), run_scenario(built)
        assert "crash" not in first
        assert len(first["steps"]) == len(built["steps"])
        assert differences(built, first, second) == []


def test_wire_unmasks_and_parses_frames() -> None:
    wire = Wire()
    masked = (
        bytes([0x81, 0x85]) + b"abcd" + bytes(c ^ b"abcd"[i % 4] for i, c in enumerate(b"hello"))
    )
    assert wire.frames(masked[:3]) == []  # a partial frame waits
    (frame,) = wire.frames(masked[3:])
    assert frame == {"fin": True, "rsv": 0, "opcode": 1, "masked": True, "payload": b"hello".hex()}


def test_extension_parameters_compare_in_any_order() -> None:
    assert normal_extensions(b"permessage-deflate; b; a=1") == normal_extensions(
        b"permessage-deflate;a=1;b"
    )


def _client_scenario(response: bytes) -> dict[str, object]:
    return {
        "seed": 0,
        "index": 0,
        "role": "client",
        "family": "client-handshake",
        "steps": [
            {"op": "send", "event": {"type": "Request", "host": "a", "target": "/"}},
            {"op": "recv", "data": response.hex(), "chunks": []},
        ],
    }


def _state_difference(step: int) -> Difference:
    return Difference(step, "state", "CONNECTING", "recv", "OPEN", "CLOSED")


def test_informational_entry_covers_1xx_but_never_101() -> None:
    """A 1xx other than 101 ends the handshake (the manual); a 101 must still be compared."""
    informational = _client_scenario(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 101 X\r\n\r\n")
    switching = _client_scenario(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    entry = allowed(informational, _state_difference(1))
    assert entry is not None
    assert entry.name == "informational-response-rejects"
    assert allowed(switching, _state_difference(1)) is None


def test_rfc_reading_of_requests() -> None:
    valid = [
        ("host", "a"),
        ("upgrade", "websocket"),
        ("connection", "Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
    ]
    assert request_violation("GET / HTTP/1.1", valid) is None
    assert request_violation("POST / HTTP/1.1", valid) is not None
    not_a_key = [(n, "not a key" if n == "sec-websocket-key" else v) for n, v in valid]
    assert "key" in (request_violation("GET / HTTP/1.1", not_a_key) or "")
    assert request_violation("GET / HTTP/1.1", [*valid, ("content-length", "5")]) is not None


def test_rfc_reading_of_deflate_answers() -> None:
    assert pmd_answer_violation({}, "permessage-deflate") is None
    assert pmd_answer_violation({}, "permessage-deflate; server_max_window_bits=8") is None
    assert pmd_answer_violation({}, "permessage-deflate; bogus") is not None
    limited = {"server_max_window_bits": 10}
    assert pmd_answer_violation(limited, "permessage-deflate") is not None
    assert pmd_answer_violation(limited, "permessage-deflate; server_max_window_bits=9") is None
