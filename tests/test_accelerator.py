"""The optional C accelerator and the pure-Python fallback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from wsproto import _mask


def _accelerated(env: dict[str, str]) -> str:
    code = "import wsproto._mask as m; print(m.ACCELERATED)"
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_environment_variable_forces_pure_python() -> None:
    env = {**os.environ, "WSPROTO_NO_EXTENSIONS": "1"}
    assert _accelerated(env) == "False"


def test_accelerator_matches_pure_python() -> None:
    if not _mask.ACCELERATED:
        pytest.skip("the C accelerator is not built in this environment")
    key = b"\x9a\x01\xff\x10"
    for n in (0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 1000, 65537):
        data = bytes((i * 7) & 0xFF for i in range(n))
        assert _mask.mask(data, key) == _mask.py_mask(data, key)


def test_accelerator_rejects_bad_key() -> None:
    if not _mask.ACCELERATED:
        pytest.skip("the C accelerator is not built in this environment")
    with pytest.raises(ValueError, match="4 bytes"):
        _mask.mask(b"abc", b"12")
