"""Fixtures for the tests of ``handlers.py``.

anyio's pytest plugin runs each ``@pytest.mark.anyio`` test once per value of
the ``anyio_backend`` fixture. Name both backends here rather than rely on the
plugin's default.
"""

from __future__ import annotations

import pytest


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    backend: str = request.param
    return backend
