"""Compare what two implementations let a program observe, scenario by scenario.

A scenario is compared step by step until the two implementations' states
part: after that, everything that follows can differ for that one reason. Each
difference found up to there is judged by the allow-list on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Json = Any

# The parts of a step's observation, in the order a program meets them.
ASPECTS = ("exception", "wire", "events", "state", "skipped")


@dataclass(frozen=True)
class Difference:
    """The first step at which the two implementations differ, and how."""

    step: int
    aspect: str
    before: str  # the state (on the reference) before the step
    action: str  # what the step did, e.g. "send CloseConnection" or "recv"
    reference: Json
    ours: Json

    @property
    def kind(self) -> str:
        """A short signature that groups alike differences."""
        where = f"{self.aspect} after {self.action} in {self.before}"
        detail = field_difference(self.reference, self.ours)
        if detail:
            return f"{where}: {detail}"
        return f"{where}: {summary(self.reference)} vs {summary(self.ours)}"


def field_difference(reference: Json, ours: Json) -> str | None:
    """Which field differs, when both sides hold the same events or the same HTTP head."""
    if isinstance(reference, list) and isinstance(ours, list) and len(reference) == len(ours):
        for ref, our in zip(reference, ours, strict=True):
            if (
                isinstance(ref, dict)
                and isinstance(our, dict)
                and ref.get("type") == our.get("type")
            ):
                for key in ref:
                    if ref.get(key) != our.get(key):
                        return f"{ref.get('type', 'frame')}.{key} differs"
    if (
        isinstance(reference, dict)
        and isinstance(ours, dict)
        and "headers" in reference
        and "headers" in ours
    ):
        for key in reference:
            if key != "headers" and reference.get(key) != ours.get(key):
                return f"HTTP {key} differs"
        names = {h[0] for h in reference["headers"]} ^ {h[0] for h in ours["headers"]}
        if names:
            return f"HTTP header(s) {sorted(names)} only on one side"
        changed = sorted(
            {h[0] for h in reference["headers"]}
            - {h[0] for h in ours["headers"] if h in reference["headers"]}
        )
        return f"HTTP header value(s) {changed} differ"
    return None


def summary(value: Json) -> str:
    """The gist of an observed value, for grouping (types, not data)."""
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "mro" in value:  # an exception
        hint = value.get("hint")
        return str(value["type"]) + (f"(hint {hint['type']})" if hint else "")
    if isinstance(value, list) and all(isinstance(v, dict) and "type" in v for v in value):
        return "[" + ", ".join(v["type"] for v in value) + "]"
    if isinstance(value, list) and all(isinstance(v, dict) and "opcode" in v for v in value):
        return "frames[" + ", ".join(str(v["opcode"]) for v in value) + "]"
    if isinstance(value, dict) and ("status" in value or "request" in value):
        return f"http {value.get('status') or value.get('request')}"
    return type(value).__name__


def describe(step: Json) -> str:
    """What a step does, in a few words."""
    if step["op"] == "send":
        return f"send {step['event']['type']}"
    return str(step["op"])


def comparable(aspect: str, value: Json) -> Json:
    """The part of an observation that must match: an exception's message text need not."""
    if aspect == "exception" and value is not None:
        return {"type": value["type"], "hint": value["hint"]}
    return value


def differences(scenario: Json, reference: Json, ours: Json) -> list[Difference]:
    """Every observable difference, step by step, until the two states part.

    Once the states differ, all that follows can differ for that one reason, so
    the comparison stops there; before that, a step can differ (an event field,
    an exception, the wire) while both go on alike.
    """
    if "crash" in reference or "crash" in ours:
        if reference == ours:
            return []
        return [Difference(-1, "crash", "-", "run", reference.get("crash"), ours.get("crash"))]
    found: list[Difference] = []
    before = "CONNECTING"
    steps = zip(scenario["steps"], reference["steps"], ours["steps"], strict=True)
    for index, (step, ref, our) in enumerate(steps):
        found.extend(
            Difference(index, aspect, before, describe(step), ref.get(aspect), our.get(aspect))
            for aspect in ASPECTS
            if comparable(aspect, ref.get(aspect)) != comparable(aspect, our.get(aspect))
        )
        if ref["state"] != our["state"]:
            break
        before = ref["state"]
    return found


def truncated(scenario: Json, difference: Difference) -> Json:
    """The scenario cut after the step that differs (what follows it cannot matter)."""
    if difference.step < 0:
        return scenario
    return {**scenario, "steps": scenario["steps"][: difference.step + 1]}
