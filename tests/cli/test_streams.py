"""``hotbus`` as a Unix citizen, run as a real process: a closed stdout ends output quietly and
stops the run, a full disk under ``--events-jsonl`` is said once, a closed or unreadable stdin is
the end of the input, and events naming files whose names are not UTF-8 are all written."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import StartConsole
from tests.cli.console import (
    DEADLINE,
    PLUGINS,
    ROOT,
    Result,
    command,
    copy_plugins,
    environment,
)

STOPPED = re.compile(r"⏹ hotbus stopped in \d+\.\d ms")
ROLL = re.compile(r"dice: 🎲 2d6: \d \+ \d = \d+")
STOPPING = re.compile(r"(\w+) stopping -> unloaded")
EXAMPLES = ["dice", "eightball", "greeter", "quotes", "rng", "trivia"]


def stopped(result: Result) -> list[str]:
    """The plugins a run stopped, once it said it stopped."""
    assert STOPPED.fullmatch(result.err_lines[-1]), result.err
    return sorted(m.group(1) for line in result.err_lines if (m := STOPPING.match(line)))


def closed_pipe() -> int:
    """The write end of a pipe whose reader already went away (``| head`` that has exited)."""
    read, write = os.pipe()
    os.close(read)
    return write


@contextlib.contextmanager
def started(*args: str, stdout: int, line: str = "") -> Iterator[subprocess.Popen[str]]:
    """``hotbus *args`` writing to ``stdout``, sent ``line`` on a stdin that stays open; killed
    (if still running) and closed at the end."""
    process = subprocess.Popen(
        command(args),
        stdin=subprocess.PIPE,
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=environment(),
    )
    assert process.stdin is not None
    try:
        if line:
            process.stdin.write(line + "\n")
            process.stdin.flush()
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(DEADLINE)
        for stream in (process.stdin, process.stderr):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()


def to_closed_stdout(*args: str, line: str = "") -> Result:
    """``hotbus *args`` whose stdout's reader went away, while its stdin stays open."""
    write = closed_pipe()
    try:
        with started(*args, stdout=write, line=line) as process:
            os.close(write)
            write = -1
            code = process.wait(DEADLINE)  # it must end on its own: stdin is still open
            assert process.stderr is not None
            return Result(code, "", process.stderr.read())
    finally:
        if write >= 0:
            os.close(write)


