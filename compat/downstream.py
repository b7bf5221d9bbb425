"""Run real consumers' own test suites on wsproto 1.3.2, then on ours.

For each consumer this makes a virtual environment with pinned versions, takes
the consumer's test files from its PyPI sdist, runs them with wsproto 1.3.2
installed, installs our wheel in its place and runs them again. It reports, per
consumer, how many tests passed, failed and were skipped on each, and every test
that passed on 1.3.2 but not on ours (with the first line of its failure).

A few consumer tests race against their own timing, on 1.3.2 as on ours, under
CPU load (each consumer's ``racy`` list says which and why; the evidence is in
docs/compatibility.md). Such a test that fails is run again, alone, up to
``RERUNS`` times, on either wsproto; the report names every rerun. No other
test is rerun: a failure anywhere else counts as it is.

Everything comes from PyPI, so this runs on a machine with only Python and pip.
``nox -s downstream`` calls it; ``nox -s downstream -- uvicorn`` runs one
consumer. Exit status 1 when any test passes on 1.3.2 and not on ours.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REFERENCE = "wsproto==1.3.2"
ROOT = Path(__file__).resolve().parent.parent

# How long one consumer's suite may run, per wsproto, before it counts as hung.
SUITE_TIMEOUT = 900
# Per test (pytest-timeout): a test that hangs on one implementation (a client
# waiting for a handshake answer that never comes) fails instead of stopping the run.
TEST_TIMEOUT = 60
# How many times a failed test of a consumer's ``racy`` list is run again.
RERUNS = 2


@dataclass(frozen=True)
class Consumer:
    """One consumer: its sdist, what its tests need, and which tests to run."""

    name: str
    sdist: str
    requirements: tuple[str, ...]
    tests: tuple[str, ...]
    pytest_args: tuple[str, ...] = ()
    # Node ids (parameters left off) of tests that race against their own
    # timing on either wsproto; a failure of one is rerun (module docstring).
    racy: tuple[str, ...] = ()


# Versions resolved on 2026-12-01 and pinned so that results can be reproduced.
# The test requirements come from each project's dev dependency group (their
# sdists ship the tests but not always a test-requirements file).
_PYTEST = ("pytest==9.2.0", "pytest-timeout==2.4.0")
CONSUMERS: dict[str, Consumer] = {
    c.name: c
    for c in (
        Consumer(
            name="uvicorn",
            sdist="uvicorn==0.54.0",
            requirements=(
                "uvicorn==0.54.0",
                "httptools==0.9.0",
                "websockets==17.4",
                "httpx2==2.16.2",
                "pytest-mock==3.17.0",
                "trustme==1.2.1",
                "cryptography==50.0.2",
                "a2wsgi==1.10.10",
                "anyio==4.16.0",
                "h11==0.16.0",
            ),
            # The wsproto implementation only (the file also runs websockets' one).
            tests=("tests/protocols/test_websocket.py",),
            pytest_args=("-k", "wsproto"),
        ),
        Consumer(
            name="hypercorn",
            sdist="hypercorn==0.18.0",
            requirements=(
                "hypercorn==0.18.0",
                "h11==0.16.0",
                # h2 4.4 refuses the extended CONNECT of hypercorn's HTTP/2 WebSocket
                # sanity tests (both wsprotos fail them); hypercorn 0.18.0 needs >= 4.3.
                "h2==4.3.0",
                "httpx==0.28.1",
                "hypothesis==6.170.17",
                "mock==5.2.0",
                "pytest-asyncio==1.5.0",
                "pytest-trio==0.8.0",
                "trio==0.35.0",
            ),
            tests=(
                "tests/protocol/test_ws_stream.py",
                "tests/asyncio/test_sanity.py",
                "tests/trio/test_sanity.py",
            ),
        ),
        Consumer(
            name="trio-websocket",
            sdist="trio-websocket==0.12.2",
            requirements=(
                "trio-websocket==0.12.2",
                "trio==0.35.0",
                "pytest-trio==0.8.0",
                "trustme==1.2.1",
                "attrs==26.1.0",
                "h11==0.16.0",
            ),
            tests=("tests/test_connection.py",),
            # The project's pytest.ini (not in the sdist) sets trio_mode.
            pytest_args=("-o", "trio_mode=true"),
        ),
        Consumer(
            name="httpx-ws",
            sdist="httpx-ws==0.9.0",
            requirements=(
                "httpx-ws==0.9.0",
                "httpx==0.28.1",
                "httpcore==1.0.9",
                "anyio==4.16.0",
                "starlette==1.10.0",
                "uvicorn[standard]==0.54.0",
                "websockets==17.4",
                "trio==0.35.0",
                "h11==0.16.0",
            ),
            tests=("tests",),
            # Each failed, the same way, on 1.3.2 as on ours in runs under CPU
            # load; compat/httpx_ws_races.py shows why, and docs/compatibility.md
            # has the counts and the commands.
            racy=(
                # A 0.1 s keepalive interval, checked after a 0.2 s sleep: under
                # load the ping (or its answer) comes after the check.
                "tests/test_api.py::TestKeepalivePing::test_keepalive_ping",
                # The server fixture tells uvicorn to exit once the client has
                # written its last frame; when uvicorn's shutdown (at its next
                # 0.1 s tick) comes before the server has read that frame, the
                # app gets a 1012 disconnect instead.
                "tests/test_api.py::TestSend::test_send",
                "tests/test_api.py::TestSend::test_send_text",
                "tests/test_api.py::TestSend::test_send_bytes",
                "tests/test_api.py::TestSend::test_send_json",
                "tests/test_api.py::test_send_close",
            ),
        ),
    )
}


@dataclass
class Outcome:
    """One test's result: passed, failed, error or skipped, and why."""

    result: str
    message: str = ""


