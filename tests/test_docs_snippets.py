"""Every Python code block in the docs runs, on both backends.

The pages' blocks either come from examples/ (``literalinclude``, run by
test_examples.py) or are written inline as ``.. code-block:: python``; those
define ``main()``. An ``async def main()`` runs here on asyncio and on trio
(on trio only if the block imports trio, on asyncio only if it uses
websockets' asyncio API); a plain ``def main()`` (the core's blocks) runs
once. Console blocks that run an example must name a file of
examples/ and options it accepts (test_examples.py runs the examples).
"""

from __future__ import annotations

import inspect
import re
import shlex
import subprocess
import sys
import textwrap
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest

import wsproto.anyio

DOCS = Path(__file__).resolve().parent.parent / "docs"
BLOCK = re.compile(r"^\.\. code-block:: python\n\n((?:(?:   .*)?\n)+)", re.M)


def snippets() -> list[tuple[str, str]]:
    found = []
    for page in sorted(DOCS.glob("*.rst")):
        for n, match in enumerate(BLOCK.finditer(page.read_text(encoding="utf-8")), 1):
            found.append((f"{page.stem}-{n}", textwrap.dedent(match.group(1))))
    return found


def backends(code: str) -> list[str]:
    """The backends a block runs on: trio only if it imports trio itself, asyncio for websockets."""
    if re.search(r"^import trio$", code, re.M):
        return ["trio"]
    if re.search(r"^from websockets\.asyncio\b", code, re.M):
        return ["asyncio"]  # a migration guide's "before"
    if "async def main(" not in code:
        return ["none"]  # a blocking main(), run once
    return ["asyncio", "trio"]


SNIPPETS = snippets()
MIGRATION = [code for _, code in SNIPPETS if "trio_websocket" in code]
RUNNABLE = [
    pytest.param(name, code, backend, id=f"{name}-{backend}")
    for name, code in SNIPPETS
    if "trio_websocket" not in code
    for backend in backends(code)
]


def test_the_guide_has_snippets() -> None:
    assert len(RUNNABLE) >= 7
    assert len(MIGRATION) == 1


@pytest.mark.parametrize(("name", "code", "backend"), RUNNABLE)
def test_snippet_runs(name: str, code: str, backend: str) -> None:
    namespace: dict[str, Any] = {"__name__": f"snippet_{name.replace('-', '_')}"}
    exec(compile(code, f"<docs {name}>", "exec"), namespace)
    if backend == "none":
        assert not inspect.iscoroutinefunction(namespace["main"])
        namespace["main"]()
        return
    main: Callable[[], Awaitable[None]] = namespace["main"]

    async def bounded() -> None:
        with anyio.fail_after(20):
            await main()

    anyio.run(bounded, backend=backend)


def test_migration_imports_the_same_names() -> None:
    (code,) = MIGRATION
    imports = [line for line in code.splitlines() if line.startswith("from ")]
    old, new = (set(re.split(r",\s*", line.split(" import ", 1)[1])) for line in imports)
    assert imports[0].startswith("from trio_websocket ")
    assert imports[1].startswith("from wsproto.anyio ")
    assert old == new
    assert new <= set(wsproto.anyio.__all__)


# Console blocks: the commands that run an example name a real one, with options it has.

CONSOLE = re.compile(r"^\.\. code-block:: console\n\n((?:(?:   .*)?\n)+)", re.M)
EXAMPLES = DOCS.parent / "examples"


def example_commands() -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for page in sorted(DOCS.glob("*.rst")):
        for match in CONSOLE.finditer(page.read_text(encoding="utf-8")):
            found.extend(
                (page.stem, line[2:])
                for line in textwrap.dedent(match.group(1)).splitlines()
                if line.startswith("$ ") and re.search(r"\bpython\S* \S+\.py\b", line)
            )
    return found


EXAMPLE_COMMANDS = example_commands()


def test_the_guides_run_examples() -> None:
    assert len(EXAMPLE_COMMANDS) >= 8


@pytest.mark.parametrize(("page", "command"), EXAMPLE_COMMANDS)
def test_console_command_runs_a_real_example(page: str, command: str) -> None:
    words = shlex.split(command)
    script = next(word for word in words if word.endswith(".py"))
    path = EXAMPLES / Path(script).name
    assert path.is_file(), f"{page}: {script} is not in examples/"
    options = [word.split("=")[0] for word in words if word.startswith("--")]
    if options:
        usage = subprocess.run(
            [sys.executable, str(path), "--help"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
        assert [option for option in options if option not in usage] == [], (page, command)
