"""What runs is what is on disk, after every random edit: the `OnDisk` state machine in CI.

The machine (``tests/reload/stateful.py``, whose docstring states what it expects) edits a
real plugin directory under a real runtime and watcher, and checks the invariant after every
step. Two bounded runs: one with a fixed seed (the same steps every time), one with a random
seed (hypothesis prints the failing steps and how to reproduce them). They do not shrink, to
stay within CI's time: ``python bench/soak.py`` runs the machine at length and shrinks what it
finds to minimal steps.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.reload.stateful import CATEGORIES, OnDisk, machine

BOUNDED = settings(
    max_examples=5,
    stateful_step_count=20,
    deadline=None,
    database=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.timeout(90)
def test_what_runs_is_what_is_on_disk_fixed_seed() -> None:
    run_state_machine_as_test(seed(20240611)(machine()), settings=BOUNDED)


@pytest.mark.timeout(90)
def test_what_runs_is_what_is_on_disk_random_seed() -> None:
    run_state_machine_as_test(machine(), settings=BOUNDED)


def test_the_machine_drives_a_real_runtime_step_after_step() -> None:
    """Ignoring every violation, the machine itself (saving, settling, checking) works."""
    before = OnDisk.steps
    quiet = settings(BOUNDED, max_examples=1, stateful_step_count=10)
    run_state_machine_as_test(seed(7)(machine(ignored=CATEGORIES)), settings=quiet)
    assert OnDisk.steps > before
