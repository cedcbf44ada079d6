"""Fixtures of the CLI tests: ``hotbus`` processes that are always ended and closed."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.cli.console import Console

#: The ``console`` fixture: starts ``python -m hotbus *args`` in ``cwd``.
StartConsole = Callable[..., Console]


@pytest.fixture
def console(tmp_path: Path) -> Iterator[StartConsole]:
    """Start ``hotbus`` processes (in ``tmp_path`` unless ``cwd`` is given); each is killed if
    still running, and its pipes closed, when the test ends."""
    started: list[Console] = []

    def start(*args: str, cwd: Path = tmp_path) -> Console:
        process = Console(*args, cwd=cwd)
        started.append(process)
        return process

    yield start
    for process in started:
        process.close()


@pytest.fixture(autouse=True, scope="module")
def _no_saved_state() -> Iterator[None]:
    """``hotbus`` run in-process saves no state unless a test asks for it (``--state-db``), as
    `console.environment` does for processes (module-scoped: before the modules' own fixtures
    that run ``hotbus``)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOTBUS_PERSIST_STATE", "false")
        yield
