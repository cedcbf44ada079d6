"""``hotbus run`` on a terminal (a real pseudo-terminal): lines are edited with readline, and the
terminal's modes are as they were once it ends."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pty
import subprocess
import termios
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.cli.console import DEADLINE, PLUGINS, ROOT, Lines, command, environment

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("readline") is None, reason="this Python has no readline module"
)

LEFT, RIGHT = "\x1b[D", "\x1b[C"


@dataclass
class Screen:
    """What the program wrote to the terminal, read on a thread."""

    fd: int
    text: str = ""
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read(self) -> None:
        with contextlib.suppress(OSError):  # the terminal's other side closed
            while chunk := os.read(self.fd, 4096):
                with self.changed:
                    self.text += chunk.decode("utf-8", "replace")
                    self.changed.notify_all()

    def wait_for(self, wanted: str) -> None:
        """Wait (up to the deadline) until ``wanted`` was written."""
        with self.changed:
            if not self.changed.wait_for(lambda: wanted in self.text, DEADLINE):
                raise AssertionError(f"{wanted!r} not written within {DEADLINE} s:\n{self.text}")


@dataclass
class Session:
    """``hotbus run`` with a pseudo-terminal as stdin and stdout."""

    process: subprocess.Popen[str]
    keyboard: int
    screen: Screen
    err: Lines
    modes_before: list[object]
    terminal: int

    def type(self, keys: str) -> None:
        os.write(self.keyboard, keys.encode())


@pytest.fixture
def session() -> Iterator[Session]:
    main, terminal = pty.openpty()
    modes = termios.tcgetattr(terminal)
    env = {**environment(), "TERM": "xterm", "INPUTRC": os.devnull}
    process = subprocess.Popen(
        command(("run", str(PLUGINS), "--no-watch", "--user", "ann")),
        stdin=terminal,
        stdout=terminal,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=env,
    )
    assert process.stderr is not None
    screen = Screen(main)
    threading.Thread(target=screen.read, daemon=True).start()
    try:
        yield Session(process, main, screen, Lines(process.stderr, "stderr"), modes, terminal)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)
        os.close(terminal)
        os.close(main)
        process.stderr.close()


def test_a_line_edited_with_the_arrow_keys_arrives_edited(session: Session) -> None:
    session.err.expect("hotbus started")
    session.type(f"!roll d{LEFT}2{RIGHT}6\r")
    session.screen.wait_for("dice: 🎲 2d6:")


def test_the_terminal_modes_are_restored_when_it_ends(session: Session) -> None:
    session.err.expect("hotbus started")
    session.type("!roll 2d6\r")
    session.screen.wait_for("dice: 🎲 2d6:")
    # Ctrl+D. Typed while readline switches the terminal's modes between two lines, the
    # kernel may drop it (a person would press it again): press it until the run ends.
    for _ in range(int(DEADLINE)):
        session.type("\x04")
        with contextlib.suppress(subprocess.TimeoutExpired):
            session.process.wait(1.0)
            break
    assert session.process.wait(DEADLINE) == 0
    assert termios.tcgetattr(session.terminal) == session.modes_before
