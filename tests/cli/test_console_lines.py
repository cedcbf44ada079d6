"""What ``hotbus run`` prints as plugins change: one line per outcome, in causal order.

Each test runs the real command as a process on a plugin directory of its own, saves files
under its watcher, and reads what it writes to stderr.
"""

from __future__ import annotations

import io
import os
import re
import threading
import time
from pathlib import Path

import pytest
from hotbus.runtime._console.cli import cli

from tests.cli.conftest import StartConsole
from tests.cli.console import DEADLINE, Console, hotbus

#: The widest line the console writes for a reload, however many plugins it moves.
WIDTH = 120


def source(name: str, patch: int = 0, *, trailer: str = "") -> str:
    """A plugin module declaring ``name`` at version ``1.0.<patch>``."""
    return (
        "import hotbus\n\n\n"
        f"class P(hotbus.Plugin):\n    name = {name!r}\n    version = '1.0.{patch}'\n{trailer}"
    )


def started(console: StartConsole, plugins: Path, *args: str) -> tuple[Console, int]:
    """``hotbus run plugins *args``, once started; and how many lines it wrote until then."""
    process = console("run", str(plugins), *args)
    process.err.expect("hotbus started")
    return process, len(process.err.seen)


def since(process: Console, start: int) -> list[str]:
    """The lines written to stderr after the first ``start``, until the process ended."""
    process.close_input()
    process.wait()
    return process.err.rest()[start:]


def test_a_new_plugin_is_loaded_and_a_deleted_one_unloaded_one_line_each(
    console: StartConsole, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "a.py").write_text(source("a"), encoding="utf-8")
    process, start = started(console, plugins)
    (plugins / "b.py").write_text(source("b"), encoding="utf-8")
    process.err.expect("✅ b ")
    (plugins / "b.py").unlink()
    process.err.expect("✅ b unloaded")
    lines = since(process, start)
    outcomes = lines[: lines.index("✅ b unloaded") + 1]
    assert [re.sub(r"\+\w+ loaded in [\d.]+ ms", "+… loaded in …", line) for line in outcomes] == [
        "✅ b 1.0.0+… loaded in …",
        "✅ b unloaded",
    ]


def test_a_rejected_save_prints_one_error_line(console: StartConsole, tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "a.py").write_text(source("a"), encoding="utf-8")
    process, start = started(console, plugins)
    (plugins / "a.py").write_text(source("a", 1, trailer="def broken(:\n"), encoding="utf-8")
    process.err.expect("rejected")
    lines = since(process, start)
    assert [line for line in lines if "❌" in line or "🔥" in line] == [
        "❌ a rejected at compile: SyntaxError: invalid syntax (a.py:7); "
        "the running version keeps serving"
    ]


def test_a_body_only_save_prints_one_patch_line_and_a_structural_one_says_why_not(
    console: StartConsole, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    body = "\n    def roll(self) -> int:\n        return {}\n"
    (plugins / "a.py").write_text(source("a", trailer=body.format(1)), encoding="utf-8")
    process, start = started(console, plugins)
    (plugins / "a.py").write_text(source("a", trailer=body.format(2)), encoding="utf-8")
    process.err.expect("patched")
    (plugins / "a.py").write_text(source("a", 1, trailer=body.format(2)), encoding="utf-8")
    process.err.expect("reloaded")
    lines = [
        re.sub(r"\+\w+ (\w+) in [\d.]+ ms", r"+… \1 in …", line) for line in since(process, start)
    ]
    assert lines[:2] == [
        "🩹 a 1.0.0+… patched in …: P.roll",
        "✅ a 1.0.1+… reloaded in … (not patched: its manifest changed (version '1.0.0' -> "
        "'1.0.1'))",
    ]


def test_with_v_a_files_line_comes_before_the_reload_it_causes(
    console: StartConsole, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "a.py").write_text(source("a"), encoding="utf-8")
    process, start = started(console, plugins, "-v")
    (plugins / "b.py").write_text(source("b"), encoding="utf-8")
    process.err.expect("✅ b 1.0.0")
    lines = since(process, start)
    settled = next(n for n, line in enumerate(lines) if re.match(r"file created .*b\.py \(", line))
    requested = lines.index("🔄 loading b")
    active = next(n for n, line in enumerate(lines) if line.startswith("✅ b starting -> active"))
    committed = next(n for n, line in enumerate(lines) if line.startswith("✅ b 1.0.0"))
    assert settled < requested < active < committed
    assert lines[active].endswith(": loaded")


def test_thirty_plugins_changed_at_once_are_one_short_line(
    console: StartConsole, tmp_path: Path
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    names = [f"plugin_number_{n:02d}" for n in range(30)]
    for name in names:
        (plugins / f"{name}.py").write_text(source(name), encoding="utf-8")
    process, start = started(console, plugins)
    for name in names:  # as a git switch does
        (plugins / f"{name}.py").write_text(source(name, 1), encoding="utf-8")
    moved = 0
    while moved < len(names):
        line = process.err.expect("plugins reloaded in")
        moved += int(line.split()[1])
    lines = since(process, start)
    reloads = lines[: lines.index("⏹ hotbus stopping (end of input)")]
    assert all(re.match(r"✅ \d+ plugins reloaded in [\d.]+ ms: ", line) for line in reloads)
    assert 1 <= len(reloads) <= 3  # one transaction, unless the saves straddle a settle window
    assert max(len(line) for line in reloads) <= WIDTH


def test_a_plugins_log_line_names_the_plugin(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    setup = (
        "\n    async def setup(self) -> None:\n"
        "        self.ctx.logger.info('ready for %d dice', 6)\n"
        "        self.ctx.logger.warning('low on dice')\n"
    )
    (plugins / "dice.py").write_text(source("dice", trailer=setup), encoding="utf-8")
    result = hotbus("run", str(plugins), "--no-watch", input="")
    assert [line for line in result.err_lines if "dice" in line and "->" not in line][:2] == [
        "[dice] ready for 6 dice",
        "[dice] low on dice",
    ]


class Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def wait_for_text(stream: io.StringIO, text: str) -> None:
    """Wait (up to the deadline) until ``text`` was written to ``stream``."""
    deadline = time.monotonic() + DEADLINE
    while text not in stream.getvalue():
        assert time.monotonic() < deadline, f"no {text!r} within {DEADLINE:g} s"
        time.sleep(0.01)


def test_no_color_on_a_terminal_keeps_the_hints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "a.py").write_text(source("a"), encoding="utf-8")
    read, write = os.pipe()
    err = Terminal()
    with os.fdopen(read, encoding="utf-8") as stdin:
        run = threading.Thread(
            target=cli,
            args=("run", str(plugins)),
            kwargs={"stdin": stdin, "stdout": io.StringIO(), "stderr": err},
        )
        run.start()
        try:
            wait_for_text(err, "hotbus started")
            (plugins / "a.py").write_text(source("a", 1, trailer="def (:\n"), encoding="utf-8")
            wait_for_text(err, "rejected")
        finally:
            os.close(write)
            run.join(DEADLINE)
    (line,) = [line for line in err.getvalue().splitlines() if "rejected" in line]
    assert line.endswith("(a.py:7); the running version keeps serving")
    assert "\033[" not in err.getvalue()
