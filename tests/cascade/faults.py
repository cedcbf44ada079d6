"""Faults a test switches on for plugin steps: ``"setup c"``, ``"export b"``, ``"teardown b"``.

Plugin files call `check` at the start of each step; a test adds the step to `FAULTS` to make
the next run of that step raise, once: the run after it (the old version coming back in a roll
back) succeeds. An autouse fixture clears `FAULTS` around every test.
"""

from __future__ import annotations

__all__ = ["FAULTS", "StepFault", "check", "reset"]

#: The steps whose next run fails, as ``"<step> <plugin>"``.
FAULTS: set[str] = set()


class StepFault(RuntimeError):
    """Raised by a plugin step that a test made fail."""


def check(step: str) -> None:
    """Raise `StepFault` if ``step`` is switched on, and switch it off (plugins call this)."""
    if step in FAULTS:
        FAULTS.discard(step)
        raise StepFault(f"{step} fails on purpose")


def reset() -> None:
    """Switch every fault off."""
    FAULTS.clear()
