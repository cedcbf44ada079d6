"""Topics and patterns: which are valid, and which topics a pattern matches (NATS rules)."""

from __future__ import annotations

import pytest
from hotbus.schemas import TopicError, is_pattern, topic_matches, validate_pattern, validate_topic
from hypothesis import given
from hypothesis import strategies as st

TOKEN = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
TOKENS = st.lists(TOKEN, min_size=1, max_size=6)


# -- concrete topics ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "topic", ["chat", "chat.message", "hotbus.plugin.state", "a-b.c_d.E9", "v1.2.3.4.5"]
)
def test_valid_topic_is_returned_unchanged(topic: str) -> None:
    assert validate_topic(topic) == topic


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("", "it is empty"),
        ("chat..message", "it has an empty token"),
        (".chat", "it has an empty token"),
        ("chat.", "it has an empty token"),
        ("chat.*", r"wildcard '\*' is only allowed in subscriptions"),
        ("chat.>", "wildcard '>' is only allowed in subscriptions"),
        ("chat message", "token 'chat message' is not allowed"),
        ("chat/message", "token 'chat/message' is not allowed"),
        ("café.au-lait", "token 'café' is not allowed"),
        ("chat.me*", r"token 'me\*' is not allowed"),
    ],
)
def test_invalid_topic_is_rejected_with_the_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError, match=reason) as caught:
        validate_topic(topic)
    assert caught.value.topic == topic


def test_non_string_topic_is_rejected() -> None:
    with pytest.raises(TopicError, match="expected a string, got int") as caught:
        validate_topic(42)
    assert caught.value.topic == 42


def test_topic_error_names_the_owner_and_the_topic() -> None:
    with pytest.raises(TopicError, match=r"^plugins\.chat\.Message: invalid topic 'chat\.\*'"):
        validate_topic("chat.*", owner="plugins.chat.Message")


def test_topic_error_carries_the_owner() -> None:
    with pytest.raises(TopicError, match="invalid topic") as caught:
        validate_topic("", owner="plugins.chat.Message")
    assert caught.value.owner == "plugins.chat.Message"


def test_topic_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="invalid topic"):
        validate_topic("a..b")


# -- patterns ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "pattern",
    ["*", ">", "hotbus.>", "hotbus.*", "hotbus.*.state", "*.*", "*.>", "chat.message"],
)
def test_valid_pattern_is_returned_unchanged(pattern: str) -> None:
    assert validate_pattern(pattern) == pattern


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("", "it is empty"),
        ("hotbus.>.state", "'>' must be the last token"),
        (">.hotbus", "'>' must be the last token"),
        ("hotbus..state", "it has an empty token"),
        ("hotbus.", "it has an empty token"),
        ("hotbus.plugin*", r"token 'plugin\*' is not allowed"),
        ("hotbus.**", r"token '\*\*' is not allowed"),
        ("hotbus.>>", "token '>>' is not allowed"),
        ("hot bus.>", "token 'hot bus' is not allowed"),
    ],
)
def test_invalid_pattern_is_rejected_with_the_reason(pattern: str, reason: str) -> None:
    with pytest.raises(TopicError, match=reason) as caught:
        validate_pattern(pattern)
    assert caught.value.topic == pattern


def test_non_string_pattern_is_rejected() -> None:
    with pytest.raises(TopicError, match="expected a string, got NoneType") as caught:
        validate_pattern(None)
    assert caught.value.topic is None


def test_pattern_error_names_the_owner_and_the_pattern() -> None:
    with pytest.raises(TopicError, match=r"^dice: invalid topic 'chat\.>\.x'"):
        validate_pattern("chat.>.x", owner="dice")


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("*", True), (">", True), ("a.*.c", True), ("a.>", True), ("a.b.c", False), ("a", False)],
)
def test_is_pattern_tells_wildcard_patterns_from_topics(pattern: str, expected: bool) -> None:
    assert is_pattern(pattern) is expected


# -- matching ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("hotbus.plugin.*", "hotbus.plugin.state", True),
        ("hotbus.plugin.*", "hotbus.plugin", False),
        ("hotbus.plugin.*", "hotbus.plugin.state.extra", False),
        ("*", "chat", True),
        ("*", "chat.message", False),
        ("*.message", "chat.message", True),
        ("*.message", "chat.other", False),
        ("hotbus.*.failed", "hotbus.handler.failed", True),
        ("hotbus.*.failed", "hotbus.handler.state", False),
    ],
)
def test_star_matches_exactly_one_token(pattern: str, topic: str, expected: bool) -> None:
    assert topic_matches(pattern, topic) is expected


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("hotbus.>", "hotbus.plugin", True),
        ("hotbus.>", "hotbus.plugin.state", True),
        ("hotbus.>", "chat.message", False),
        ("*.>", "hotbus.plugin.state", True),
        (">", "chat", True),
        (">", "a.b.c.d", True),
    ],
)
def test_greater_than_matches_one_or_more_trailing_tokens(
    pattern: str, topic: str, expected: bool
) -> None:
    assert topic_matches(pattern, topic) is expected


def test_greater_than_does_not_match_its_prefix_alone() -> None:
    assert not topic_matches("hotbus.>", "hotbus")


@pytest.mark.parametrize(
    ("pattern", "topic", "expected"),
    [
        ("chat.message", "chat.message", True),
        ("chat.message", "chat.messages", False),
        ("chat.message", "chat", False),
        ("chat", "chat.message", False),
    ],
)
def test_topic_without_wildcards_matches_only_itself(
    pattern: str, topic: str, expected: bool
) -> None:
    assert topic_matches(pattern, topic) is expected


@given(tokens=TOKENS, data=st.data())
def test_replacing_any_tokens_with_star_still_matches(
    tokens: list[str], data: st.DataObject
) -> None:
    stars = data.draw(st.lists(st.booleans(), min_size=len(tokens), max_size=len(tokens)))
    pattern = ".".join("*" if star else token for token, star in zip(tokens, stars, strict=True))
    assert topic_matches(validate_pattern(pattern), validate_topic(".".join(tokens)))


@given(prefix=TOKENS, rest=TOKENS, data=st.data())
def test_greater_than_after_a_matching_prefix_matches_every_longer_topic(
    prefix: list[str], rest: list[str], data: st.DataObject
) -> None:
    stars = data.draw(st.lists(st.booleans(), min_size=len(prefix), max_size=len(prefix)))
    head = ["*" if star else token for token, star in zip(prefix, stars, strict=True)]
    pattern = ".".join([*head, ">"])
    assert topic_matches(validate_pattern(pattern), ".".join([*prefix, *rest]))


@given(prefix=TOKENS)
def test_greater_than_never_matches_a_topic_with_nothing_after_the_prefix(
    prefix: list[str],
) -> None:
    assert not topic_matches(".".join([*prefix, ">"]), ".".join(prefix))
