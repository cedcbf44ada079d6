"""Topics and patterns: NATS subjects, validated and matched."""

from __future__ import annotations

import re
from functools import lru_cache

from hotbus.schemas._errors import TopicError

__all__ = ["is_pattern", "topic_matches", "validate_pattern", "validate_topic"]

_TOKEN = re.compile(r"[A-Za-z0-9_-]+")


def validate_topic(topic: object, *, owner: str | None = None) -> str:
    """Return ``topic`` if it is a valid concrete topic (no wildcards), else raise `TopicError`."""
    if not isinstance(topic, str):
        raise TopicError(topic, f"expected a string, got {type(topic).__name__}", owner=owner)
    if not topic:
        raise TopicError(topic, "it is empty", owner=owner)
    for token in topic.split("."):
        if token in ("*", ">"):
            raise TopicError(
                topic, f"wildcard {token!r} is only allowed in subscriptions", owner=owner
            )
        if not _TOKEN.fullmatch(token):
            reason = "it has an empty token" if not token else f"token {token!r} is not allowed"
            raise TopicError(topic, reason, owner=owner)
    return topic


def validate_pattern(pattern: object, *, owner: str | None = None) -> str:
    """Return ``pattern`` if it is a valid topic or wildcard pattern, else raise `TopicError`."""
    if not isinstance(pattern, str):
        raise TopicError(pattern, f"expected a string, got {type(pattern).__name__}", owner=owner)
    if not pattern:
        raise TopicError(pattern, "it is empty", owner=owner)
    tokens = pattern.split(".")
    for index, token in enumerate(tokens):
        if token == "*":
            continue
        if token == ">":
            if index != len(tokens) - 1:
                raise TopicError(pattern, "'>' must be the last token", owner=owner)
            continue
        if not _TOKEN.fullmatch(token):
            reason = "it has an empty token" if not token else f"token {token!r} is not allowed"
            raise TopicError(pattern, reason, owner=owner)
    return pattern


def is_pattern(pattern: str) -> bool:
    """Whether ``pattern`` contains a wildcard token."""
    return any(token in ("*", ">") for token in pattern.split("."))


@lru_cache(maxsize=4096)
def _split(value: str) -> tuple[str, ...]:
    return tuple(value.split("."))


def topic_matches(pattern: str, topic: str) -> bool:
    """Whether concrete ``topic`` matches ``pattern`` (NATS rules: ``*`` one token, ``>`` the rest).

    >>> topic_matches("hotbus.plugin.*", "hotbus.plugin.state")
    True
    >>> topic_matches("hotbus.>", "hotbus")
    False
    """
    pattern_tokens = _split(pattern)
    topic_tokens = _split(topic)
    for index, token in enumerate(pattern_tokens):
        if token == ">":
            return len(topic_tokens) > index
        if index >= len(topic_tokens):
            return False
        if token != "*" and token != topic_tokens[index]:
            return False
    return len(pattern_tokens) == len(topic_tokens)
