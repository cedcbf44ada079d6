"""What runs is what is on disk, after every random edit: the `OnDisk` state machine in CI.

The machine (``tests/reload/stateful.py``, whose docstring states what it expects) edits a
real plugin directory under a real runtime and watcher, and checks the invariant after every
step. Two bounded runs: one with a fixed seed (the same steps every time), one with a random
seed (hypothesis prints it, and the steps, when it fails).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, Phase, seed, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.reload.stateful import OnDisk, machine

BOUNDED = settings(
    max_examples=3,
    stateful_step_count=12,
    deadline=None,
    database=None,
    phases=(Phase.generate, Phase.shrink),
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.timeout(120)
def test_what_runs_is_what_is_on_disk_fixed_seed() -> None:
    run_state_machine_as_test(seed(20240611)(machine()), settings=BOUNDED)


@pytest.mark.timeout(120)
def test_what_runs_is_what_is_on_disk_random_seed() -> None:
    run_state_machine_as_test(machine(), settings=BOUNDED)


def test_the_machine_class_is_exported() -> None:
    assert issubclass(machine(), OnDisk)
