"""Differential test: the same generated scenarios on wsproto 1.3.2 and on ours.

``python -m compat [--scenarios N] [--seed S] [--quick] [--ours SRC]`` runs
scenarios 0..N-1 of seed S through compat/runner.py twice, in two processes:
the reference (this interpreter, which must import wsproto 1.3.2) and ours
(this interpreter with SRC first on sys.path). It prints how many scenarios
ran, the differences by kind with the smallest example of each, and fails on
any difference the allow-list (compat/allowlist.py) does not name.

Replay one scenario: ``--seed S --index I``, or ``--replay FILE`` (a JSON
scenario, as written to the failures folder). ``nox -s compat`` runs this in a
virtual environment holding wsproto 1.3.2.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

from compat.allowlist import allowed
from compat.compare import Difference, differences, truncated
from compat.generate import scenario

ROOT = Path(__file__).resolve().parent.parent
RUNNER = Path(__file__).resolve().parent / "runner.py"
REFERENCE_VERSION = "1.3.2"
QUICK_SEED, QUICK_SCENARIOS = 1, 200
FULL_SEED, FULL_SCENARIOS = 2026, 2000

Json = Any


class Runner:
    """One implementation's runner process: scenarios in, observations out."""

    def __init__(self, path: Path | None) -> None:
        cmd = [sys.executable, str(RUNNER)] + (["--path", str(path)] if path else [])
        self.process = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.stdin: IO[str] = self.process.stdin  # type: ignore[assignment]
        self.stdout: IO[str] = self.process.stdout  # type: ignore[assignment]
        self.hello: dict[str, str] = json.loads(self.stdout.readline())

    def run(self, scenario: Json) -> Json:
        """Observe one scenario."""
        self.stdin.write(json.dumps(scenario) + "\n")
        self.stdin.flush()
        line = self.stdout.readline()
        if not line:
            raise SystemExit(f"runner {self.hello} died")
        return json.loads(line)

    def close(self) -> None:
        """End the process."""
        self.stdin.close()
        self.process.wait(timeout=30)


def shrink(sc: Json, diff: Difference, reference: Runner, ours: Runner) -> tuple[Json, Difference]:
    """A smaller scenario that shows the same kind of difference: fewer steps, no chunking.

    Greedy: drop each step in turn, then each receive's chunking, keeping every
    change after which the same kind of unexplained difference remains.
    """

    def same_kind(candidate: Json) -> Difference | None:
        for found in differences(candidate, reference.run(candidate), ours.run(candidate)):
            if found.kind == diff.kind and allowed(candidate, found) is None:
                return found
        return None

    index = 0
    while index < diff.step:
        steps = sc["steps"][:index] + sc["steps"][index + 1 :]
        candidate = {**sc, "steps": steps}
        found = same_kind(candidate)
        if found is None:
            index += 1
        else:
            sc, diff = truncated(candidate, found), found
    for index, step in enumerate(sc["steps"]):
        if step.get("chunks"):
            steps = [*sc["steps"][:index], {**step, "chunks": []}, *sc["steps"][index + 1 :]]
            candidate = {**sc, "steps": steps}
            found = same_kind(candidate)
            if found is not None:
                sc, diff = truncated(candidate, found), found
    return sc, diff


def scenarios(args: argparse.Namespace) -> list[Json]:
    """The scenarios this run asks for."""
    if args.replay:
        return [json.loads(Path(args.replay).read_text())]
    if args.index is not None:
        return [scenario(args.seed, args.index)]
    return [scenario(args.seed, i) for i in range(args.scenarios)]


def main(argv: list[str] | None = None) -> int:
    """Run, compare, summarise; exit 1 on a difference the allow-list does not name."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", type=int, default=None)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument(
        "--quick", action="store_true", help=f"seed {QUICK_SEED}, {QUICK_SCENARIOS} scenarios"
    )
    parser.add_argument("--index", type=int, help="replay scenario INDEX of the seed alone")
    parser.add_argument("--replay", help="replay the scenario in this JSON file")
    parser.add_argument("--ours", type=Path, default=ROOT / "src", help="source tree of ours")
    parser.add_argument("--failures", type=Path, default=ROOT / ".nox" / "_compat-failures")
    parser.add_argument("--show", action="store_true", help="print both observations in full")
    parser.add_argument("--no-shrink", action="store_true", help="do not shrink the examples")
    args = parser.parse_args(argv)
    if args.seed is None:
        args.seed = QUICK_SEED if args.quick else FULL_SEED
    if args.scenarios is None:
        args.scenarios = QUICK_SCENARIOS if args.quick else FULL_SCENARIOS

    started = time.monotonic()
    reference, ours = Runner(None), Runner(args.ours.resolve())
    if reference.hello["version"] != REFERENCE_VERSION:
        raise SystemExit(f"the reference must be wsproto {REFERENCE_VERSION}: {reference.hello}")
    if not ours.hello["file"].startswith(str(args.ours.resolve())):
        raise SystemExit(f"ours was not imported from {args.ours}: {ours.hello}")
    print(f"reference: wsproto {reference.hello['version']} ({reference.hello['file']})")
    print(f"ours:      wsproto {ours.hello['version']} ({ours.hello['file']})")

    by_kind: dict[str, list[tuple[Json, Difference]]] = defaultdict(list)
    allowed_by: dict[str, int] = defaultdict(int)
    count = failing = 0
    for sc in scenarios(args):
        count += 1
        ref_obs, our_obs = reference.run(sc), ours.run(sc)
        if args.show:
            for step, r, o in zip(
                sc["steps"], ref_obs.get("steps", []), our_obs.get("steps", []), strict=False
            ):
                print("STEP", json.dumps(step)[:300])
                print("  1.3.2:", json.dumps(r)[:1500])
                print("  ours: ", json.dumps(o)[:1500])
        unexplained = False
        for diff in differences(sc, ref_obs, our_obs):
            entry = allowed(sc, diff)
            if entry is not None:
                allowed_by[entry.name] += 1
                if entry.ends_comparison:
                    break
            else:
                by_kind[diff.kind].append((truncated(sc, diff), diff))
                unexplained = True
        failing += unexplained
    elapsed = time.monotonic() - started
    print(
        f"\n{count} scenarios (seed {args.seed}) in {elapsed:.1f} s: {failing} with a difference "
        f"outside the allow-list; {sum(len(v) for v in by_kind.values())} such differences "
        f"of {len(by_kind)} kinds; {sum(allowed_by.values())} allowed differences"
    )
    for name, n in sorted(allowed_by.items()):
        print(f"  allowed {name}: {n}")
    if by_kind:
        args.failures.mkdir(parents=True, exist_ok=True)
    for number, (kind, cases) in enumerate(sorted(by_kind.items(), key=lambda kv: -len(kv[1]))):
        sc, diff = min(cases, key=lambda c: len(json.dumps(c[0])))
        if not args.no_shrink:
            sc, diff = shrink(sc, diff, reference, ours)
        path = args.failures / f"kind-{number:03d}.json"
        path.write_text(json.dumps(sc, indent=1) + "\n")
        print(f"\n[{len(cases)}x] {kind}")
        print(f"  step {diff.step} of {path} (from --seed {sc['seed']} --index {sc['index']})")
        print(f"  step:  {json.dumps(sc['steps'][diff.step])[:300] if diff.step >= 0 else '-'}")
        print(f"  1.3.2: {json.dumps(diff.reference)[:400]}")
        print(f"  ours:  {json.dumps(diff.ours)[:400]}")
    reference.close()
    ours.close()
    return 1 if by_kind else 0


if __name__ == "__main__":
    sys.exit(main())