def in_shell(redirection: str, *args: str, input: str = "") -> Result:
    """``hotbus *args`` run by ``sh -c 'exec hotbus ... REDIRECTION'``."""
    done = subprocess.run(
        ["sh", "-c", f'exec "$@" {redirection}', "sh", *command(args)],
        input=input,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        env=environment(),
        timeout=DEADLINE,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def quiet(result: Result) -> bool:
    """Whether stderr holds no traceback, no broken pipe and no failed handler."""
    return not re.search(r"Traceback|BrokenPipe|Broken pipe|failed on|Exception", result.err)


# -- a closed stdout ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def events_to_closed_stdout() -> Result:
    """``hotbus run --events-jsonl - | head -0``, with the input left open."""
    return to_closed_stdout("run", str(PLUGINS), "--no-watch", "--events-jsonl", "-")


@pytest.fixture(scope="module")
def reply_to_closed_stdout() -> Result:
    """``hotbus run | head -0``, sent a roll, with the input left open."""
    return to_closed_stdout("run", str(PLUGINS), "--no-watch", line="!roll 2d6")


def test_events_to_a_closed_stdout_end_without_a_traceback(events_to_closed_stdout: Result) -> None:
    assert quiet(events_to_closed_stdout), events_to_closed_stdout.err


def test_events_to_a_closed_stdout_exit_141(events_to_closed_stdout: Result) -> None:
    assert events_to_closed_stdout.code == 141


def test_events_to_a_closed_stdout_stop_the_runtime(events_to_closed_stdout: Result) -> None:
    assert "⏹ hotbus stopping (stdout closed)" in events_to_closed_stdout.err_lines


def test_events_to_a_closed_stdout_stop_every_plugin(events_to_closed_stdout: Result) -> None:
    assert stopped(events_to_closed_stdout) == EXAMPLES


def test_a_reply_to_a_closed_stdout_logs_no_error(reply_to_closed_stdout: Result) -> None:
    assert quiet(reply_to_closed_stdout), reply_to_closed_stdout.err


def test_a_reply_to_a_closed_stdout_exits_141(reply_to_closed_stdout: Result) -> None:
    assert reply_to_closed_stdout.code == 141


def test_a_reply_to_a_closed_stdout_stops_every_plugin(reply_to_closed_stdout: Result) -> None:
    assert stopped(reply_to_closed_stdout) == EXAMPLES


def test_the_schema_to_a_closed_stdout_ends_silently_with_141() -> None:
    write = closed_pipe()
    try:
        done = subprocess.run(
            command(("events", "--schema")),
            stdout=write,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=environment(),
            timeout=DEADLINE,
            check=False,
        )
    finally:
        os.close(write)
    assert (done.returncode, done.stderr) == (141, "")


# -- a full disk -------------------------------------------------------------------------------

REPORT = (
    "hotbus: cannot write events to '{path}': No space left on device; no more events are "
    "written there (the run goes on, and exits with status 1)"
)


@pytest.fixture(scope="module")
def to_dev_full() -> Result:
    """``hotbus run --events-jsonl /dev/full`` sent a roll."""
    if not os.path.exists("/dev/full"):
        pytest.skip("this system has no /dev/full")
    return in_shell(
        "", "run", str(PLUGINS), "--no-watch", "--events-jsonl", "/dev/full", input="!roll 2d6\n"
    )


@pytest.fixture(scope="module")
def full_tmpfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A 4 KiB tmpfs: a real filesystem that is full after a few dozen events."""
    mount = shutil.which("mount")
    point = tmp_path_factory.mktemp("full")
    if mount is None:
        pytest.skip("no mount command")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=4k", "tmpfs", str(point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.fixture(scope="module")
def to_full_disk(full_tmpfs: Path) -> tuple[Path, Result]:
    """``hotbus run --events-jsonl FILE`` on a filesystem that fills up, sent a roll."""
    path = full_tmpfs / "events.jsonl"
    args = ("run", str(PLUGINS), "--no-watch", "--events-jsonl", str(path))
    return path, in_shell("", *args, input="!roll 2d6\n")


def test_a_full_disk_is_said_once_naming_the_file(to_full_disk: tuple[Path, Result]) -> None:
    path, result = to_full_disk
    assert [line for line in result.err_lines if "events" in line] == [REPORT.format(path=path)]


def test_a_full_disk_shows_no_traceback(to_full_disk: tuple[Path, Result]) -> None:
    assert quiet(to_full_disk[1]), to_full_disk[1].err


def test_a_full_disk_keeps_the_chat_answering(to_full_disk: tuple[Path, Result]) -> None:
    assert [bool(ROLL.fullmatch(line)) for line in to_full_disk[1].out_lines] == [True]


def test_a_full_disk_wrote_events_until_it_was_full(to_full_disk: tuple[Path, Result]) -> None:
    first = to_full_disk[0].read_text(encoding="utf-8").splitlines()[0]
    assert "topic" in json.loads(first)


def test_a_full_disk_stops_every_plugin_at_the_end(to_full_disk: tuple[Path, Result]) -> None:
    assert stopped(to_full_disk[1]) == EXAMPLES


def test_a_full_disk_exits_1(to_full_disk: tuple[Path, Result]) -> None:
    assert to_full_disk[1].code == 1


def test_a_write_error_is_said_once(to_dev_full: Result) -> None:
    lines = [line for line in to_dev_full.err_lines if "events" in line]
    assert lines == [REPORT.format(path="/dev/full")]


def test_a_write_error_shows_no_traceback(to_dev_full: Result) -> None:
    assert quiet(to_dev_full), to_dev_full.err


def test_a_write_error_keeps_the_chat_answering(to_dev_full: Result) -> None:
    assert [bool(ROLL.fullmatch(line)) for line in to_dev_full.out_lines] == [True]


def test_a_write_error_exits_1(to_dev_full: Result) -> None:
    assert to_dev_full.code == 1


# -- stdin -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stdin_closed() -> Result:
    """``hotbus run <&-``."""
    return in_shell("<&-", "run", str(PLUGINS), "--no-watch")


@pytest.fixture(scope="module")
def stdin_unreadable() -> Result:
    """``hotbus run 0>/dev/null``: a stdin open for writing only."""
    return in_shell("0>/dev/null", "run", str(PLUGINS), "--no-watch")


def test_a_closed_stdin_is_said_in_one_line(stdin_closed: Result) -> None:
    assert [line for line in stdin_closed.err_lines if "stdin" in line] == [
        "hotbus: stdin is closed: no chat input, stopping as at its end"
    ]


def test_a_closed_stdin_shows_no_traceback(stdin_closed: Result) -> None:
    assert quiet(stdin_closed), stdin_closed.err


def test_a_closed_stdin_ends_the_run_like_the_end_of_input(stdin_closed: Result) -> None:
    lines = stdin_closed.err_lines
    assert (stdin_closed.code, "⏹ hotbus stopping (end of input)" in lines) == (0, True)


def test_a_closed_stdin_stops_every_plugin(stdin_closed: Result) -> None:
    assert stopped(stdin_closed) == EXAMPLES


def test_an_unreadable_stdin_is_said_in_one_line(stdin_unreadable: Result) -> None:
    assert [line for line in stdin_unreadable.err_lines if "stdin" in line] == [
        "hotbus: cannot read stdin (Bad file descriptor): stopping as at the end of the input"
    ]


def test_an_unreadable_stdin_ends_the_run_like_the_end_of_input(stdin_unreadable: Result) -> None:
    assert (stdin_unreadable.code, quiet(stdin_unreadable)) == (0, True)


# -- file names that are not UTF-8 -------------------------------------------------------------


def test_an_edit_to_a_file_whose_name_is_not_utf8_is_written_losslessly(
    console: StartConsole, tmp_path: Path
) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    process = console("run", str(plugins), "--events-jsonl", "-")
    process.err.expect("hotbus started")
    name = os.fsencode(plugins.resolve()) + b"/caf\xe9.py"
    with open(name, "w", encoding="utf-8") as helper:
        helper.write("VALUE = 1\n")
    line = process.out.expect(lambda text: '"hotbus.file.settled"' in text and "caf" in text)
    assert os.fsencode(json.loads(line)["path"]) == name
