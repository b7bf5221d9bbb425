"""The fuzz targets run over their checked-in seed corpora (fuzz/corpus), without atheris.

Each target asserts the invariants of :mod:`tests.invariants`; this keeps the
targets and their seeds working in every test run, and replays any input a
fuzzer found that was added to a corpus as a regression case.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzz.make_corpus import seeds
from fuzz.run import NAMES
from fuzz.targets import TARGETS

CORPUS = Path(__file__).resolve().parent.parent / "fuzz" / "corpus"


def test_every_target_has_a_corpus() -> None:
    assert set(TARGETS) == set(NAMES)
    for name in NAMES:
        assert len(list((CORPUS / name).iterdir())) >= 5, name


def test_the_corpus_is_what_the_script_makes() -> None:
    """fuzz/make_corpus.py wrote the checked-in seeds (re-run it after changing it)."""
    for target, inputs in seeds().items():
        on_disk = {path.read_bytes() for path in (CORPUS / target).iterdir()}
        assert set(inputs.values()) <= on_disk, target


@pytest.mark.parametrize("target", NAMES)
def test_seed_corpus(target: str) -> None:
    function = TARGETS[target]
    for path in sorted((CORPUS / target).iterdir()):
        function(path.read_bytes())
