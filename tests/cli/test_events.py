"""``hotbus events``: every topic with a one-line description; ``--schema``: their JSON Schema."""

from __future__ import annotations

import json

import pytest
from hotbus.schemas import registry

from tests.cli.console import Result, hotbus

HOTBUS_TOPICS = [topic for topic in registry.topics() if topic.startswith("hotbus.")]


@pytest.fixture(scope="module")
def listed() -> Result:
    return hotbus("events")


@pytest.fixture(scope="module")
def schema() -> Result:
    return hotbus("events", "--schema")


def descriptions(result: Result) -> dict[str, str]:
    """Topic -> description, from the listing."""
    pairs = (line.split(None, 1) for line in result.out_lines)
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


def test_the_vocabulary_has_hotbus_topics() -> None:
    assert "hotbus.reload.committed" in HOTBUS_TOPICS


def test_events_lists_every_hotbus_topic(listed: Result) -> None:
    assert set(HOTBUS_TOPICS) <= set(descriptions(listed))


def test_each_hotbus_topic_has_its_one_line_description(listed: Result) -> None:
    found = descriptions(listed)
    expected = {
        topic: (registry.get(topic).__doc__ or "").strip().splitlines()[0]
        for topic in HOTBUS_TOPICS
    }
    assert {topic: found.get(topic) for topic in HOTBUS_TOPICS} == expected


def test_no_hotbus_topic_has_an_empty_description(listed: Result) -> None:
    found = descriptions(listed)
    assert [topic for topic in HOTBUS_TOPICS if not found.get(topic)] == []


def test_events_lists_the_topics_sorted(listed: Result) -> None:
    topics = [line.split()[0] for line in listed.out_lines]
    assert topics == sorted(topics)


def test_events_exits_0(listed: Result) -> None:
    assert listed.code == 0


def test_the_schema_is_json_with_every_hotbus_topic(schema: Result) -> None:
    assert set(HOTBUS_TOPICS) <= set(json.loads(schema.out)["topics"])


def test_each_schema_names_its_topic(schema: Result) -> None:
    topics = json.loads(schema.out)["topics"]
    assert {topic: topics[topic]["x-topic"] for topic in HOTBUS_TOPICS} == {
        topic: topic for topic in HOTBUS_TOPICS
    }


def test_each_schema_has_the_fields_of_its_event(schema: Result) -> None:
    topics = json.loads(schema.out)["topics"]
    assert {topic: set(topics[topic]["properties"]) for topic in HOTBUS_TOPICS} == {
        topic: set(registry.get(topic).model_fields) for topic in HOTBUS_TOPICS
    }


def test_the_schema_exits_0(schema: Result) -> None:
    assert schema.code == 0
