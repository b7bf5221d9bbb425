"""The differential test's own parts (compat/), checked against ours alone.

The comparison with wsproto 1.3.2 is ``nox -s compat``; these tests keep the
harness honest without 1.3.2: scenarios are reproducible JSON, every one runs
to the end on ours, and an implementation compared with itself shows nothing.
"""

from __future__ import annotations

import json

from compat.compare import differences
from compat.generate import scenario
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
