"""Fixtures of the cascade tests; ``plugin_dir`` and ``hotbus`` come from hotbus's pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cascade import faults


@pytest.fixture(autouse=True)
def _no_faults() -> Iterator[None]:
    """Every test starts with no step failing and leaves none failing."""
    faults.reset()
    yield
    faults.reset()
