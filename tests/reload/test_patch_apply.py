"""Applying a patch is all or nothing: a function that refuses its new code undoes the others."""

from __future__ import annotations

import types

import pytest
from hotbus.runtime._reload.patch import Patch, Replacement, apply


def first() -> int:
    return 1


def second() -> int:
    return 2


def closing_over() -> types.FunctionType:
    captured = 3

    def inner() -> int:
        return captured

    return inner  # type: ignore[return-value]


def test_a_function_refusing_its_code_restores_every_function_already_patched() -> None:
    replaced = (lambda: 10).__code__
    refused = closing_over().__code__  # needs one free variable: second has none
    patch = Patch(
        replacements=[
            Replacement(first, replaced, "new doc", "first"),  # type: ignore[arg-type]
            Replacement(second, refused, None, "second"),  # type: ignore[arg-type]
        ]
    )
    with pytest.raises(ValueError, match="free vars"):
        apply(patch)
    assert (first(), second(), first.__doc__) == (1, 2, None)


def test_every_function_gets_its_new_code_and_docstring() -> None:
    def target() -> int:
        """Old."""
        return 1

    def source() -> int:
        """New."""
        return 2

    apply(Patch(replacements=[Replacement(target, source.__code__, source.__doc__, "target")]))  # type: ignore[arg-type]
    assert (target(), target.__doc__) == (2, "New.")
