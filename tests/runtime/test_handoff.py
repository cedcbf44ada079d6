"""Unpacking a hand-off of the same schema version: what did not fit the new model is named.

Keys the new `State` model does not declare are reported (with the fields left at their
defaults) wherever they are in the data; keys the model takes in some other way (extras it
allows, a validator renaming them) are not; data that fails validation raises, naming fields.
"""

from __future__ import annotations

from typing import Any

import pytest
from hotbus import Plugin, State
from hotbus.runtime._plugins.handoff import MISMATCH_HINT, Handoff, pack, unpack
from hotbus.schemas import PluginError, StateMismatch
from pydantic import BaseModel, ConfigDict, Field, model_validator


class Item(BaseModel):
    name: str = ""


class Kept(BaseModel):
    model_config = ConfigDict(extra="allow")


class Tally(State):
    total: int = 0
    items: list[Item] = Field(default_factory=list)
    best: Item = Item()
    notes: Kept = Kept()

    @model_validator(mode="before")
    @classmethod
    def _renamed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "old_total" in data:
            data = {**data, "total": data["old_total"]}
            del data["old_total"]
        return data


class Strict(State):
    model_config = ConfigDict(extra="forbid")
    total: int = 0


class Counter(Plugin):
    name = "counter"
    version = "1.0.0"
    state_model = Tally


class StrictCounter(Plugin):
    name = "counter"
    version = "1.0.0"
    state_model = Strict


def mismatch_of(data: dict[str, Any]) -> StateMismatch | None:
    unpacked = unpack(Counter.__new__(Counter), Handoff(1, data))
    assert unpacked.state is not None
    return unpacked.mismatch


def test_data_that_fits_exactly_is_not_reported() -> None:
    handoff = pack("counter", Tally(total=3, items=[Item(name="a")]))
    assert handoff is not None
    assert mismatch_of(handoff.data) is None


def test_a_field_added_with_a_default_is_not_reported() -> None:
    assert mismatch_of({"total": 3}) is None


def test_a_key_the_model_does_not_declare_is_reported_with_the_fields_left_at_defaults() -> None:
    mismatch = mismatch_of({"count": 3, "items": []})
    assert mismatch is not None
    assert (mismatch.plugin, mismatch.schema_version, mismatch.model) == ("counter", 1, "Tally")
    assert (mismatch.dropped, mismatch.defaulted) == (["count"], ["total", "best", "notes"])
    assert mismatch.hint == MISMATCH_HINT


def test_keys_dropped_inside_nested_models_are_named_by_their_path() -> None:
    data = {"total": 1, "best": {"title": "x"}, "items": [{"title": "a"}, {"title": "b"}]}
    mismatch = mismatch_of(data)
    assert mismatch is not None
    assert mismatch.dropped == ["items[].title", "best.title"]


def test_extras_a_model_allows_are_kept_and_not_reported() -> None:
    assert mismatch_of({"total": 1, "notes": {"anything": 1}}) is None


def test_a_key_a_validator_renames_is_not_reported() -> None:
    unpacked = unpack(Counter.__new__(Counter), Handoff(1, {"old_total": 4}))
    assert (unpacked.mismatch, unpacked.state) == (None, Tally(total=4))


def test_a_value_that_fails_validation_raises_naming_the_field_and_the_fix() -> None:
    with pytest.raises(PluginError, match=r"total: Input should be a valid integer") as caught:
        unpack(Counter.__new__(Counter), Handoff(1, {"total": "many"}))
    assert caught.value.plugin == "counter"
    assert "bump schema_version and define migrate_state" in str(caught.value)


def test_a_model_forbidding_extras_raises_naming_the_key() -> None:
    with pytest.raises(PluginError, match=r"against Strict, of the same schema version: count:"):
        unpack(StrictCounter.__new__(StrictCounter), Handoff(1, {"count": 3}))
