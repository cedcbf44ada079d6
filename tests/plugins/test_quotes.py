"""quotes: ``!quote add``, ``!quote``, ``!quotes``; quotes survive reloads, edits, restarts."""

from __future__ import annotations

import pytest
from hotbus import Runtime
from hotbus.schemas import ReloadCommitted, ReloadPatched
from hotbus.testing import Harness

from tests.plugins.chat import answer, copy_plugins


async def test_adding_a_quote_numbers_it(examples: Runtime) -> None:
    await answer(examples, "!quote add first", "quotes")
    assert await answer(examples, "!quote add second", "quotes") == "saved quote #2"


async def test_a_quote_is_recalled(examples: Runtime) -> None:
    await answer(examples, "!quote add   edit me and I stay  ", "quotes")
    assert await answer(examples, "!quote", "quotes") == "💬 edit me and I stay"


async def test_recalling_with_no_quotes_says_so(examples: Runtime) -> None:
    assert await answer(examples, "!quote", "quotes") == "no quotes yet"


async def test_counting_with_no_quotes_says_zero(examples: Runtime) -> None:
    assert await answer(examples, "!quotes", "quotes") == "0 quotes saved"


async def test_counting_one_quote_is_singular(examples: Runtime) -> None:
    await answer(examples, "!quote add only", "quotes")
    assert await answer(examples, "!quotes", "quotes") == "1 quote saved"


async def test_counting_counts_every_quote(examples: Runtime) -> None:
    for text in ("one", "two", "three"):
        await answer(examples, f"!quote add {text}", "quotes")
    assert await answer(examples, "!quotes", "quotes") == "3 quotes saved"


async def test_quotes_survive_a_reload(examples: Runtime) -> None:
    await answer(examples, "!quote add one", "quotes")
    await answer(examples, "!quote add two", "quotes")
    before = examples.plugin("quotes")
    assert isinstance(await examples.reload("quotes"), ReloadCommitted)
    assert examples.plugin("quotes") is not before
    assert await answer(examples, "!quotes", "quotes") == "2 quotes saved"


@pytest.mark.parametrize(
    ("edit", "outcome"),
    [
        ({"saved quote #": "stored quote #"}, ReloadPatched),  # a body: patched in place
        (  # and the version: the full transaction, the quotes handed over
            {"saved quote #": "stored quote #", 'version = "1.0.0"': 'version = "1.0.1"'},
            ReloadCommitted,
        ),
    ],
    ids=["patched", "reloaded"],
)
async def test_quotes_survive_an_edit_of_quotes_py_saved_while_running(
    hotbus: Harness, edit: dict[str, str], outcome: type[ReloadPatched | ReloadCommitted]
) -> None:
    copy_plugins(hotbus.plugins.path)
    runtime = await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")
    await answer(runtime, "!quote add one", "quotes")
    await answer(runtime, "!quote add two", "quotes")
    source = hotbus.plugins.read("quotes.py")
    for old, new in edit.items():
        assert old in source
        source = source.replace(old, new)
    await hotbus.plugins.save("quotes.py", source, "atomic")
    await hotbus.wait_for(outcome, timeout=10)
    assert await answer(runtime, "!quote add three", "quotes") == "stored quote #3"


async def test_quotes_survive_a_stop_and_a_start(hotbus: Harness) -> None:
    copy_plugins(hotbus.plugins.path)
    runtime = await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")
    await answer(runtime, "!quote add one", "quotes")
    await answer(runtime, "!quote add two", "quotes")
    await hotbus.stop()
    runtime = await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")
    assert await answer(runtime, "!quotes", "quotes") == "2 quotes saved"
