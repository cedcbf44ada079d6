"""The board: the state the page shows for a plugin from the reload events, ``patched``
included."""

from __future__ import annotations

from typing import Any

import pytest
from hotbus import ChatReply
from hotbus.runtime._dashboard.board import Board
from hotbus.schemas import (
    ErrorInfo,
    Phase,
    PhaseDurations,
    PluginState,
    PluginStatus,
    ReloadCommitted,
    ReloadPatched,
    ReloadPlanned,
    ReloadRejected,
    SourceKind,
    VersionChange,
)


def patched(plugin: str) -> ReloadPatched:
    return ReloadPatched(
        plan_id="p",
        plugin=plugin,
        old_version="1.0.0+aaaaaa",
        new_version="1.0.0+bbbbbb",
        functions=["Dice.roll"],
        duration_ms=0.4,
    )


def row(name: str, state: PluginState = PluginState.ACTIVE, **fields: Any) -> PluginStatus:
    kind = SourceKind.MODULE
    return PluginStatus(name=name, state=state, source=f"{name}.py", kind=kind, **fields)


def commit(plan_id: str, *plugins: str) -> ReloadCommitted:
    return ReloadCommitted(
        plan_id=plan_id,
        changes=[VersionChange(plugin=p, old_version="1", new_version="2") for p in plugins],
        durations=PhaseDurations(stage=1.0, quiesce=0.5, swap=2.0, total=3.5),
    )


def test_a_planned_member_is_reloading_until_its_commit() -> None:
    board = Board()
    board.observe(ReloadPlanned(plan_id="p1", triggers=["rng"], members=["rng", "dice"]))
    assert board.display_state(row("dice")) == "reloading"
    board.observe(commit("p1", "rng", "dice"))
    assert board.display_state(row("dice")) == "active"
    assert board.last_plan == {"plan_id": "p1", "triggers": ["rng"], "members": ["rng", "dice"]}


def test_a_patched_plugin_shows_patched_until_its_next_change() -> None:
    board = Board()
    board.observe(patched("dice"))
    assert board.display_state(row("dice")) == "patched"
    (entry,) = board.timeline()
    assert entry["outcome"] == "patched"
    assert entry["members"] == ["dice"]
    assert entry["outcomes"][0]["functions"] == ["Dice.roll"]
    board.observe(ReloadPlanned(plan_id="p2", triggers=["dice"], members=["dice"]))
    board.observe(commit("p2", "dice"))
    assert board.display_state(row("dice")) == "active"


def test_a_rejected_save_shows_failed_with_its_phase_while_serving() -> None:
    board = Board()
    error = ErrorInfo(type="SyntaxError", message="invalid syntax", line=3)
    board.observe(ReloadPlanned(plan_id="p3", triggers=["dice"], members=["dice"]))
    board.observe(ReloadRejected(plan_id="p3", plugin="dice", phase=Phase.COMPILE, error=error))
    (shown,) = board.rows([row("dice", error=error)])
    assert (shown["state"], shown["phase"], shown["serving"]) == ("failed", "compile", True)
    assert board.timeline()[0]["outcome"] == "rejected"


@pytest.mark.parametrize(
    ("state", "shown"),
    [
        (PluginState.BLOCKED, "blocked"),
        (PluginState.FAILED, "failed"),
        (PluginState.LOADED, "loaded"),
    ],
)
def test_lifecycle_states_show_as_themselves(state: PluginState, shown: str) -> None:
    assert Board().display_state(row("dice", state)) == shown


def test_the_first_reply_after_a_commit_is_its_reply_latency() -> None:
    board = Board()
    committed = commit("p4", "dice")
    board.observe(committed)
    reply = ChatReply(plugin="dice", text="hi")
    board.observe(reply)
    (entry,) = board.timeline()
    expected = (reply.timestamp - committed.timestamp).total_seconds() * 1000
    assert entry["reply_latency_ms"] == pytest.approx(expected)
    assert entry["durations"]["swap"] == 2.0
