"""The intended differences from wsproto 1.3.2: each names what it allows and why.

A difference the differential test finds passes only if one entry here matches
it. Keep every entry narrow (one aspect, one action, one observed pair) and give
the RFC section or the reason that makes ours right; docs/compatibility.md lists
the same differences for users.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from compat.compare import Difference

Json = Any


@dataclass(frozen=True)
class Allowed:
    """One intended difference."""

    name: str
    reason: str
    matches: Callable[[Json, Difference], bool]


def _subclass_of_reference(scenario: Json, diff: Difference) -> bool:
    """Ours raises a type that is also an instance of what 1.3.2 raises (same hint)."""
    ref, ours = diff.reference, diff.ours
    return (
        diff.aspect == "exception"
        and isinstance(ref, dict)
        and isinstance(ours, dict)
        and ref["type"] in ours["mro"]
        and ref["hint"] == ours["hint"]
    )


ALLOWED: list[Allowed] = [
    Allowed(
        "exception-subclass",
        "Where misuse raised ValueError/TypeError in 1.x, ours raises LocalProtocolError that is "
        "also an instance of the old type, so existing `except` clauses still catch it (issue 10).",
        _subclass_of_reference,
    ),
]


def allowed(scenario: Json, diff: Difference) -> Allowed | None:
    """The allow-list entry that covers this difference, if any."""
    for entry in ALLOWED:
        if entry.matches(scenario, diff):
            return entry
    return None
