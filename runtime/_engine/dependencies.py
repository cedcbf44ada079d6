"""The one dependency check: are a plugin's requirements met by what is available?

Starting a plugin asks it of the running plugins, ``hotbus check`` of the staged ones, and a
reload of the new versions of its members; each words the answer for its own audience.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import final

from hotbus.schemas import PluginManifest, Requirement

__all__ = ["MISSING", "Unmet", "unmet"]

#: What `unmet`'s ``available`` answers for a plugin nobody knows.
MISSING = "missing"


@final
@dataclass(frozen=True, slots=True)
class Unmet:
    """Why a plugin cannot run against what is available: a cycle, or one requirement."""

    #: The requirement not met (None when the plugin is on a dependency cycle).
    requirement: Requirement | None = None
    #: The cycle the plugin is on, as a closed path.
    cycle: tuple[str, ...] = ()
    #: Why the required plugin is unavailable: `MISSING`, ``"failed"``, ``"is blocked"``, ...
    unavailable: str = ""
    #: The version found when it does not satisfy the requirement.
    found_version: str = ""

    def reason(self) -> str:
        """A short reason, as lifecycle transitions and status rows show it."""
        if self.requirement is None:
            return "dependency cycle " + " -> ".join(self.cycle)
        if self.unavailable == MISSING:
            return f"missing dependency {self.requirement}"
        if self.unavailable:
            return f"dependency {self.requirement.name} {self.unavailable}"
        return f"needs {self.requirement}, found {self.requirement.name} {self.found_version}"


def unmet(
    name: str,
    manifest: PluginManifest,
    cycles: Mapping[str, list[str]],
    available: Callable[[str], PluginManifest | str],
) -> Unmet | None:
    """The first unmet dependency of plugin ``name``, or None when all are met.

    Args:
        name: the plugin.
        manifest: its manifest (the version being checked).
        cycles: every plugin on a dependency cycle, with its cycle.
        available: the manifest of a required plugin, or why it is unavailable (`MISSING`,
            ``"failed"``, ``"is blocked"``, ...).
    """
    if name in cycles:
        return Unmet(cycle=tuple(cycles[name]))
    for requirement in manifest.requires:
        found = available(requirement.name)
        if isinstance(found, str):
            return Unmet(requirement, unavailable=found)
        if not requirement.satisfied_by(found.version):
            return Unmet(requirement, found_version=found.version)
    return None
