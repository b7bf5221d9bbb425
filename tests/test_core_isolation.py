"""The core is I/O-free: it imports only the standard library and h11, never I/O or async.

DESIGN.md's layer rule: the core never imports anyio, never reads a clock and
never does I/O. Two checks enforce it: importing the core in a fresh
interpreter leaves the I/O and concurrency modules unloaded, and the core's
source imports nothing outside the standard library and h11, nor any module
that does I/O or tells the time.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import wsproto

# Every module the manual documents, plus the package itself.
CORE_MODULES = [
    "wsproto",
    "wsproto.connection",
    "wsproto.events",
    "wsproto.extensions",
    "wsproto.frame_protocol",
    "wsproto.handshake",
    "wsproto.typing",
    "wsproto.utilities",
]

# Modules whose presence after importing the core means the core (or
# something it imports) brought in I/O, an event loop, or threads. ``time`` is
# not on the list: the interpreter loads it at start-up, before any user code,
# so its presence proves nothing. The source check below covers it instead.
MUST_STAY_UNLOADED = [
    "anyio",
    "trio",
    "asyncio",
    "socket",
    "ssl",
    "selectors",
    "select",
    "threading",
    "subprocess",
]

# What the core's source may not import, even lazily inside a function (a
# package name forbids its submodules too). ``http`` itself is fine: its
# ``HTTPStatus`` enum is plain data; its client and server do I/O.
FORBIDDEN_IMPORTS = [
    *MUST_STAY_UNLOADED,
    "time",
    "datetime",
    "http.client",
    "http.server",
    "urllib.request",
    "sniffio",
]


def forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN_IMPORTS)


def loaded_after_import(modules: list[str]) -> dict[str, list[str]]:
    """In a fresh interpreter: which watched modules are loaded before and after the imports."""
    code = (
        "import json, sys\n"
        f"watched = {MUST_STAY_UNLOADED!r}\n"
        "before = [m for m in watched if m in sys.modules]\n"
        + "".join(f"import {module}\n" for module in modules)
        + "after = [m for m in watched if m in sys.modules]\n"
        "print(json.dumps({'before': before, 'after': after}))\n"
    )
    # Without coverage measurement, which the test run extends to subprocesses
    # (pyproject.toml): it starts before any user code and loads threading.
    env = {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=env,
    )
    loaded: dict[str, list[str]] = json.loads(result.stdout)
    return loaded


def test_importing_the_core_loads_no_io_or_async_module() -> None:
    loaded = loaded_after_import(CORE_MODULES)
    assert loaded["before"] == []  # the check below would be meaningless otherwise
    assert loaded["after"] == []


def test_the_check_sees_a_module_that_does_io() -> None:
    # The same probe notices a module that brings in sockets and threads.
    loaded = loaded_after_import(["wsproto", "socketserver"])
    assert {"socket", "selectors", "threading"} <= set(loaded["after"])


def core_sources() -> list[Path]:
    """The core's modules: the package's own files, not its subpackages (the anyio layer)."""
    package = Path(wsproto.__file__).parent
    return sorted(package.glob("*.py"))


def imported_modules(source: Path) -> set[str]:
    """The full names of every absolute module ``source`` imports (from-imports: the module)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


def test_core_source_imports_only_the_stdlib_and_h11() -> None:
    sources = core_sources()
    assert Path(wsproto.__file__) in sources
    for source in sources:
        imported = imported_modules(source)
        top_level = {name.split(".")[0] for name in imported}
        outside = top_level - set(sys.stdlib_module_names) - {"h11", "wsproto"}
        assert not outside, f"{source.name} imports {sorted(outside)}"
        bad = sorted(name for name in imported if forbidden(name))
        assert not bad, f"{source.name} imports {bad}"


def test_import_scan_finds_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os.path\nfrom time import monotonic\nfrom . import sibling\n"
        "def f():\n    import anyio.abc\n",
        encoding="utf-8",
    )
    assert imported_modules(sample) == {"os.path", "time", "anyio.abc"}
    assert [name for name in sorted(imported_modules(sample)) if forbidden(name)] == [
        "anyio.abc",
        "time",
    ]
    assert not forbidden("http")
    assert not forbidden("timeit")
