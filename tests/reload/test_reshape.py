"""`reshape` gives the shape `shape_of` gives, parsing only the statements an edit touched."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hotbus.runtime._loading.shape import Shape, reshape, shape_of

PLUGINS = Path(__file__).resolve().parents[2] / "plugins"
PATH = Path("m.py")

MODULE = b'''\
"""A module."""

import os

LIMIT = 3


@decorated
def helper(x: int) -> int:
    return x * LIMIT


class Thing:
    size = 1

    def grow(self) -> int:
        if self.size:
            return 2
        return 1


def tail() -> None:
    pass
'''

#: Edits of MODULE: (what, old text, new text). Each is checked against a parse of the whole.
EDITS = [
    ("a module constant", b"LIMIT = 3", b"LIMIT = 4"),
    ("a function body", b"return x * LIMIT", b"return x * LIMIT + 1"),
    (
        "a line added to the end of a body",
        b"    return x * LIMIT\n",
        b"    return x * LIMIT\n    y = 2\n",
    ),
    (
        "an indented line after a class",
        b"        return 1\n",
        b"        return 1\n\n    extra = 2\n",
    ),
    (
        "an else added after an if",
        b"            return 2\n",
        b"            return 2\n        else:\n            pass\n",
    ),
    ("a module-level else", b"LIMIT = 3\n", b"if os:\n    LIMIT = 3\nelse:\n    LIMIT = 4\n"),
    ("a bracket left open", b"LIMIT = 3", b"LIMIT = (3,"),
    ("a bracket opened and closed further down", b"LIMIT = 3\n", b"LIMIT = (3,\n"),
    ("a string left open", b"LIMIT = 3", b'LIMIT = """3'),
    ("a line continued", b"LIMIT = 3\n", b"LIMIT = 3 + \\\n"),
    ("statements sharing a line", b"LIMIT = 3", b"LIMIT = 3; OTHER = 4"),
    ("a decorator added", b"class Thing:", b"@dataclass\nclass Thing:"),
    ("a decorator removed", b"@decorated\n", b""),
    ("a statement removed", b"import os\n", b""),
    ("lines added above everything", b'"""A module."""', b'#!/usr/bin/env python\n"""A module."""'),
    ("the docstring changed", b'"""A module."""', b'"""Another module."""'),
    ("a comment added between statements", b"\n\nclass Thing", b"\n# things\n\nclass Thing"),
    (
        "a function added at the end",
        b"    pass\n",
        b"    pass\n\n\ndef more() -> int:\n    return 5\n",
    ),
    ("everything removed", MODULE, b""),
    ("a dedent in a body", b"            return 2", b"    return 2"),
    ("windows line endings", b"\n", b"\r\n"),
    ("an encoding declared", b'"""A module."""', b'# -*- coding: latin-1 -*-\n"""A module."""'),
]


def _same(old_source: bytes, new_source: bytes) -> Shape | None:
    """The shape of ``new_source`` by `reshape`, checked against `shape_of`; None for both
    refusing to parse it."""
    old = shape_of(old_source, PATH)
    try:
        expected = shape_of(new_source, PATH)
    except SyntaxError:
        with pytest.raises(SyntaxError):
            reshape(old, old_source, new_source, PATH)
        return None
    found = reshape(old, old_source, new_source, PATH)
    assert found == expected
    assert found.spans == expected.spans
    return found


@pytest.mark.parametrize(("what", "before", "after"), EDITS, ids=[e[0] for e in EDITS])
def test_an_edit_gives_the_shape_of_the_whole_source(
    what: str, before: bytes, after: bytes
) -> None:
    assert before in MODULE, what
    _same(MODULE, MODULE.replace(before, after, 1 if what != "windows line endings" else -1))


@pytest.mark.parametrize(
    "after", [b"LIMIT = 3; OTHER = 5", b"LIMIT = 4; OTHER = 4", b"LIMIT = 3\nOTHER = 4"]
)
def test_an_edit_of_statements_sharing_a_line_gives_the_shape_of_the_whole_source(
    after: bytes,
) -> None:
    shared = MODULE.replace(b"LIMIT = 3", b"LIMIT = 3; OTHER = 4")
    _same(shared, shared.replace(b"LIMIT = 3; OTHER = 4", after))


def test_the_statements_an_edit_did_not_touch_are_not_parsed_again() -> None:
    old = shape_of(MODULE, PATH)
    new = reshape(old, MODULE, MODULE.replace(b"LIMIT = 3", b"LIMIT = 4"), PATH)
    unchanged = [i for i, (a, b) in enumerate(zip(old.items, new.items, strict=True)) if a is b]
    # Everything but the constant is the old item itself (moved items would be copies).
    assert [old.items[i].name for i in range(len(old.items)) if i not in unchanged] == [""]
    assert [item.text for item in new.items if item not in old.items] == [b"LIMIT = 4"]


def test_items_below_an_edit_move_with_the_lines_it_added() -> None:
    new_source = MODULE.replace(b"LIMIT = 3\n", b"LIMIT = 3\nOTHER = 4\n\n")
    new = _same(MODULE, new_source)
    assert new is not None
    assert {d.qualname: d.first_line for d in new.defs} == {
        "helper": 10,
        "Thing.grow": 18,
        "tail": 24,
    }


def test_an_unchanged_source_keeps_its_shape() -> None:
    old = shape_of(MODULE, PATH)
    assert reshape(old, MODULE, MODULE, PATH) is old


def _edit(rng: random.Random, lines: list[bytes], pool: list[bytes]) -> None:
    """One random line-level edit of ``lines``: deleted, inserted, changed in one character."""
    where = rng.randrange(len(lines) + 1)
    kind = rng.random()
    if kind < 0.3 and lines:
        del lines[min(where, len(lines) - 1)]
    elif kind < 0.6:
        lines.insert(where, rng.choice(pool))
    elif lines:
        index = min(where, len(lines) - 1)
        line = lines[index]
        cut = rng.randrange(len(line) + 1)
        extra = rng.choice([b"1", b" ", b"(", b")", b'"', b":", b"\\\n", b"#", b"    ", b"'''"])
        lines[index] = line[:cut] + extra + line[cut:]


def test_random_edits_of_the_bundled_plugins_give_the_shape_of_the_whole_source() -> None:
    sources = [path.read_bytes() for path in sorted(PLUGINS.glob("*.py"))]
    assert sources
    pool = [line for source in sources for line in source.splitlines(keepends=True)]
    rng = random.Random(14)
    parsed = 0
    for _ in range(400):
        source = rng.choice(sources)
        lines = source.splitlines(keepends=True)
        for _ in range(rng.choice((1, 1, 2, 3))):
            _edit(rng, lines, pool)
        parsed += _same(source, b"".join(lines)) is not None
    assert parsed > 100  # most edits still parse: the comparison is not only of refusals
