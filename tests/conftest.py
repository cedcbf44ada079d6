"""Shared fixtures."""

from __future__ import annotations

import pytest

from bus import Bus


@pytest.fixture
def bus() -> Bus:
    """A strict-free bus, as the runtime uses it."""
    return Bus()


@pytest.fixture
def strict_bus() -> Bus:
    """A bus that re-raises handler exceptions."""
    return Bus(strict=True)
