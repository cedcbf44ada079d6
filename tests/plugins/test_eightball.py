"""eightball: ``!8ball QUESTION`` answers with one of the magic 8-ball's answers."""

from __future__ import annotations

from hotbus import Runtime

from tests.plugins.chat import PLUGINS, answer, load_by_path

ANSWERS: tuple[str, ...] = load_by_path(PLUGINS / "eightball.py").ANSWERS


async def test_a_question_gets_one_of_the_answers(examples: Runtime) -> None:
    replies = {await answer(examples, "!8ball will it work?", "eightball") for _ in range(20)}
    assert replies <= {f"🎱 {text}" for text in ANSWERS}


async def test_answers_vary(examples: Runtime) -> None:
    replies = {await answer(examples, "!8ball will it work?", "eightball") for _ in range(40)}
    assert len(replies) > 1


async def test_an_empty_question_gives_the_usage(examples: Runtime) -> None:
    reply = await answer(examples, "!8ball   ", "eightball")
    assert reply == "usage: !8ball QUESTION asks the magic 8-ball"
