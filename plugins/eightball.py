"""eightball: ``!8ball will it work?`` answers like a magic 8-ball."""

from __future__ import annotations

from hotbus import ChatMessage, ChatReply, Event, Plugin, subscribe

ANSWERS = (
    "It is certain.",
    "Without a doubt.",
    "You may rely on it.",
    "Most likely.",
    "Signs point to yes.",
    "Reply hazy, try again.",
    "Ask again later.",
    "Cannot predict now.",
    "Don't count on it.",
    "My sources say no.",
    "Very doubtful.",
)
USAGE = "!8ball QUESTION asks the magic 8-ball"


class Pick(Event):
    """Asks rng to pick one of ``count`` options; rng replies with its ``index``."""

    topic = "rng.pick"

    count: int


class EightBall(Plugin):
    """Answers yes/no questions, mysteriously."""

    name = "eightball"
    version = "1.0.0"
    requires = ("rng",)

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        text = message.text.strip()
        if text == "!help":
            answer = USAGE
        elif text.lower() == "!8ball" or text.lower().startswith("!8ball "):
            question = text[len("!8ball") :].strip()
            if not question:
                answer = f"usage: {USAGE}"
            else:
                picked = await self.ctx.request(Pick(count=len(ANSWERS)))
                answer = f"🎱 {ANSWERS[picked.model_dump()['index']]}"
        else:
            return
        await self.ctx.publish(
            ChatReply(plugin=self.name, text=answer, in_reply_to=message.event_id)
        )
