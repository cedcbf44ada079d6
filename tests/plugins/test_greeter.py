"""greeter: answers a greeting with the configured greeting, naming the user."""

from __future__ import annotations

import tomllib

import pytest
from hotbus import Runtime

from tests.plugins.chat import CONFIG, answer, say

GREETING: str = tomllib.loads(CONFIG.read_text(encoding="utf-8"))["plugins"]["greeter"]["greeting"]


@pytest.mark.parametrize("text", ["hello", "Hi!", "hey.", "!hello"])
async def test_a_greeting_gets_the_configured_greeting_with_the_users_name(
    examples: Runtime, text: str
) -> None:
    assert await answer(examples, text, "greeter", user="bob") == GREETING.format(user="bob")


def test_the_examples_configure_a_greeting_of_their_own() -> None:
    assert GREETING != "Hello, {user}!"


async def test_other_messages_get_no_greeting(examples: Runtime) -> None:
    replies = await say(examples, "hello there, how are you")
    assert [reply for reply in replies if reply.plugin == "greeter"] == []
