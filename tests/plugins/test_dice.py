"""dice: ``!roll NdS`` rolls dice with the random numbers of rng, within configured limits."""

from __future__ import annotations

import re
from pathlib import Path

from hotbus import Runtime
from hotbus.schemas import ReloadCommitted, ReloadRejected
from hotbus.testing import Harness

from tests.plugins.chat import PLUGINS, answer, copy_plugins, say

TWO_D6 = re.compile(r"🎲 2d6: (\d) \+ (\d) = (\d+)")
ONE_D20 = re.compile(r"🎲 d20: (\d+)")


def write_config(tmp_path: Path, text: str) -> Path:
    """A hotbus.toml holding ``text``, in ``tmp_path``."""
    path = tmp_path / "hotbus.toml"
    path.write_text(text, encoding="utf-8")
    return path


async def roll_once(config: Path, command: str) -> str:
    """Start the examples with ``config``, ask dice ``command`` once, stop them."""
    async with Runtime([PLUGINS], config_file=config, watch=False, entry_points=False) as runtime:
        return await answer(runtime, command, "dice")


async def test_two_d6_rolls_two_dice_from_1_to_6_and_adds_them(examples: Runtime) -> None:
    rolls = []
    for _ in range(30):
        match = TWO_D6.fullmatch(await answer(examples, "!roll 2d6", "dice"))
        assert match is not None
        rolls.append(tuple(int(n) for n in match.groups()))
    assert all(1 <= a <= 6 and 1 <= b <= 6 and total == a + b for a, b, total in rolls)


async def test_d20_rolls_a_single_die_from_1_to_20(examples: Runtime) -> None:
    values = []
    for _ in range(30):
        match = ONE_D20.fullmatch(await answer(examples, "!roll d20", "dice"))
        assert match is not None
        values.append(int(match.group(1)))
    assert all(1 <= value <= 20 for value in values)


async def test_the_roll_command_is_case_insensitive(examples: Runtime) -> None:
    assert ONE_D20.fullmatch(await answer(examples, "!ROLL D20", "dice"))


async def test_as_many_dice_as_max_dice_are_rolled(examples: Runtime) -> None:
    reply = await answer(examples, "!roll 10d6", "dice")
    assert re.fullmatch(r"🎲 10d6: (\d \+ ){9}\d = \d+", reply)


async def test_more_dice_than_max_dice_gives_the_limits(examples: Runtime) -> None:
    reply = await answer(examples, "!roll 11d6", "dice")
    assert reply == "I roll 1 to 10 dice of 2 to 100 sides"


async def test_more_sides_than_max_sides_gives_the_limits(examples: Runtime) -> None:
    reply = await answer(examples, "!roll 1d101", "dice")
    assert reply == "I roll 1 to 10 dice of 2 to 100 sides"


async def test_the_limits_come_from_the_dice_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[plugins.dice]\nmax_dice = 3\nmax_sides = 12\n")
    assert await roll_once(config, "!roll 4d6") == "I roll 1 to 3 dice of 2 to 12 sides"


async def test_bad_syntax_gives_the_usage(examples: Runtime) -> None:
    reply = await answer(examples, "!roll lots of dice", "dice")
    assert reply == "usage: !roll NdS rolls N dice of S sides, e.g. !roll 2d6"


async def test_a_message_that_is_not_a_command_gets_no_reply_from_dice(examples: Runtime) -> None:
    replies = await say(examples, "let's roll 2d6")
    assert [reply for reply in replies if reply.plugin == "dice"] == []


async def test_a_seed_makes_rolls_reproducible_across_runtimes(tmp_path: Path) -> None:
    config = write_config(tmp_path, "[plugins.rng]\nseed = 1234\n")
    first = await roll_once(config, "!roll 10d100")
    assert await roll_once(config, "!roll 10d100") == first


async def test_different_seeds_roll_differently(tmp_path: Path) -> None:
    one = await roll_once(write_config(tmp_path, "[plugins.rng]\nseed = 1\n"), "!roll 10d100")
    two = await roll_once(write_config(tmp_path, "[plugins.rng]\nseed = 2\n"), "!roll 10d100")
    assert one != two


async def start_copy(hotbus: Harness) -> Runtime:
    """The examples, copied into the harness's directory, running with a watcher."""
    copy_plugins(hotbus.plugins.path)
    return await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")


async def save_dice_config(hotbus: Harness, max_dice: int) -> ReloadCommitted:
    """Save hotbus.toml with a new ``max_dice``; the commit that follows."""
    config = hotbus.plugins.read("hotbus.toml").replace("max_dice = 10", f"max_dice = {max_dice}")
    await hotbus.plugins.save("hotbus.toml", config, "atomic")
    return await hotbus.wait_for(ReloadCommitted, timeout=10)


async def test_editing_the_dice_config_while_running_applies_the_new_limits(
    hotbus: Harness,
) -> None:
    runtime = await start_copy(hotbus)
    await save_dice_config(hotbus, max_dice=2)
    assert await answer(runtime, "!roll 3d6", "dice") == "I roll 1 to 2 dice of 2 to 100 sides"


async def test_editing_the_dice_config_reloads_only_dice(hotbus: Harness) -> None:
    await start_copy(hotbus)
    committed = await save_dice_config(hotbus, max_dice=2)
    assert [change.plugin for change in committed.changes] == ["dice"]


async def test_a_syntax_error_saved_into_dice_keeps_the_old_dice_answering(
    hotbus: Harness,
) -> None:
    runtime = await start_copy(hotbus)
    source = hotbus.plugins.read("dice.py")
    broken = source.replace("🎲", "🎯").replace("def roll(self, command: str)", "def roll(self,")
    await hotbus.plugins.save("dice.py", broken, "atomic")
    await hotbus.wait_for(ReloadRejected, timeout=10)
    assert TWO_D6.fullmatch(await answer(runtime, "!roll 2d6", "dice"))
