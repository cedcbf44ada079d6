"""Routing by pattern: a publish reaches exactly the subscriptions whose topic or pattern matches
its topic by NATS rules (`topic_matches`), whatever patterns come and go before it."""

from __future__ import annotations

import asyncio
import itertools

from hotbus.bus import Bus, Subscription
from hotbus.schemas import Event, topic_matches
from hypothesis import given, settings
from hypothesis import strategies as st

TOKENS = ("a", "b", "c")

#: An event class for every topic of one to three tokens from TOKENS.
EVENTS: dict[str, type[Event]] = {
    topic: type(
        f"Topic_{topic.replace('.', '_')}",
        (Event,),
        {"topic": f"test.patterns.{topic}", "__module__": __name__},
    )
    for size in (1, 2, 3)
    for topic in (".".join(tokens) for tokens in itertools.product(TOKENS, repeat=size))
}


def _pattern(tokens: list[str], rest: bool) -> str:
    return ".".join(["test", "patterns", *tokens, *([">"] if rest else [])])


#: Patterns under ``test.patterns.``: tokens, ``*``, and ``>`` last.
PATTERNS = st.builds(
    _pattern, st.lists(st.sampled_from([*TOKENS, "*"]), min_size=0, max_size=3), st.booleans()
)


def _expected(patterns: set[str]) -> dict[str, set[str]]:
    return {
        topic: {p for p in patterns if p == cls.topic or topic_matches(p, cls.topic)}
        for topic, cls in EVENTS.items()
    }


def _record(bus: Bus, pattern: str, into: dict[str, set[str]]) -> Subscription:
    def handler(event: Event) -> None:
        into.setdefault(event.topic.removeprefix("test.patterns."), set()).add(pattern)

    return bus.subscribe(pattern, handler)


def _publish_every_topic(bus: Bus) -> dict[str, set[str]]:
    reached: dict[str, set[str]] = {}
    subs = [_record(bus, sub.signal.name, reached) for sub in bus.subscriptions()]

    async def publish_all() -> None:
        for cls in EVENTS.values():
            await bus.publish(cls())

    asyncio.run(publish_all())
    for sub in subs:
        sub.cancel()
    return {topic: reached.get(topic, set()) for topic in EVENTS}


@settings(max_examples=60, deadline=None)
@given(st.sets(PATTERNS, max_size=8), st.sets(PATTERNS, max_size=8))
def test_a_publish_reaches_exactly_the_matching_patterns_as_they_come_and_go(
    kept: set[str], dropped: set[str]
) -> None:
    bus = Bus()
    placeholders = {p: bus.subscribe(p, lambda event: None) for p in kept | dropped}
    for pattern in dropped - kept:
        placeholders[pattern].cancel()

    assert _publish_every_topic(bus) == _expected(kept)


def test_a_pattern_subscribed_again_after_its_last_subscription_ended_matches_again() -> None:
    bus = Bus()
    bus.subscribe("test.patterns.a.*", lambda event: None).cancel()
    bus.subscribe("test.patterns.a.*", lambda event: None)

    assert _publish_every_topic(bus)["a.b"] == {"test.patterns.a.*"}


def test_exact_topics_and_patterns_of_one_topic_are_all_reached() -> None:
    bus = Bus()
    for pattern in ("test.patterns.a.b", "test.patterns.a.*", "test.patterns.>", "test.>"):
        bus.subscribe(pattern, lambda event: None)

    assert _publish_every_topic(bus)["a.b"] == {
        "test.patterns.a.b",
        "test.patterns.a.*",
        "test.patterns.>",
        "test.>",
    }
