"""trivia: ``!trivia`` asks one question of the bank, ``!answer TEXT`` answers it."""

from __future__ import annotations

from hotbus import Runtime
from hotbus.schemas import ReloadCommitted
from hotbus.testing import Harness

from tests.plugins.chat import PLUGINS, answer, copy_plugins, load_by_path

#: The question bank, question text -> answer, read from plugins/trivia/questions.py.
BANK: dict[str, str] = {
    question.text: question.answer
    for question in load_by_path(PLUGINS / "trivia" / "questions.py").QUESTIONS
}


async def ask(runtime: Runtime, *, user: str = "ann") -> str:
    """Ask for a question as ``user``; returns the question text."""
    reply = await answer(runtime, "!trivia", "trivia", user=user)
    assert reply.startswith("❓ "), reply
    return reply.removeprefix("❓ ")


async def test_trivia_asks_a_question_of_the_bank(examples: Runtime) -> None:
    asked = {await ask(examples) for _ in range(20)}
    assert asked <= set(BANK)


async def test_the_right_answer_is_praised(examples: Runtime) -> None:
    question = await ask(examples)
    reply = await answer(examples, f"!answer {BANK[question]}", "trivia")
    assert reply == "✅ right, ann!"


async def test_answers_are_compared_ignoring_case_and_spaces(examples: Runtime) -> None:
    question = await ask(examples)
    reply = await answer(examples, f"!answer   {BANK[question].upper()}  ", "trivia")
    assert reply == "✅ right, ann!"


async def test_a_wrong_answer_gets_the_right_one(examples: Runtime) -> None:
    question = await ask(examples)
    reply = await answer(examples, "!answer certainly not this", "trivia")
    assert reply == f"❌ no, it was {BANK[question]}"


async def test_answering_without_an_open_question_says_how_to_get_one(examples: Runtime) -> None:
    reply = await answer(examples, "!answer 42", "trivia")
    assert reply == "no open question: ask for one with !trivia"


async def test_an_answered_question_is_closed(examples: Runtime) -> None:
    question = await ask(examples)
    await answer(examples, f"!answer {BANK[question]}", "trivia")
    reply = await answer(examples, f"!answer {BANK[question]}", "trivia")
    assert reply == "no open question: ask for one with !trivia"


async def test_each_user_answers_only_their_own_question(examples: Runtime) -> None:
    question = await ask(examples, user="ann")
    reply = await answer(examples, f"!answer {BANK[question]}", "trivia", user="bob")
    assert reply == "no open question: ask for one with !trivia"


async def test_editing_the_question_bank_while_running_reloads_trivia_with_it(
    hotbus: Harness,
) -> None:
    copy_plugins(hotbus.plugins.path)
    runtime = await hotbus.start(config_file=hotbus.plugins / "hotbus.toml")
    bank = hotbus.plugins.read("trivia/questions.py")
    start, end = bank.index("QUESTIONS = ("), bank.index("\n)\n", bank.index("QUESTIONS = ("))
    only = 'QUESTIONS = (\n    Question("What colour is the sky?", "blue"),'
    await hotbus.plugins.save("trivia/questions.py", bank[:start] + only + bank[end:], "atomic")
    await hotbus.wait_for(
        ReloadCommitted, lambda e: any(c.plugin == "trivia" for c in e.changes), timeout=10
    )
    assert await ask(runtime) == "What colour is the sky?"
