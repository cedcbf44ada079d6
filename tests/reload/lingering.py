"""What the leak-check tests' plugins wait on: old versions that linger, then let go.

A plugin version started by these tests keeps itself alive in a task, a thread or a handler
until `RELEASE` is set; the autouse fixture of those tests sets it at the end.
"""

from __future__ import annotations

import threading

__all__ = ["RELEASE", "reset"]

#: Set: every lingering task, thread and handler ends.
RELEASE = threading.Event()


def reset() -> None:
    """Let nothing go yet (the start of a test)."""
    RELEASE.clear()
