"""The question bank of the trivia plugin (a helper module: editing it reloads trivia)."""

from __future__ import annotations

from typing import NamedTuple


class Question(NamedTuple):
    """A question and its answer (compared case-insensitively)."""

    text: str
    answer: str


QUESTIONS = (
    Question("How many sides does a standard die have?", "6"),
    Question("What is the capital of France?", "paris"),
    Question("How many bits are in a byte?", "8"),
    Question("Which planet is known as the red planet?", "mars"),
    Question("What is 7 times 6?", "42"),
)


def is_correct(question: Question, answer: str) -> bool:
    """Whether ``answer`` answers ``question``."""
    return answer.strip().lower() == question.answer
