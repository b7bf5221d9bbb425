"""Every layer test runs on both anyio backends: asyncio (debug mode) and trio.

The backend matrix is pinned here rather than left to the plugin's default,
which has changed between releases and silently drops trio when it is missing.
"""

from __future__ import annotations

import pytest


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {"debug": True}), id="asyncio"),
        pytest.param(("trio", {}), id="trio"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    backend: tuple[str, dict[str, object]] = request.param
    return backend
