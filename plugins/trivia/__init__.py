"""trivia: ``!trivia`` asks a question, ``!answer TEXT`` answers it.

A package plugin: the question bank lives in the helper module ``questions.py``; saving it
reloads trivia with the new questions.
"""

from __future__ import annotations

from hotbus import ChatMessage, ChatReply, Event, Plugin, subscribe

from . import questions

USAGE = "!trivia asks a question, !answer TEXT answers it"


class Pick(Event):
    """Asks rng to pick one of ``count`` options; rng replies with its ``index``."""

    topic = "rng.pick"

    count: int


class Trivia(Plugin):
    """Asks trivia questions, one open question per user."""

    name = "trivia"
    version = "1.0.0"
    requires = ("rng",)

    async def setup(self) -> None:
        self.open: dict[str, questions.Question] = {}

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        text = message.text.strip()
        if text == "!help":
            answer = USAGE
        elif text == "!trivia":
            picked = await self.ctx.request(Pick(count=len(questions.QUESTIONS)))
            question = questions.QUESTIONS[picked.model_dump()["index"]]
            self.open[message.user] = question
            answer = f"❓ {question.text}"
        elif text == "!answer" or text.startswith("!answer "):
            asked = self.open.pop(message.user, None)
            if asked is None:
                answer = "no open question: ask for one with !trivia"
            elif questions.is_correct(asked, text[len("!answer") :]):
                answer = f"✅ right, {message.user}!"
            else:
                answer = f"❌ no, it was {asked.answer}"
        else:
            return
        await self.ctx.publish(
            ChatReply(plugin=self.name, text=answer, in_reply_to=message.event_id)
        )
