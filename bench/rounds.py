"""Paired rounds: the candidates of a comparison measured side by side, round after round.

A ratio of two figures taken at different moments measures the machine's load as much as the
code: a ratio that is 1.0 by construction reads anywhere from 0.4 to 1.8 on a busy machine. So
every benchmark measures its candidates in the same round, one right after the other, in an
order rotated from round to round, computes the ratio *within* each round, and reports the
median of those ratios with its spread (the lowest and the highest).

    samples = paired({"ours": ours, "floor": floor}, rounds=15)
    ratio = Ratio.of(samples["ours"], samples["floor"])  # ratio.median, ratio.low, ratio.high

A benchmark's ``--check`` exits non-zero when a target is missed: `exit_status`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Ratio", "exit_status", "paired", "percentile", "rotated"]


def rotated(names: Sequence[str], round_index: int) -> list[str]:
    """``names`` rotated by ``round_index``: each candidate leads a round in turn."""
    if not names:
        return []
    shift = round_index % len(names)
    return [*names[shift:], *names[:shift]]


def paired(candidates: Mapping[str, Callable[[], float]], rounds: int) -> dict[str, list[float]]:
    """Run every candidate once per round, in rotated order; each one's figures, by round.

    A candidate is a callable returning one figure (seconds, milliseconds: whatever the caller
    compares). The i-th figure of every candidate comes from the same round.
    """
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for index in range(rounds):
        for name in rotated(names, index):
            samples[name].append(candidates[name]())
    return samples


@dataclass(frozen=True, slots=True)
class Ratio:
    """The median of per-round ratios, with the lowest and highest of them."""

    median: float
    low: float
    high: float
    rounds: int

    @classmethod
    def of(cls, ours: Sequence[float], theirs: Sequence[float]) -> Ratio:
        """The ratios ``ours[i] / theirs[i]`` of paired rounds, summarized."""
        if len(ours) != len(theirs) or not ours:
            raise ValueError("ratios need the same, non-zero number of rounds on both sides")
        ratios = [a / b if b > 0 else float("inf") for a, b in zip(ours, theirs, strict=True)]
        return cls(statistics.median(ratios), min(ratios), max(ratios), len(ratios))

    def as_dict(self) -> dict[str, float | int]:
        """The JSON form: ``median``, ``low``, ``high``, ``rounds``."""
        return {
            "median": round(self.median, 3),
            "low": round(self.low, 3),
            "high": round(self.high, 3),
            "rounds": self.rounds,
        }

    def __str__(self) -> str:
        return f"{self.median:.2f}x ({self.low:.2f}-{self.high:.2f}, {self.rounds} rounds)"


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` percentile (0..1) of ``values``, nearest rank."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1))
    return ordered[rank]


def exit_status(misses: Sequence[str], *, check: bool) -> int:
    """The process status of a benchmark: 1 when checking and a target was missed, else 0."""
    return 1 if check and misses else 0
