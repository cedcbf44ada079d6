"""A plugin's declaration, validated: name, version and what it requires."""

from __future__ import annotations

import re
from functools import total_ordering
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["PLUGIN_NAME_PATTERN", "PluginManifest", "Requirement", "SemVer"]

#: A plugin name: a lowercase Python identifier.
PLUGIN_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
_SEMVER = re.compile(
    r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
_REQUIREMENT = re.compile(r"^\s*([a-z][a-z0-9_]*)\s*(?:>=\s*(\S+))?\s*$")


@total_ordering
class SemVer:
    """A semantic version (``MAJOR.MINOR.PATCH[-pre][+build]``), ordered by precedence."""

    __slots__ = ("major", "minor", "patch", "prerelease", "text")

    def __init__(self, text: str) -> None:
        match = _SEMVER.match(text)
        if match is None:
            raise ValueError(
                f"{text!r} is not a semantic version: use MAJOR.MINOR.PATCH such as '1.2.0'"
            )
        self.text = text
        self.major, self.minor, self.patch = (int(match.group(i)) for i in (1, 2, 3))
        self.prerelease = match.group(4) or ""

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
        pre: tuple[tuple[int, int | str], ...] = tuple(
            (0, int(p)) if p.isdigit() else (1, p) for p in self.prerelease.split(".") if p
        )
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SemVer) and self._key() == other._key()

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"SemVer({self.text!r})"


class Requirement(BaseModel):
    """A dependency on another plugin, optionally with a minimum version."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=PLUGIN_NAME_PATTERN)
    min_version: str | None = None

    @field_validator("min_version")
    @classmethod
    def _semver(cls, value: str | None) -> str | None:
        if value is not None:
            SemVer(value)
        return value

    @classmethod
    def parse(cls, spec: str | Requirement) -> Self:
        """Parse ``"rng"`` or ``"rng>=1.2.0"``."""
        if isinstance(spec, Requirement):
            return cls(name=spec.name, min_version=spec.min_version)
        match = _REQUIREMENT.match(spec)
        if match is None:
            raise ValueError(
                f"{spec!r} is not a requirement: write a plugin name, optionally followed by "
                "'>=' and a version, such as 'rng' or 'rng>=1.2.0'"
            )
        return cls(name=match.group(1), min_version=match.group(2))

    def satisfied_by(self, version: str) -> bool:
        """Whether a plugin declaring ``version`` meets this requirement."""
        return self.min_version is None or SemVer(version) >= SemVer(self.min_version)

    def __str__(self) -> str:
        return self.name if self.min_version is None else f"{self.name}>={self.min_version}"


class PluginManifest(BaseModel):
    """What a plugin declares about itself, validated."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=PLUGIN_NAME_PATTERN, description="A lowercase identifier.")
    version: str = Field(description="The declared semantic version.")
    requires: tuple[Requirement, ...] = ()

    @field_validator("version")
    @classmethod
    def _semver(cls, value: str) -> str:
        SemVer(value)
        return value

    @field_validator("requires", mode="before")
    @classmethod
    def _requirements(cls, value: object) -> object:
        if isinstance(value, str):
            value = (value,)
        if isinstance(value, list | tuple):
            return tuple(Requirement.parse(v) if isinstance(v, str) else v for v in value)
        return value
