"""Every Python code block in the docs runs, on both backends.

The guide's blocks either come from examples/ (``literalinclude``, run by
test_examples.py) or are written inline as ``.. code-block:: python``; those
define ``async def main()``, which runs here on asyncio and on trio.
"""

from __future__ import annotations

import re
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


SNIPPETS = snippets()
MIGRATION = [code for _, code in SNIPPETS if "trio_websocket" in code]
RUNNABLE = [(name, code) for name, code in SNIPPETS if "trio_websocket" not in code]


def test_the_guide_has_snippets() -> None:
    assert len(RUNNABLE) >= 7
    assert len(MIGRATION) == 1


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@pytest.mark.parametrize(("name", "code"), RUNNABLE, ids=[name for name, _ in RUNNABLE])
def test_snippet_runs(name: str, code: str, backend: str) -> None:
    namespace: dict[str, Any] = {"__name__": f"snippet_{name.replace('-', '_')}"}
    exec(compile(code, f"<docs {name}>", "exec"), namespace)
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
