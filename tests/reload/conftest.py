"""Fixtures of the reload tests; ``plugin_dir`` and ``hotbus`` come from hotbus's pytest plugin."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reload import events


@pytest.fixture(autouse=True)
def _fresh_events() -> Iterator[None]:
    """Every test starts with empty shared lists and no fault, and leaves none behind."""
    events.reset()
    yield
    events.reset()
