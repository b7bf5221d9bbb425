"""Run the fuzz targets under atheris (coverage-guided, libFuzzer's engine).

From the repository root (``python3 -m nox -s fuzz`` does this in a virtual
environment with atheris)::

    python -m fuzz.run --seconds 60                 # every target, 60 s each
    python -m fuzz.run --seconds 300 receive_server # one target
    python -m fuzz.run --replay                     # the corpora once, no fuzzing
    python -m fuzz.run --replay --coverage          # ... measuring the core's coverage

Each target runs in its own process for the given time, starting from its
seed corpus (fuzz/corpus/TARGET, read only); inputs that reach new code go to
.fuzz-work/corpus/TARGET, so a later run goes on from there. A failing input
is saved as .fuzz-work/crash-TARGET-* and the run fails. ``--results FILE``
writes the figures (executions, coverage, time) as a Markdown table.

Coverage, two ways: libFuzzer's ``cov`` and ``ft`` count the instrumented
branches and features the inputs reached (in wsproto, h11 and the invariant
checks); ``--replay --coverage`` replays the corpora under coverage.py and
reports the branch coverage of the core (wsproto without wsproto.anyio).
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
WORK = ROOT / ".fuzz-work"

#: The targets of fuzz/targets.py, in the order a full run takes them.
NAMES = (
    "receive_server",
    "receive_client",
    "receive_server_deflate",
    "receive_client_deflate",
    "handshake_server",
    "handshake_client",
    "extensions",
)

# libFuzzer's last status line: "#1234 DONE cov: 567 ft: 890 corp: 12/3456b ... exec/s: 789"
_STATUS = re.compile(
    r"#(\d+)\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)"
)


def worker(target: str, libfuzzer_args: list[str]) -> None:
    """Fuzz one target in this process (atheris takes over and exits)."""
    import atheris

    # Nothing has imported the core yet in this process: instrument it as it loads.
    with atheris.instrument_imports(include=["wsproto", "h11", "tests.invariants"]):
        function = _targets()[target]
    atheris.Setup([sys.argv[0], *libfuzzer_args], function)
    atheris.Fuzz()


def fuzz(target: str, seconds: int, extra: list[str]) -> dict[str, int | float | str]:
    """Fuzz ``target`` for ``seconds`` in a subprocess; return its figures."""
    corpus = WORK / "corpus" / target
    corpus.mkdir(parents=True, exist_ok=True)
    args = [
        str(corpus),
        str(CORPUS / target),
        f"-max_total_time={seconds}",
        f"-artifact_prefix={WORK}/crash-{target}-",
        "-timeout=10",  # one input taking 10 s is a hang
        "-rss_limit_mb=2048",
        "-max_len=65536",
        "-print_final_stats=1",
        *extra,
    ]
    command = [sys.executable, "-m", "fuzz.run", "--worker", target, *args]
    started = time.monotonic()
    process = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.monotonic() - started
    log = WORK / f"{target}.log"
    log.write_text(process.stdout + process.stderr)
    figures: dict[str, int | float | str] = {"target": target, "seconds": round(elapsed, 1)}
    for line in process.stderr.splitlines():
        match = _STATUS.search(line)
        if match:
            figures["executions"] = int(match.group(1))
            figures["cov"] = int(match.group(2))
            figures["ft"] = int(match.group(3))
            figures["corpus"] = int(match.group(4))
        if line.startswith("stat::number_of_executed_units:"):
            figures["executions"] = int(line.split(":")[-1])
        done = re.match(r"Done (\d+) runs in (\d+) second", line)
        if done:
            figures["fuzz_seconds"] = int(done.group(2))
    figures["result"] = "ok" if process.returncode == 0 else f"FAILED ({log})"
    if process.returncode != 0:
        sys.stderr.write(process.stderr[-4000:])
    return figures


def _targets() -> dict[str, Callable[[bytes], None]]:
    # Imported late, so that a worker can instrument the core before it loads.
    from .targets import TARGETS

    return TARGETS


def replay(target: str) -> int:
    """Run every input of a target's corpora once, without atheris; return how many."""
    function = _targets()[target]
    count = 0
    for folder in (CORPUS / target, WORK / "corpus" / target):
        if folder.is_dir():
            for path in sorted(folder.iterdir()):
                try:
                    data = path.read_bytes()
                except FileNotFoundError:
                    continue  # a fuzzer running meanwhile replaced it
                function(data)
                count += 1
    return count


