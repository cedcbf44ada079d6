"""An event as JSON: the object ``--events-jsonl`` writes on each line and the dashboard streams.

One function builds it for every output, so that a line of the events file and a ``data:`` line
of the dashboard's event stream hold the same object for the same event.
"""

from __future__ import annotations

import json
from typing import Any

from hotbus.schemas import Event

__all__ = ["event_json", "event_object"]


def event_object(event: Event) -> dict[str, Any]:
    """``event`` as a JSON-ready dict: its ``topic``, then its fields as ``model_dump(mode="json")``
    gives them."""
    return {"topic": event.topic, **event.model_dump(mode="json")}


def event_json(event: Event) -> str:
    """`event_object` as JSON on one line, in UTF-8 whatever the paths it names.

    A file name that is not valid UTF-8 holds the bytes that are not as surrogates
    (``os.fsdecode``): each is written as its JSON escape (``\\udce9`` for the byte 0xE9), so
    the line is valid UTF-8 and ``os.fsencode(json.loads(line)["path"])`` gives the name back.
    """
    text = json.dumps(event_object(event), ensure_ascii=False)
    if text.isascii():
        return text
    # Only a lone surrogate cannot be encoded, and it only occurs inside a JSON string, where
    # Python's backslash escape of it (\udcXX) is also its JSON escape.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
