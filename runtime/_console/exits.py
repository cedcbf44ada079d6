"""The exit statuses of the ``hotbus`` command, and its usage error."""

from __future__ import annotations

from typing import Final

__all__ = ["EVENTS_LOST", "PIPE_CLOSED", "USAGE", "UsageError"]

#: Exit status of a usage error: bad arguments, a missing directory or file, invalid settings.
USAGE: Final = 2
#: Exit status when stdout was closed by its reader: that of a process ended by SIGPIPE, as
#: ``cat`` or ``grep`` are (128 + 13), so that ``set -o pipefail`` still sees it.
PIPE_CLOSED: Final = 141
#: Exit status of ``hotbus run`` when events could not be written to the ``--events-jsonl`` file.
EVENTS_LOST: Final = 1


class UsageError(Exception):
    """Raised for a problem with the command line: printed as ``hotbus: error: ...``, exit 2."""