def run(cmd: list[str], *, cwd: Path | None = None, timeout: float = 600) -> int:
    """Run a command, echoing it; return its exit status (never raise on failure)."""
    print("$", " ".join(cmd), flush=True)
    try:
        return subprocess.run(cmd, cwd=cwd, timeout=timeout, check=False).returncode
    except subprocess.TimeoutExpired:
        print(f"timed out after {timeout} s", flush=True)
        return -1


def check(cmd: list[str], *, cwd: Path | None = None, timeout: float = 900) -> None:
    """Run a command that must succeed."""
    if run(cmd, cwd=cwd, timeout=timeout) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}")


def build_wheel(project: Path, out: Path) -> Path:
    """Build our wheel from a copy of ``project`` (the build must not write into it)."""
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "project"
        copy.mkdir()
        for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
            if (project / name).exists():
                shutil.copy2(project / name, copy / name)
        shutil.copytree(
            project / "src",
            copy / "src",
            ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.egg-info"),
        )
        if out.exists():
            shutil.rmtree(out)
        check([sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(copy)])
    (wheel,) = out.glob("wsproto-*.whl")
    return wheel


def fetch_tests(consumer: Consumer, into: Path) -> Path:
    """Unpack the consumer's sdist from PyPI; return the folder that holds its tests."""
    stamp = into / "sdist.txt"
    if stamp.exists() and stamp.read_text() == consumer.sdist:
        (tree,) = (p for p in into.iterdir() if p.is_dir() and p.name != "download")
        return tree
    if into.exists():
        shutil.rmtree(into)
    download = into / "download"
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
    check([*pip, "-d", str(download), consumer.sdist])
    (archive,) = download.glob("*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    (tree,) = (p for p in into.iterdir() if p.is_dir() and p.name != "download")
    missing = [t for t in consumer.tests if not (tree / t).exists()]
    if missing:
        raise SystemExit(f"{consumer.sdist}: the sdist lacks {missing}")
    stamp.write_text(consumer.sdist)
    return tree


def make_venv(consumer: Consumer, venv: Path) -> Path:
    """Create (or reuse, when its pins are unchanged) the consumer's environment."""
    python = venv / "bin" / "python"
    pins = "\n".join((*consumer.requirements, *_PYTEST, REFERENCE))
    stamp = venv / "pins.txt"
    if not (python.exists() and stamp.exists() and stamp.read_text() == pins):
        if venv.exists():
            shutil.rmtree(venv)
        # virtualenv comes with nox; the standard venv module lacks pip on some
        # distributions' Pythons (Debian's without python3-venv).
        maker = "virtualenv" if importlib.util.find_spec("virtualenv") else "venv"
        check([sys.executable, "-m", maker, str(venv)])
        check([str(python), "-m", "pip", "install", "-q", *pins.split("\n")])
        stamp.write_text(pins)
    return python


def read_junit(path: Path) -> dict[str, Outcome]:
    """Each test's outcome from a pytest JUnit XML report."""
    outcomes: dict[str, Outcome] = {}
    if not path.exists():
        return outcomes
    for case in ET.parse(path).getroot().iter("testcase"):
        test_id = f"{case.get('classname', '')}::{case.get('name', '')}"
        outcome = Outcome("passed")
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                text = (node.get("message") or node.text or "").strip()
                first = text.splitlines()[0] if text else ""
                outcome = Outcome("failed" if tag == "failure" else tag, first[:200])
                break
        # A test can report twice (a call failure, then a teardown error): keep the worst.
        if test_id not in outcomes or outcomes[test_id].result == "passed":
            outcomes[test_id] = outcome
    return outcomes


def run_suite(
    consumer: Consumer,
    python: Path,
    tree: Path,
    report: Path,
    *,
    timeout: float,
    tests: tuple[str, ...] | None = None,
) -> dict[str, Outcome]:
    """Run the consumer's tests (or ``tests``) with whatever wsproto the environment holds."""
    if report.exists():
        report.unlink()
    if not _has_pytest_config(tree):
        # Else pytest looks upwards and takes this checkout's own settings
        # (filterwarnings = error, asyncio options the consumer does not know).
        (tree / "pytest.ini").write_text("[pytest]\n")
    cmd = [str(python), "-m", "pytest", *(tests or consumer.tests), *consumer.pytest_args]
    # Their own addopts name plugins we need not install (xdist, cov); drop them.
    cmd += ["-o", "addopts=", "-p", "no:cacheprovider", "-q", "-rN"]
    cmd += [f"--timeout={TEST_TIMEOUT}", f"--junitxml={report}"]
    run(cmd, cwd=tree, timeout=timeout)
    return read_junit(report)


def rerun_racy(
    consumer: Consumer,
    python: Path,
    tree: Path,
    report: Path,
    outcomes: dict[str, Outcome],
    *,
    timeout: float,
) -> dict[str, str]:
    """Run the failed tests of ``consumer.racy`` again, alone; update ``outcomes``.

    Returns, for each test rerun, what happened (its first failure, and how
    the reruns went).
    """
    racy = {_junit_id(node): node for node in consumer.racy}
    notes: dict[str, str] = {}
    for attempt in range(1, RERUNS + 1):
        again: dict[str, str] = {}
        for test_id, outcome in outcomes.items():
            base, bracket, params = test_id.partition("[")
            if outcome.result in ("failed", "error") and base in racy:
                again[test_id] = racy[base] + bracket + params
                notes.setdefault(test_id, f"{outcome.result} ({outcome.message})")
        if not again:
            break
        print(f"rerun {attempt} of {RERUNS} (racy tests):", ", ".join(again), flush=True)
        rerun = run_suite(
            consumer, python, tree, report, timeout=timeout, tests=tuple(again.values())
        )
        for test_id in again:
            outcome = rerun.get(test_id, Outcome("error", "did not run in the rerun"))
            outcomes[test_id] = outcome
            notes[test_id] += f"; rerun {attempt}: {outcome.result}"
    return notes


def _junit_id(node: str) -> str:
    """A pytest node id (``path.py::Class::test``) as ``read_junit`` names the test."""
    path, *rest = node.split("::")
    *classes, name = rest
    return "::".join((".".join((path.removesuffix(".py").replace("/", "."), *classes)), name))


def _has_pytest_config(tree: Path) -> bool:
    """Whether the consumer's tree configures pytest itself (pytest's own search order)."""
    sections = {
        "pytest.ini": "",
        ".pytest.ini": "",
        "pyproject.toml": "[tool.pytest",
        "tox.ini": "[pytest]",
        "setup.cfg": "[tool:pytest]",
    }
    for name, section in sections.items():
        path = tree / name
        if path.exists() and section in path.read_text(encoding="utf-8", errors="replace"):
            return True
    return False


def installed_wsproto(python: Path) -> str:
    """The wsproto version the environment imports, and from where."""
    probe = "import wsproto; print(wsproto.__version__, wsproto.__file__)"
    result = subprocess.run(
        [str(python), "-c", probe], capture_output=True, text=True, timeout=60, check=False
    )
    return result.stdout.strip() or result.stderr.strip()


def counts(outcomes: dict[str, Outcome]) -> dict[str, int]:
    """passed / failed / error / skipped counts."""
    totals = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for outcome in outcomes.values():
        totals[outcome.result] += 1
    return totals


def main(argv: list[str] | None = None) -> int:
    """Run the chosen consumers' suites on 1.3.2 then on ours; print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "consumers", nargs="*", help=f"any of {', '.join(CONSUMERS)} (default: all)"
    )
    parser.add_argument("--ours", type=Path, default=ROOT, help="project to build our wheel from")
    parser.add_argument("--wheel", type=Path, help="use this wheel instead of building one")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".nox" / "_downstream")
    parser.add_argument("--timeout", type=float, default=SUITE_TIMEOUT)
    args = parser.parse_args(argv)
    unknown = set(args.consumers) - set(CONSUMERS)
    if unknown:
        parser.error(f"unknown consumer(s) {sorted(unknown)}; choose from {list(CONSUMERS)}")
    chosen = [CONSUMERS[name] for name in (args.consumers or CONSUMERS)]
    workdir: Path = args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    wheel = args.wheel or build_wheel(args.ours.resolve(), workdir / "wheel")

    summary: dict[str, object] = {"date": datetime.date.today().isoformat(), "wheel": wheel.name}
    regressions_total = 0
    for consumer in chosen:
        print(f"\n===== {consumer.name} ({consumer.sdist})", flush=True)
        base = workdir / consumer.name
        tree = fetch_tests(consumer, base / "sdist")
        python = make_venv(consumer, base / "venv")
        check([str(python), "-m", "pip", "install", "-q", REFERENCE])
        print("wsproto:", installed_wsproto(python), flush=True)
        ref = run_suite(consumer, python, tree, base / "ref.xml", timeout=args.timeout)
        rerun_ref = rerun_racy(
            consumer, python, tree, base / "ref-rerun.xml", ref, timeout=args.timeout
        )
        check([str(python), "-m", "pip", "install", "-q", str(wheel)])
        print("wsproto:", installed_wsproto(python), flush=True)
        ours = run_suite(consumer, python, tree, base / "ours.xml", timeout=args.timeout)
        rerun_ours = rerun_racy(
            consumer, python, tree, base / "ours-rerun.xml", ours, timeout=args.timeout
        )
        regressions = {
            test: ours.get(test, Outcome("missing", "did not run (the suite hung or crashed?)"))
            for test, outcome in sorted(ref.items())
            if outcome.result == "passed" and ours.get(test, Outcome("missing")).result != "passed"
        }
        regressions_total += len(regressions)
        summary[consumer.name] = {
            "sdist": consumer.sdist,
            "reference": counts(ref),
            "ours": counts(ours),
            "regressions": {t: f"{o.result}: {o.message}" for t, o in regressions.items()},
            "reruns": {"reference": rerun_ref, "ours": rerun_ours},
        }

    print("\n===== summary")
    print(f"{'consumer':16} {'wsproto 1.3.2 (pass/fail/err/skip)':36} ours (pass/fail/err/skip)")
    for consumer in chosen:
        entry = summary[consumer.name]
        assert isinstance(entry, dict)
        line = "/".join(str(n) for n in entry["reference"].values())
        line_ours = "/".join(str(n) for n in entry["ours"].values())
        print(f"{consumer.name:16} {line:36} {line_ours}")
    for consumer in chosen:
        entry = summary[consumer.name]
        assert isinstance(entry, dict)
        for side, reruns in entry["reruns"].items():
            for test, how in reruns.items():
                print(f"RERUN {consumer.name} ({side}): {test}: {how}")
        for test, why in entry["regressions"].items():
            print(f"REGRESSION {consumer.name}: {test}: {why}")
    (workdir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(f"{regressions_total} test(s) pass on 1.3.2 but not on ours; details in", workdir)
    return 1 if regressions_total else 0


if __name__ == "__main__":
    sys.exit(main())
