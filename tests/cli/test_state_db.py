"""``hotbus run`` keeps plugins' state across restarts: ``--state-db``, ``--no-state-db``, a
process killed with SIGKILL losing at most one save period, and an unreadable database."""

from __future__ import annotations

import json
import signal
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.cli.conftest import StartConsole
from tests.cli.console import copy_plugins, hotbus

#: The save period of the killed process, in seconds.
PERIOD = 0.3


def event(line: str) -> dict[str, Any]:
    """One line of ``--events-jsonl -``, parsed."""
    parsed = json.loads(line)
    assert isinstance(parsed, dict)
    return parsed


def is_topic(topic: str, **fields: Any) -> Any:
    """A matcher of `Lines.expect`: an event line of ``topic`` whose fields include ``fields``."""

    def matches(line: str) -> bool:
        try:
            found = event(line)
        except json.JSONDecodeError:
            return False
        return found.get("topic") == topic and all(found.get(k) == v for k, v in fields.items())

    return matches


def when(line: str) -> datetime:
    return datetime.fromisoformat(event(line)["timestamp"])


@dataclass(frozen=True, slots=True)
class Killed:
    """A ``hotbus run`` killed with SIGKILL after its state was saved once."""

    plugins: Path
    db: Path
    #: The reply to the last quote added, and the first save of the period after it.
    reply: str
    saved: str
    code: int


@pytest.fixture
def killed(tmp_path: Path, console: StartConsole) -> Killed:
    plugins = copy_plugins(tmp_path / "plugins")
    config = plugins / "hotbus.toml"
    config.write_text(
        f"state_save_interval_s = {PERIOD}\n" + config.read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    db = tmp_path / "state.sqlite3"
    process = console(
        "run", str(plugins), "--no-watch", "--state-db", str(db), "--events-jsonl", "-"
    )
    process.out.expect(is_topic("hotbus.runtime.started"))
    process.send("!quote add one")
    process.out.expect(is_topic("chat.reply", text="saved quote #1"))
    process.send("!quote add two")
    reply = process.out.expect(is_topic("chat.reply", text="saved quote #2"))
    saved = process.out.expect(
        lambda line: (
            is_topic("hotbus.state.saved", reason="period")(line) and when(line) > when(reply)
        )
    )
    process.signal(signal.SIGKILL)
    return Killed(plugins, db, reply, saved, process.wait())


def test_the_process_was_killed(killed: Killed) -> None:
    assert killed.code == -signal.SIGKILL


def test_what_changed_is_saved_within_one_period(killed: Killed) -> None:
    assert (when(killed.saved) - when(killed.reply)).total_seconds() < PERIOD + 1.0


def test_state_saved_before_a_sigkill_is_there_after_a_restart(killed: Killed) -> None:
    result = hotbus(
        "run", str(killed.plugins), "--no-watch", "--state-db", str(killed.db), input="!quotes\n"
    )
    assert result.out_lines == ["quotes: 2 quotes saved"]


# -- --state-db and --no-state-db --------------------------------------------------------------


def test_state_db_keeps_quotes_from_one_run_to_the_next(tmp_path: Path) -> None:
    plugins = copy_plugins(tmp_path / "plugins")
    args = ("run", str(plugins), "--no-watch", "--state-db", str(tmp_path / "q.sqlite3"))
    hotbus(*args, input="!quote add keep me\n")
    assert hotbus(*args, input="!quote\n").out_lines == ["quotes: 💬 keep me"]


def test_by_default_the_database_is_beside_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HOTBUS_PERSIST_STATE")
    plugins = copy_plugins(tmp_path / "plugins")
    hotbus("run", str(plugins), "--no-watch", input="!quote add keep me\n")
    assert (plugins / ".hotbus" / "state.sqlite3").is_file()


def test_no_state_db_writes_no_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTBUS_PERSIST_STATE")
    plugins = copy_plugins(tmp_path / "plugins")
    hotbus("run", str(plugins), "--no-watch", "--no-state-db", input="!quote add gone\n")
    assert not (plugins / ".hotbus").exists()


# -- an unreadable database --------------------------------------------------------------------


@pytest.fixture
def corrupt(tmp_path: Path) -> tuple[Path, Any]:
    """A run on the examples whose state database is not a database."""
    plugins = copy_plugins(tmp_path / "plugins")
    db = tmp_path / "state.sqlite3"
    db.write_bytes(b"not a database\n" * 200)
    result = hotbus("run", str(plugins), "--no-watch", "--state-db", str(db), input="!quotes\n")
    return db, result


def test_an_unreadable_database_is_said_with_its_path_and_the_fix(
    corrupt: tuple[Path, Any],
) -> None:
    db, result = corrupt
    (line,) = [line for line in result.err_lines if "state database" in line]
    moved = next(db.parent.glob("state.sqlite3.unreadable-*"))
    assert line == (
        f"❌ state database {db} cannot be read (DatabaseError: file is not a database): it "
        f"was moved to {moved}, and a new one made: plugins start fresh; inspect the old file "
        "with the sqlite3 tool, or delete it"
    )


def test_an_unreadable_database_is_kept_aside(corrupt: tuple[Path, Any]) -> None:
    db, _ = corrupt
    (moved,) = db.parent.glob("state.sqlite3.unreadable-*")
    assert moved.read_bytes() == b"not a database\n" * 200


def test_with_an_unreadable_database_the_plugins_serve_fresh(corrupt: tuple[Path, Any]) -> None:
    _, result = corrupt
    assert (result.code, result.out_lines) == (0, ["quotes: 0 quotes saved"])
