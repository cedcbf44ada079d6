"""The streams of the ``hotbus`` command, and what it does when one of them fails.

- stdout (`Output`): a reader that went away (``hotbus run ... | head -1``) ends the output
  quietly: no traceback, no error per line; the command then stops (exit status 141).
- the ``--events-jsonl`` file (`EventsFile`): a write that fails (a full disk) is said once,
  writing there stops, the run goes on, and the command ends with status 1.
- stdin (`start_reader`): a closed or unreadable stdin is the end of the input, said once; on a
  terminal, lines are read with the line editing of the stdlib ``readline`` where it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from typing import IO, Any, final

from hotbus.runtime._console.exits import EVENTS_LOST

__all__ = [
    "EventsFile",
    "Output",
    "Terminal",
    "silence",
    "start_reader",
]

Report = Callable[[str], None]


def silence(stream: IO[str]) -> None:
    """Point ``stream``'s file descriptor at /dev/null (when it has one).

    What is still buffered for a closed pipe is then flushed into nothing at exit, instead of
    failing once more with a traceback.
    """
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):  # a StringIO, or already closed
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


@final
class Output:
    """Lines to stdout. When its reader goes away, output ends quietly and `closed` is set."""

    __slots__ = ("_on_closed", "_stream", "closed")

    def __init__(self, stream: IO[str], on_closed: Callable[[], None]) -> None:
        self._stream = stream
        self._on_closed = on_closed
        #: Whether the reader went away (nothing more is written).
        self.closed = False

    def line(self, text: str) -> None:
        """Write ``text`` and a newline, flushed; nothing once the reader went away."""
        if self.closed:
            return
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except BrokenPipeError:
            self.closed = True
            silence(self._stream)
            self._on_closed()


@final
class EventsFile:
    """The ``--events-jsonl`` file. The first write that fails is reported (file, error, and
    that no more events are written there) and ends writing there; `failed` says why."""

    __slots__ = ("_path", "_report", "_stream", "failed")

    def __init__(self, path: str, stream: IO[str], report: Report) -> None:
        self._path = path
        self._stream = stream
        self._report = report
        #: The error that ended writing, once one did.
        self.failed: str | None = None

    def line(self, text: str) -> None:
        """Write ``text`` and a newline, flushed."""
        if self.failed is not None:
            return
        try:
            self._stream.write(text + "\n")
            self._stream.flush()
        except OSError as error:
            self._fail(error)

    def close(self) -> None:
        """Close the file (what it still buffers failing to be written is reported as well)."""
        if self.failed is not None:
            return
        try:
            self._stream.close()
        except OSError as error:
            self._fail(error)

    def _fail(self, error: OSError) -> None:
        self.failed = error.strerror or str(error)
        with contextlib.suppress(OSError):
            self._stream.close()  # the buffer is dropped: the file is closed even if this fails
        self._report(
            f"hotbus: cannot write events to '{self._path}': {self.failed}; no more events are "
            f"written there (the run goes on, and exits with status {EVENTS_LOST})"
        )


@final
class Terminal:
    """Line editing on a terminal: the stdlib ``readline`` (imported only here, only then),
    and the terminal's modes as they were, put back by `restore` however the run ends."""

    __slots__ = ("_fd", "_saved")

    def __init__(self, fd: int) -> None:
        import termios

        self._fd = fd
        self._saved: list[Any] | None = None
        with contextlib.suppress(termios.error, OSError):
            self._saved = termios.tcgetattr(fd)

    @staticmethod
    def usable(source: IO[str], out: IO[str]) -> bool:
        """Whether ``input()`` edits lines here: the process's own stdin and stdout, terminals
        both (``input()`` uses readline only then), and a ``readline`` module exists."""
        try:
            own = source is sys.stdin and out is sys.stdout
            return own and source.isatty() and out.isatty() and _has_readline()
        except (AttributeError, ValueError):
            return False

    def lines(self) -> Iterator[str]:
        """The lines typed, each edited with readline, until Ctrl+D."""
        import readline  # noqa: F401  (imported for its effect: input() edits lines with it)

        while True:
            try:
                yield input() + "\n"
            except EOFError:
                return

    def restore(self) -> None:
        """Put the terminal's modes back as they were before reading began."""
        if self._saved is None:
            return
        import termios

        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self._fd, termios.TCSANOW, self._saved)


def _has_readline() -> bool:
    import importlib.util

    return importlib.util.find_spec("readline") is not None


def start_reader(
    source: IO[str] | None,
    loop: asyncio.AbstractEventLoop,
    ended: Callable[[], None],
    report: Report,
    terminal: Terminal | None = None,
) -> asyncio.Queue[str | None]:
    """Read lines on a daemon thread (a blocked read never holds up exit); None at the end.

    ``ended`` is called on the reader's thread at the end of the input, even while the loop
    is held up. A closed stdin (``source`` None) or one that cannot be read ends the input
    too, and ``report`` says so in one line. With a ``terminal``, lines are read through it.
    """
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        try:
            if source is None:
                report("hotbus: stdin is closed: no chat input, stopping as at its end")
            else:
                for line in terminal.lines() if terminal is not None else source:
                    loop.call_soon_threadsafe(queue.put_nowait, line)
        except RuntimeError:  # the loop already closed
            return
        except (OSError, ValueError) as error:
            reason = error.strerror if isinstance(error, OSError) and error.strerror else error
            report(f"hotbus: cannot read stdin ({reason}): stopping as at the end of the input")
        with contextlib.suppress(RuntimeError):  # the loop already closed
            ended()  # first: the loop may act on the end as soon as it is queued
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=read, name="hotbus-stdin", daemon=True).start()
    return queue
