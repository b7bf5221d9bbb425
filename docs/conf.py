"""Sphinx configuration for the wsproto documentation.

Build with ``python3 -m nox -s docs``. The build needs no network: there is
no intersphinx, so references to the standard library are listed in
``nitpick_ignore_regex`` below instead of being linked.
"""

from __future__ import annotations

import wsproto

project = "wsproto"
author = "wsproto contributors"
copyright = "wsproto contributors"
release = wsproto.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build"]
html_theme = "furo"
html_title = f"wsproto {release}"

# Every cross-reference must resolve; the build runs with -W -n.
nitpicky = True
nitpick_ignore_regex = [
    # Built-in and standard-library types named in signatures (no intersphinx).
    (r"py:(class|obj|data|exc)", r"(bytes|bytearray|memoryview|str|int|bool|float|object|type)"),
    (r"py:(class|obj|data|exc)", r"(list|tuple|dict|set|frozenset|None|Ellipsis|Exception)"),
    (r"py:(class|obj|data|exc)", r"(collections\.abc|typing|enum|dataclasses|h11)\..*"),
    (r"py:(class|obj|data)", r"(Iterator|Iterable|Sequence|Generator|Callable|Any|NamedTuple)"),
    (r"py:(class|obj|data)", r"(Mapping|Awaitable)"),
    # Type variables of generic events.
    (r"py:(class|obj)", r"(wsproto\.events\.)?T"),
    # wsproto.anyio: the standard library and anyio (no intersphinx), and the
    # layer's private type aliases, which are explained where they are used.
    (r"py:(class|obj|exc)", r"(ssl|contextlib|anyio)\..*"),
    (r"py:(class|obj)", r"(TaskSpawner|Compression|DeflateOptions|Handler|TypeAliasForwardRef)"),
    (r"py:(class|obj)", r"wsproto\.anyio\._compat\.(Trio(Stream|Listener)Like|TaskSpawner)"),
]

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# Show the alias, linked to its entry, rather than its expansion.
autodoc_type_aliases = {
    "Headers": "wsproto.typing.Headers",
    "Compression": "Compression",
    "Handler": "Handler",
}
autodoc_default_options = {"members": True, "show-inheritance": True}

napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

myst_heading_anchors = 3
