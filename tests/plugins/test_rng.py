"""rng: serves random numbers by request/reply (``rng.roll``, ``rng.pick``); the plugins that
use them reload with it, in one transaction."""

from __future__ import annotations

import re

from hotbus import Event, Runtime
from hotbus.schemas import ReloadCommitted
from hotbus.testing import Harness

from tests.plugins.chat import answer, copy_plugins


class Roll(Event):
    topic = "rng.roll"
    count: int
    sides: int


class Pick(Event):
    topic = "rng.pick"
    count: int


async def test_rng_replies_to_a_roll_request_with_the_rolls(examples: Runtime) -> None:
    reply = await examples.bus.request(Roll(count=50, sides=6), timeout=5)
    rolls = reply.model_dump()["rolls"]
    assert len(rolls) == 50
    assert set(rolls) <= {1, 2, 3, 4, 5, 6}


async def test_rng_replies_to_a_pick_request_with_an_index(examples: Runtime) -> None:
    picked = [(await examples.bus.request(Pick(count=3), timeout=5)) for _ in range(30)]
    assert {reply.model_dump()["index"] for reply in picked} <= {0, 1, 2}


async def save_rng(hotbus: Harness) -> ReloadCommitted:
    """Start the examples on a copy, save an edited rng.py; the first commit that follows."""
    copy_plugins(hotbus.plugins.path)
    await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")
    source = hotbus.plugins.read("rng.py")
    await hotbus.plugins.save(
        "rng.py", source + "\nEDITED = True  # a new module constant: a full reload\n", "atomic"
    )
    return await hotbus.wait_for(ReloadCommitted, timeout=10)


async def test_saving_rng_reloads_it_and_every_dependent_in_one_transaction(
    hotbus: Harness,
) -> None:
    committed = await save_rng(hotbus)
    assert sorted(c.plugin for c in committed.changes) == ["dice", "eightball", "rng", "trivia"]


async def test_saving_rng_gives_every_member_a_new_version(hotbus: Harness) -> None:
    committed = await save_rng(hotbus)
    assert all(c.old_version is not None and c.new_version is not None for c in committed.changes)


async def test_dice_answers_after_rng_reloaded(hotbus: Harness) -> None:
    await save_rng(hotbus)
    assert hotbus.runtime is not None
    reply = await answer(hotbus.runtime, "!roll 2d6", "dice")
    assert re.fullmatch(r"🎲 2d6: \d \+ \d = \d+", reply)
