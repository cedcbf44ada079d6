"""Shared fixtures."""

from __future__ import annotations

import pytest
from hotbus import Bus

# hotbus's own pytest plugin (the pytest11 entry point "hotbus" is disabled in pyproject.toml
# so that it is imported here, after coverage has started).
pytest_plugins = ("hotbus.testing",)


@pytest.fixture
def bus() -> Bus:
    """A strict-free bus, as the runtime uses it."""
    return Bus()


@pytest.fixture
def strict_bus() -> Bus:
    """A bus that re-raises handler exceptions."""
    return Bus(strict=True)