def _coverage(data_file: Path) -> Any:
    """A coverage.py measurement of the core's branches (wsproto without wsproto.anyio)."""
    import coverage

    return coverage.Coverage(
        data_file=str(data_file), branch=True, source=["wsproto"], omit=["*/wsproto/anyio/*"]
    )


def coverage_worker(target: str) -> None:
    """Replay one target under coverage.py in this fresh process; save the data."""
    folder = WORK / "coverage"
    folder.mkdir(parents=True, exist_ok=True)
    cov = _coverage(folder / f".coverage.{target}")
    # Started before anything imports the core, so that its module-level lines count.
    cov.start()
    count = replay(target)
    cov.stop()
    cov.save()
    percent = cov.report(file=io.StringIO())
    print(f"{count} {percent:.1f}")


def replay_coverage(chosen: list[str]) -> int:
    """Replay each target's corpora under coverage.py; print the core's branch coverage."""
    lines = ["| target | inputs | core branch coverage |", "|---|---:|---:|"]
    files = []
    for target in chosen:
        command = [sys.executable, "-m", "fuzz.run", "--coverage-worker", target]
        out = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
        count, percent = out.stdout.split()[-2:]
        lines.append(f"| {target} | {count} | {percent} % |")
        files.append(str(WORK / "coverage" / f".coverage.{target}"))
    total = _coverage(WORK / "coverage" / ".coverage")
    total.combine(files, keep=True)
    report = io.StringIO()
    percent = total.report(file=report, show_missing=True)
    lines.append(f"| all targets | | {percent:.1f} % |")
    print(report.getvalue())
    print("\n".join(lines))
    return 0


def table(rows: list[dict[str, int | float | str]]) -> str:
    lines = [
        "| target | fuzzing (s) | wall (s) | executions | exec/s | cov | ft | corpus | result |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        executions = int(row.get("executions", 0))
        seconds = int(row.get("fuzz_seconds", 0))
        rate = round(executions / seconds) if seconds else 0
        lines.append(
            f"| {row['target']} | {seconds} | {row['seconds']} | {executions:,} | {rate:,} | "
            f"{row.get('cov', '?')} | {row.get('ft', '?')} | {row.get('corpus', '?')} | "
            f"{row['result']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--coverage-worker"]:
        coverage_worker(argv[1])
        return 0
    if argv[:1] == ["--worker"]:
        # fuzz.run --worker TARGET LIBFUZZER_ARGS...: one target, under atheris.
        worker(argv[1], argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("targets", nargs="*", metavar="TARGET", help=", ".join(NAMES))
    parser.add_argument("--seconds", type=int, default=60, help="time per target (default 60)")
    parser.add_argument("--replay", action="store_true", help="run the corpora once, no fuzzing")
    parser.add_argument(
        "--coverage", action="store_true", help="with --replay: the core's branch coverage"
    )
    parser.add_argument("--results", type=Path, help="write the figures to this Markdown file")
    parser.add_argument(
        "--libfuzzer", action="append", default=[], help="pass an option to libFuzzer"
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.targets if name not in NAMES]
    if unknown:
        parser.error(f"unknown target {', '.join(unknown)}; choose from {', '.join(NAMES)}")
    chosen = args.targets or list(NAMES)
    if args.replay:
        if args.coverage:
            return replay_coverage(chosen)
        for target in chosen:
            print(f"{target}: {replay(target)} inputs replayed")
        return 0
    WORK.mkdir(exist_ok=True)
    rows = []
    for target in chosen:
        print(f"fuzzing {target} for {args.seconds} s ...", flush=True)
        rows.append(fuzz(target, args.seconds, args.libfuzzer))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    report = table(rows)
    print(report)
    if args.results:
        args.results.write_text(report + "\n")
    return 0 if all(row["result"] == "ok" for row in rows) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
