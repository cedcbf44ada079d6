"""greeter: says hello back."""

from __future__ import annotations

from hotbus import ChatMessage, ChatReply, Plugin, subscribe
from pydantic import BaseModel

GREETINGS = frozenset({"hi", "hello", "hey", "!hello"})


class GreeterConfig(BaseModel):
    """``[plugins.greeter]``: the greeting; ``{user}`` is replaced by the user's name."""

    greeting: str = "Hello, {user}!"


class Greeter(Plugin):
    """Greets whoever greets it."""

    name = "greeter"
    version = "1.0.0"
    config_model = GreeterConfig
    config: GreeterConfig

    @subscribe(ChatMessage)
    async def on_message(self, message: ChatMessage) -> None:
        text = message.text.strip().lower().rstrip("!.")
        if text == "!help":
            answer = "hello (or hi, hey, !hello) and I greet you back"
        elif text in GREETINGS:
            answer = self.config.greeting.format(user=message.user)
        else:
            return
        await self.ctx.publish(
            ChatReply(plugin=self.name, text=answer, in_reply_to=message.event_id)
        )
