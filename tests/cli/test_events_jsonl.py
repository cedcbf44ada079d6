"""``hotbus run --events-jsonl``: every bus event as one JSON line, to a file or to stdout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hotbus.schemas import registry

from tests.cli.console import PLUGINS, Result, hotbus

Record = dict[str, Any]

#: ``hotbus run`` on the examples, as ann.
RUN = ("run", str(PLUGINS), "--no-watch", "--user", "ann")
LIFECYCLE = ["discovered", "loading", "loaded", "starting", "active", "stopping", "unloaded"]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The lines of ``--events-jsonl PATH`` after one roll on the examples."""
    path = tmp_path_factory.mktemp("jsonl") / "events.jsonl"
    result = hotbus(*RUN, "--events-jsonl", str(path), input="!roll 2d6\n")
    assert result.code == 0, result.err
    return path.read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def records(written: list[str]) -> list[Record]:
    """The lines of the file, parsed."""
    return [json.loads(line) for line in written]


@pytest.fixture(scope="module")
def to_stdout() -> Result:
    """``--events-jsonl -`` after one roll on the examples."""
    return hotbus(*RUN, "--events-jsonl", "-", input="!roll 2d6\n")


def test_every_line_is_a_json_object_with_a_topic(written: list[str]) -> None:
    assert all(isinstance(json.loads(line).get("topic"), str) for line in written)


def test_every_line_holds_the_fields_of_its_event(records: list[Record]) -> None:
    for record in records:
        fields = {key: value for key, value in record.items() if key != "topic"}
        event = registry.get(record["topic"]).model_validate(fields)
        assert event.model_dump(mode="json") == fields


def test_a_plugin_goes_through_its_whole_lifecycle_in_order(records: list[Record]) -> None:
    states = [
        r["state"] for r in records if r["topic"] == "hotbus.plugin.state" and r["plugin"] == "dice"
    ]
    assert states == LIFECYCLE


def test_the_runtime_starts_and_stops(records: list[Record]) -> None:
    runtime = [r["topic"] for r in records if r["topic"].startswith("hotbus.runtime.")]
    assert runtime == [
        "hotbus.runtime.started",
        "hotbus.runtime.stopping",
        "hotbus.runtime.stopped",
    ]


def test_the_message_and_its_reply_are_written(records: list[Record]) -> None:
    (message,) = [r for r in records if r["topic"] == "chat.message"]
    replies = [r for r in records if r["topic"] == "chat.reply"]
    assert [(r["plugin"], r["in_reply_to"]) for r in replies] == [("dice", message["event_id"])]


def test_the_message_carries_the_user_and_the_text(records: list[Record]) -> None:
    (message,) = [r for r in records if r["topic"] == "chat.message"]
    assert (message["user"], message["text"]) == ("ann", "!roll 2d6")


def test_the_stopped_runtime_is_the_last_line(records: list[Record]) -> None:
    assert records[-1]["topic"] == "hotbus.runtime.stopped"


def test_a_dash_writes_only_json_lines_to_stdout(to_stdout: Result) -> None:
    assert all(isinstance(json.loads(line), dict) for line in to_stdout.out_lines)


def test_a_dash_writes_the_reply_as_an_event(to_stdout: Result) -> None:
    replies = [json.loads(line) for line in to_stdout.out_lines if '"chat.reply"' in line]
    assert [(r["topic"], r["plugin"]) for r in replies] == [("chat.reply", "dice")]


def test_a_dash_writes_the_whole_lifecycle(to_stdout: Result) -> None:
    topics = {json.loads(line)["topic"] for line in to_stdout.out_lines}
    assert {"hotbus.runtime.started", "hotbus.runtime.stopped", "hotbus.plugin.state"} <= topics


def test_a_dash_exits_0(to_stdout: Result) -> None:
    assert to_stdout.code == 0


def test_the_file_is_written_fresh_on_each_run(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    path.write_text("not json\n", encoding="utf-8")
    hotbus("run", str(PLUGINS), "--no-watch", "--events-jsonl", str(path))
    assert all(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
