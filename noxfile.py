"""The single entry point for checks: developers and CI run the same sessions.

``python3 -m nox`` runs the default sessions (tests, lint, typecheck);
``python3 -m nox -s docs`` builds the documentation. Every session makes its
own virtual environment with the Python that runs nox, so nothing but Python
and pip is needed beforehand. ``python3 -m nox -s autobahn`` runs the whole
Autobahn|Testsuite (``autobahn_quick``: a subset, for CI); these two also need
the suite's tools (``$AUTOBAHN_TOOLS``, by default the shared tools beside the
checkout). ``python3 -m nox -s bench`` runs the benchmarks against pinned peers
(not part of CI) and ``bench_report`` renders docs/performance.md from them.
``python3 -m nox -s compat`` compares ours with wsproto 1.3.2 over generated
scenarios (``-- --quick`` for a short fixed-seed run), and ``python3 -m nox -s
downstream`` runs uvicorn's, hypercorn's, trio-websocket's and httpx-ws's own
tests on 1.3.2 and then on our wheel (``-- uvicorn`` picks one); see
docs/compatibility.md.
``python3 -m nox -s fuzz -- --seconds N [TARGET ...]`` fuzzes the core with
atheris, each target (all by default) for N seconds (fuzz/run.py; figures in
fuzz/RESULTS.md); it is skipped when atheris cannot install.
``python3 -m nox -s load`` runs the load, soak and flood runs of docs/security.md
(about 20 minutes, loopback only, not part of CI; ``-- --soak-seconds N``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nox
from nox.command import CommandFailed

nox.options.sessions = ["tests", "lint", "typecheck"]
nox.options.reuse_existing_virtualenvs = True

# Branch coverage (statements and branches, as coverage.py counts them) the
# test suite must keep. Measured on 2026-11-25: core 99 %, layer 95 %.
# Branch-coverage gates, the core's and the anyio layer's. Each sits a little
# below the measurement, so that moving code around (or a property test drawing
# different cases) does not fail CI; raise them whenever coverage grows.
CORE_COVERAGE_FAIL_UNDER = 97
LAYER_COVERAGE_FAIL_UNDER = 93

PYPROJECT = nox.project.load_toml("pyproject.toml")


def extra(name: str) -> list[str]:
    """The requirements of one of the project's optional-dependency groups."""
    requirements: list[str] = PYPROJECT["project"]["optional-dependencies"][name]
    return requirements


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite; gate the branch coverage of the core and of the layer."""
    session.install("-e", ".[test]")
    session.run("pytest", "--cov=wsproto", "--cov-branch", "--cov-report=", *session.posargs)
    report = ["coverage", "report", "--show-missing", "--skip-covered"]
    session.log("Branch coverage of the core (wsproto):")
    session.run(*report, "--omit=*/wsproto/anyio/*", f"--fail-under={CORE_COVERAGE_FAIL_UNDER}")
    session.log("Branch coverage of the layer (wsproto.anyio):")
    session.run(*report, "--include=*/wsproto/anyio/*", f"--fail-under={LAYER_COVERAGE_FAIL_UNDER}")


@nox.session
def tests_pure(session: nox.Session) -> None:
    """Run the test suite on the pure-Python path (the C accelerator switched off)."""
    session.install("-e", ".[test]")
    session.run("pytest", "-q", *session.posargs, env={"WSPROTO_NO_EXTENSIONS": "1"})


@nox.session
def lint(session: nox.Session) -> None:
    """Check code style and formatting with ruff."""
    session.install(*extra("lint"))
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """Type-check the package, the tests, the examples and this file with mypy --strict."""
    session.install("-e", ".[typecheck]", "nox")
    session.run(
        "mypy",
        "--strict",
        *["src", "tests", "examples", "compliance", "compat", "fuzz", "noxfile.py"],
    )


@nox.session
def fuzz(session: nox.Session) -> None:
    """Fuzz the core with atheris: ``-- --seconds N [TARGET ...]`` (every target by default).

    Targets and seed corpora are in fuzz/; new inputs go to .fuzz-work/. A
    crash fails the session and leaves its input in .fuzz-work/crash-*. Skipped
    when atheris cannot be installed (no wheel for this platform and no clang).
    """
    try:
        session.install("-e", ".[fuzz]")
    except CommandFailed:
        session.skip("atheris cannot be installed here; nothing to fuzz with")
    session.run("python", "-m", "fuzz.run", *session.posargs)


# Autobahn|Testsuite tools (fuzz-server.sh, fuzz-client.sh; see their README):
# $AUTOBAHN_TOOLS, or the shared tools beside the project's checkout.
AUTOBAHN_TOOLS = os.environ.get(
    "AUTOBAHN_TOOLS", str(Path(__file__).resolve().parent.parent / "shared" / "tools" / "autobahn")
)
# Representative cases of every group, for CI: framing, pings, reserved bits
# and opcodes, fragmentation, UTF-8 (valid, invalid, and failing fast), closing,
# the limits cases up to 16 MiB messages and 65536 frames, and the first case
# of each permessage-deflate group. About 15 s a testee and role.
AUTOBAHN_QUICK_CASES = (
    "1.*,2.*,3.*,4.*,5.*,6.*,7.*,9.1.*,9.2.*,9.3.1,9.4.1,9.7.1,9.8.1,10.*,"
    "12.1.1,12.2.1,12.3.1,12.4.1,12.5.1,13.1.1,13.2.1,13.3.1,13.4.1,13.5.1,13.6.1,13.7.1"
)


@nox.session
def autobahn(session: nox.Session) -> None:
    """Run the whole Autobahn|Testsuite for every testee and role (about an hour).

    Writes compliance/reports/summary.md; fails on any verdict but OK (and the
    INFORMATIONAL cases the suite has no strict verdict for). Extra arguments
    go to compliance/autobahn.py (e.g. ``-- --testee core --role server``).
    """
    session.install("-e", ".", "trio>=0.26")
    session.run("python", "compliance/autobahn.py", "--tools", AUTOBAHN_TOOLS, *session.posargs)


@nox.session
def autobahn_quick(session: nox.Session) -> None:
    """Run representative Autobahn cases (AUTOBAHN_QUICK_CASES) on the core and the anyio layer.

    Both roles, the anyio layer on asyncio; reports in compliance/reports/quick.
    """
    session.install("-e", ".")
    session.run(
        "python",
        "compliance/autobahn.py",
        "--tools",
        AUTOBAHN_TOOLS,
        "--cases",
        AUTOBAHN_QUICK_CASES,
        "--testee",
        "core",
        "--testee",
        "anyio-asyncio",
        "--out",
        "compliance/reports/quick",
        *session.posargs,
    )


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML documentation; any warning (a broken reference too) fails it."""
    session.install("-e", ".[docs]")
    session.run(
        "sphinx-build", "-W", "-n", "--keep-going", "-b", "html", "docs", "docs/_build/html"
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark the core and the layer against their peers (about ten minutes).

    Each contender gets its own virtual environment in ``.bench-venvs/`` (or
    ``$BENCH_VENVS``); results go to bench/results/DATE/results.json and
    results.md. ``-- --quick`` is a short smoke run (in bench/results/tmp-*).
    """
    session.run("python", "-m", "bench", *session.posargs)


@nox.session
def bench_report(session: nox.Session) -> None:
    """Render docs/performance.md and its chart from a bench run (``-- bench/results/DATE``)."""
    session.install("matplotlib")
    runs = sorted(Path("bench/results").glob("20*/results.json"))
    if not session.posargs and not runs:
        session.error("no results: run `nox -s bench` first, or pass a results folder")
    target = session.posargs or [str(runs[-1].parent)]
    session.run("python", "-m", "bench.report", *target, "--docs")


@nox.session(venv_backend="none")
def downstream(session: nox.Session) -> None:
    """Run consumers' own test suites on wsproto 1.3.2, then on our wheel in its place.

    uvicorn, hypercorn, trio-websocket and httpx-ws, each in its own virtual
    environment with pinned versions (compat/downstream.py makes them under
    .nox/_downstream). ``-- uvicorn`` picks consumers; ``-- --ours PATH`` builds
    the wheel from another checkout. Fails when a test passes on 1.3.2 only.
    """
    session.run(sys.executable, "-m", "compat.downstream", *session.posargs, external=True)


@nox.session
def compat(session: nox.Session) -> None:
    """Differential test: generated scenarios on wsproto 1.3.2 and on ours, compared.

    This session's environment holds wsproto 1.3.2; ours is imported from
    ``src`` (or ``-- --ours PATH``). ``-- --quick`` is the short fixed-seed run
    for CI; the default is the full run (2000 scenarios, seed 2026); see
    ``python -m compat --help`` for ``--scenarios``, ``--seed``, ``--index`` and
    ``--replay``. Fails on a difference that compat/allowlist.py does not name.
    """
    session.install("wsproto==1.3.2", "h11==0.16.0")
    session.run("python", "-m", "compat", *session.posargs)


@nox.session
def load(session: nox.Session) -> None:
    """Load the anyio server: 1,000 connections, a churning soak, floods (about 20 minutes).

    On each backend, with the server in a process of its own: ``--soak-seconds``
    (300) of churn, the soak curve drawn to docs/_static/soak.png, results in
    load/results/DATE/. Extra arguments go to ``python -m load`` (``-- --help``).
    """
    session.install("-e", ".", "trio>=0.26", "matplotlib")
    session.run("python", "-m", "load", *session.posargs)
