"""Running ``hotbus`` for the CLI tests: in-process through `cli`, or as a real process.

A process is read by one thread per pipe that puts each line in a queue, so a test waits for a
line with a deadline and never blocks on a pipe.
"""

from __future__ import annotations

import contextlib
import io
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, final

from hotbus.runtime._console.cli import cli

from tests.plugins.chat import PLUGINS, copy_plugins

__all__ = [
    "PLUGINS",
    "ROOT",
    "Console",
    "Lines",
    "Result",
    "command",
    "copy_plugins",
    "environment",
    "hotbus",
    "run_hotbus",
]

#: The project root.
ROOT = Path(__file__).resolve().parents[2]
#: The longest a test waits for one line of output, or for a process to end.
DEADLINE = 20.0


@dataclass(frozen=True, slots=True)
class Result:
    """What a ``hotbus`` command did: its exit status and what it wrote."""

    code: int
    out: str
    err: str

    @property
    def out_lines(self) -> list[str]:
        return self.out.splitlines()

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


def hotbus(*args: str, input: str = "", stderr: io.StringIO | None = None) -> Result:
    """Run ``hotbus *args`` in-process with ``input`` as stdin (``stderr``: a StringIO to use)."""
    out, err = io.StringIO(), stderr if stderr is not None else io.StringIO()
    code = cli(*args, stdin=io.StringIO(input), stdout=out, stderr=err)
    return Result(code, out.getvalue(), err.getvalue())


def environment() -> dict[str, str]:
    """The environment ``hotbus`` processes run in: no ``HOTBUS_*`` variable but one, UTF-8
    pipes. State is not saved unless a test asks for it (``--state-db``): runs on the bundled
    examples would otherwise keep their state in the source tree, from one test to the next."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTBUS_")}
    env["HOTBUS_PERSIST_STATE"] = "false"
    env["PYTHONIOENCODING"] = "utf-8"
    env.pop("NO_COLOR", None)
    return env


def command(args: tuple[str, ...]) -> list[str]:
    """The command line of ``python -m hotbus *args``."""
    return [sys.executable, "-m", "hotbus", *args]


def run_hotbus(*args: str, input: str = "", cwd: Path = ROOT) -> Result:
    """Run ``python -m hotbus *args`` as a process with ``input`` as stdin, until it ends."""
    done = subprocess.run(
        command(args),
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        env=environment(),
        timeout=DEADLINE,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@final
class Lines:
    """The lines of one pipe, read on a thread; `expect` waits for one with a deadline."""

    __slots__ = ("_queue", "_thread", "ended", "seen")

    def __init__(self, stream: IO[str], name: str) -> None:
        self._queue: queue.Queue[str | None] = queue.Queue()
        #: Every line taken from the pipe so far, in order.
        self.seen: list[str] = []
        self.ended = False
        self._thread = threading.Thread(
            target=self._read, args=(stream,), name=f"hotbus-test-{name}", daemon=True
        )
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        try:
            for line in stream:
                self._queue.put(line.rstrip("\n"))
        except (OSError, ValueError):
            pass
        finally:
            self._queue.put(None)

    def _take(self, timeout: float) -> bool:
        """Move one line from the queue to `seen`; False at the end of the pipe."""
        line = self._queue.get(timeout=timeout)
        if line is None:
            self.ended = True
            return False
        self.seen.append(line)
        return True

    def expect(self, match: str | Callable[[str], bool], timeout: float = DEADLINE) -> str:
        """The next line containing ``match`` (or satisfying it), waiting up to ``timeout`` s."""
        wanted = match if callable(match) else (lambda line: match in line)
        start = len(self.seen)
        deadline = time.monotonic() + timeout
        while not self.ended:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                if not self._take(remaining):
                    break
            except queue.Empty:
                break
            if wanted(self.seen[-1]):
                return self.seen[-1]
        got = "\n".join(self.seen[start:]) or "(nothing)"
        raise AssertionError(f"no line matching {match!r} within {timeout:g} s; got:\n{got}")

    def rest(self, timeout: float = DEADLINE) -> list[str]:
        """Every line until the pipe ends (after the process ended); all of `seen`."""
        self._thread.join(timeout)
        while not self.ended:
            try:
                self._take(0)
            except queue.Empty:
                break
        return self.seen


@final
class Console:
    """``python -m hotbus *args`` as a process whose stdin stays open until `close_input`."""

    __slots__ = ("err", "out", "process")

    def __init__(self, *args: str, cwd: Path) -> None:
        self.process = subprocess.Popen(
            command(args),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
            cwd=cwd,
            env=environment(),
        )
        assert self.process.stdout is not None
        assert self.process.stderr is not None
        self.out = Lines(self.process.stdout, "stdout")
        self.err = Lines(self.process.stderr, "stderr")

    def send(self, line: str) -> None:
        """Type ``line`` (and Enter)."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def close_input(self) -> None:
        """End the input (Ctrl+D)."""
        assert self.process.stdin is not None
        with contextlib.suppress(BrokenPipeError):
            self.process.stdin.close()

    def signal(self, number: signal.Signals) -> None:
        """Send signal ``number`` to the process."""
        self.process.send_signal(number)

    def wait(self, timeout: float = DEADLINE) -> int:
        """The exit status, waiting up to ``timeout`` seconds for the process to end."""
        return self.process.wait(timeout)

    def close(self) -> None:
        """Kill the process if it still runs, and close every pipe."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(DEADLINE)
        self.out.rest()
        self.err.rest()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()
