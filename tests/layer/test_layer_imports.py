"""The layer's modules import one another one way only, and only its transport names asyncio.

docs/architecture.md draws the graph; this test holds the code to it, the way
tests/test_core_isolation.py holds the core to its rules. Each module of
``wsproto.anyio`` sits in a tier and may import layer modules of lower tiers
only; only ``_transport`` may import asyncio (the layer never imports trio:
trio objects are adapted by duck typing in ``_compat``); and the layer uses
the core through its public modules and names only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import wsproto.anyio

LAYER = Path(wsproto.anyio.__file__).parent

#: Lower tiers first. A module may import the layer modules of the tiers before its own.
TIERS: list[set[str]] = [
    {"_limits", "_errors", "_sync", "_malloc", "_compat", "_transport_protocol", "_log"},
    {"_fastpath", "_handshake", "_inbox", "_pings", "_rawsocket", "_transport"},
    {"_engine"},
    {"_writer"},
    {"_closing"},
    {"_opening", "_reader", "_keepalive"},
    {"_connection"},
    {"_settings"},
    {"_dialing", "_listening", "_request"},
    {"_client", "_server"},
    {"testing"},
    {"__init__"},
    # Tools built on the public names only (``from . import ...``): the
    # blocking API (wsproto.sync) and the command line (python -m wsproto).
    {"_blocking", "_cli_io"},
    {"_blocking_client", "_blocking_server", "_cli_client", "_cli_server"},
    {"_cli"},
]
#: The only modules that may import an event loop library directly.
MAY_IMPORT_ASYNCIO = {"_transport", "_transport_protocol"}
PUBLIC_CORE = {
    "wsproto",
    "wsproto.connection",
    "wsproto.events",
    "wsproto.extensions",
    "wsproto.frame_protocol",
    "wsproto.handshake",
    "wsproto.typing",
    "wsproto.utilities",
}


def _tier(module: str) -> int:
    for index, tier in enumerate(TIERS):
        if module in tier:
            return index
    raise AssertionError(f"wsproto/anyio/{module}.py is in no tier: add it to TIERS and the docs")


def _imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import in the file (inside functions too): (absolute module, names)."""
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names]
            if node.level:
                base = "wsproto.anyio" if node.level == 1 else "wsproto"
                module = f"{base}.{node.module}" if node.module else base
                if not node.module:
                    # ``from . import x``: the module x, or a name of the package's __init__.
                    for name in names:
                        is_module = node.level > 1 or (LAYER / f"{name}.py").exists()
                        found.append((f"{base}.{name}" if is_module else f"{base}.__init__", []))
                    continue
            else:
                module = node.module or ""
            found.append((module, names))
    return found


def test_every_module_is_in_a_tier() -> None:
    modules = {path.stem for path in LAYER.glob("*.py")}
    assert modules == set().union(*TIERS)


def test_imports_go_one_way() -> None:
    wrong: list[str] = []
    for path in sorted(LAYER.glob("*.py")):
        tier = _tier(path.stem)
        for module, _ in _imports(path):
            if module.startswith("wsproto.anyio."):
                target = module.removeprefix("wsproto.anyio.").split(".")[0]
                if _tier(target) >= tier:
                    wrong.append(f"{path.stem} imports {target}")
    assert wrong == []


def test_only_the_transport_imports_an_event_loop_library() -> None:
    wrong = [
        f"{path.stem} imports {module}"
        for path in sorted(LAYER.glob("*.py"))
        for module, _ in _imports(path)
        if module.split(".")[0] == "trio"
        or (module.split(".")[0] == "asyncio" and path.stem not in MAY_IMPORT_ASYNCIO)
    ]
    assert wrong == []


def test_the_core_is_used_through_its_public_api() -> None:
    wrong: list[str] = []
    for path in sorted(LAYER.glob("*.py")):
        for module, names in _imports(path):
            if module.startswith("wsproto.anyio") or not module.startswith("wsproto"):
                continue
            if module not in PUBLIC_CORE:
                wrong.append(f"{path.stem} imports {module}")
            wrong.extend(f"{path.stem} imports {module}.{n}" for n in names if n.startswith("_"))
    assert wrong == []


def test_the_rules_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom . import _client\nfrom wsproto._frames import x\n")
    assert _imports(bad) == [
        ("asyncio", []),
        ("wsproto.anyio._client", []),
        ("wsproto._frames", ["x"]),
    ]
