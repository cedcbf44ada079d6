"""The `Event` base: topics checked at class definition, frozen strict models, stamped fields."""

from __future__ import annotations

import asyncio
import copy
import gc
import json
import os
import pickle
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

import pytest
from hotbus.schemas import Event, TopicError, current_source, registry, use_source
from pydantic import ValidationError


class Note(Event):
    topic = "test.event.note"

    text: str = ""


# -- topics ------------------------------------------------------------------------------------


def test_invalid_topic_fails_at_class_definition() -> None:
    with pytest.raises(TopicError, match=r"\.Broken: invalid topic 'test\.event\.bad topic'"):

        class Broken(Event):
            topic = "test.event.bad topic"


def test_class_definition_error_carries_the_topic_and_the_class() -> None:
    with pytest.raises(TopicError, match="only allowed in subscriptions") as caught:

        class Wild(Event):
            topic = "test.event.*"

    assert (caught.value.topic, caught.value.owner) == (
        "test.event.*",
        f"{__name__}.{test_class_definition_error_carries_the_topic_and_the_class.__name__}"
        ".<locals>.Wild",
    )


def test_hotbus_topic_defined_outside_schemas_is_rejected() -> None:
    with pytest.raises(TopicError, match=r"topics under 'hotbus\.' are reserved") as caught:

        class Intruder(Event):
            topic = "hotbus.test.intruder"

    assert caught.value.topic == "hotbus.test.intruder"


def test_rejected_hotbus_topic_is_not_registered() -> None:
    with pytest.raises(TopicError, match="reserved"):

        class Intruder(Event):
            topic = "hotbus.test.unregistered"

    assert "hotbus.test.unregistered" not in registry


def test_hotbus_topic_in_a_module_merely_named_like_schemas_is_rejected() -> None:
    source = (
        'from hotbus.schemas import Event\nclass Sneaky(Event):\n    topic = "hotbus.test.sneaky"\n'
    )
    namespace = {"__name__": "schemas_extra"}
    try:
        with pytest.raises(TopicError, match="reserved") as caught:
            exec(compile(source, "schemas_extra.py", "exec"), namespace)
    finally:
        namespace.clear()  # if the class was accepted, let it leave the registry
        gc.collect()
    assert caught.value.owner == "schemas_extra.Sneaky"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No garbage collection inside the block: weakly held classes stay registered."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def test_subclass_without_a_topic_is_not_registered() -> None:
    with _gc_paused():
        before = registry.topics()

        class Abstract(Event):
            pass

        after = registry.topics()
    assert after == before


def test_subclass_reusing_its_parents_topic_leaves_the_parent_registered() -> None:
    class LoudNote(Note):
        pass

    assert registry.get(Note.topic) is Note


# -- model behaviour ---------------------------------------------------------------------------


def test_event_is_frozen() -> None:
    note = Note(text="hi")
    with pytest.raises(ValidationError, match="frozen"):
        note.text = "changed"  # type: ignore[misc]


def test_extra_fields_are_rejected() -> None:
    with pytest.raises(ValidationError, match="surprise") as caught:
        Note.model_validate({"text": "hi", "surprise": 1})
    assert caught.value.errors()[0]["type"] == "extra_forbidden"


def test_event_id_is_a_uuid() -> None:
    assert isinstance(Note().event_id, UUID)


def test_every_event_gets_its_own_event_id() -> None:
    assert len({Note().event_id for _ in range(100)}) == 100


def test_timestamp_is_aware_utc() -> None:
    assert Note().timestamp.tzinfo is UTC


def test_timestamp_is_the_creation_time() -> None:
    before = datetime.now(UTC)
    note = Note()
    assert before <= note.timestamp <= datetime.now(UTC)


def test_aware_timestamp_in_another_zone_is_converted_to_utc() -> None:
    paris_summer = timezone(timedelta(hours=2))
    note = Note(timestamp=datetime(2024, 5, 1, 12, 0, tzinfo=paris_summer))
    assert note.timestamp.isoformat() == "2024-05-01T10:00:00+00:00"


def test_naive_timestamp_is_rejected() -> None:
    with pytest.raises(ValidationError, match="timezone info") as caught:
        Note(timestamp=datetime(2024, 5, 1, 12, 0))
    assert caught.value.errors()[0]["loc"] == ("timestamp",)


def test_source_defaults_to_current_source() -> None:
    assert Note().source == current_source()


def test_use_source_stamps_events_created_inside_the_block() -> None:
    with use_source("bot-1"):
        note = Note()
    assert note.source == "bot-1"


def test_use_source_restores_the_previous_source_after_the_block() -> None:
    outer = current_source()
    with use_source("bot-1"):
        pass
    assert Note().source == outer


def test_leaving_a_nested_use_source_restores_the_outer_one() -> None:
    with use_source("outer"):
        with use_source("inner"):
            pass
        note = Note()
    assert note.source == "outer"


async def test_use_source_reaches_tasks_started_inside_the_block() -> None:
    async def make() -> Note:
        return Note()

    with use_source("bot-2"):
        task = asyncio.create_task(make())
    note = await asyncio.wait_for(task, timeout=5)
    assert note.source == "bot-2"


def test_explicit_source_wins_over_use_source() -> None:
    with use_source("bot-1"):
        note = Note(source="relay")
    assert note.source == "relay"


def test_parse_reads_back_model_dump_json() -> None:
    note = Note(text="hello")
    assert Note.parse(note.model_dump_json()) == note


def test_event_ids_are_random_version_4_uuids() -> None:
    ids = [EventIdProbe().event_id for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {4}
    assert all(uuid.UUID(str(i)) == i for i in ids[:100])


def test_a_forked_child_does_not_repeat_the_parents_event_ids() -> None:
    read, write = os.pipe()
    with warnings.catch_warnings():  # newer Pythons warn about forking a threaded process
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, str(EventIdProbe().event_id).encode())
        os._exit(0)
    os.waitpid(pid, 0)
    child = uuid.UUID(os.read(read, 100).decode())
    os.close(read)
    os.close(write)
    assert child != EventIdProbe().event_id


class EventIdProbe(Event):
    topic = "test.event.id-probe"


def test_event_is_hashable_and_equal_events_hash_alike() -> None:
    note = Note(text="hi")
    copy = Note.parse(note.model_dump_json())
    assert (note == copy, hash(note) == hash(copy)) == (True, True)


def test_a_bad_field_from_the_caller_still_raises_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="text") as caught:
        Note(text=["not", "a", "string"])
    assert caught.value.errors()[0]["loc"] == ("text",)


def test_an_explicit_event_id_is_validated() -> None:
    with pytest.raises(ValidationError, match="event_id") as caught:
        Note(event_id="not-a-uuid")
    assert caught.value.errors()[0]["loc"] == ("event_id",)


def test_an_explicit_event_id_given_as_a_string_is_kept() -> None:
    event_id = uuid.uuid4()
    assert Note(event_id=str(event_id)).event_id == event_id


def test_event_ids_survive_pickling_and_deep_copies() -> None:
    note = Note(text="hi")
    assert (pickle.loads(pickle.dumps(note)), copy.deepcopy(note)) == (note, note)


def test_event_id_dumps_as_a_uuid_string() -> None:
    note = Note()
    assert json.loads(note.model_dump_json())["event_id"] == str(note.event_id)
