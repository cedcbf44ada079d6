"""bench/rounds.py: candidates are measured in the same rounds, in rotated order, and ratios
are taken within each round."""

from __future__ import annotations

import pytest

from bench.rounds import Ratio, exit_status, paired, percentile, rotated


def test_each_candidate_leads_a_round_in_turn() -> None:
    assert [rotated(["a", "b", "c"], i) for i in range(4)] == [
        ["a", "b", "c"],
        ["b", "c", "a"],
        ["c", "a", "b"],
        ["a", "b", "c"],
    ]


def test_paired_rounds_run_every_candidate_once_per_round_in_rotated_order() -> None:
    order: list[str] = []
    clock = iter(range(100))

    def candidate(name: str) -> float:
        order.append(name)
        return float(next(clock))

    samples = paired({"a": lambda: candidate("a"), "b": lambda: candidate("b")}, rounds=3)
    assert order == ["a", "b", "b", "a", "a", "b"]
    assert samples == {"a": [0.0, 3.0, 4.0], "b": [1.0, 2.0, 5.0]}


def test_a_ratio_is_the_median_of_the_ratios_within_rounds() -> None:
    """A load spike hits both candidates of its round: the per-round ratio stays 2."""
    ratio = Ratio.of([2.0, 200.0, 4.0], [1.0, 100.0, 2.0])
    assert (ratio.median, ratio.low, ratio.high, ratio.rounds) == (2.0, 2.0, 2.0, 3)


def test_a_ratio_reports_its_spread() -> None:
    ratio = Ratio.of([1.0, 3.0, 2.0], [1.0, 1.0, 1.0])
    assert ratio.as_dict() == {"median": 2.0, "low": 1.0, "high": 3.0, "rounds": 3}


def test_a_ratio_needs_paired_rounds() -> None:
    with pytest.raises(ValueError, match="same, non-zero number of rounds"):
        Ratio.of([1.0], [1.0, 2.0])


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95), percentile(values, 1.0)) == (
        50.0,
        95.0,
        100.0,
    )


def test_checking_fails_only_on_a_miss() -> None:
    assert (exit_status([], check=True), exit_status(["x"], check=True)) == (0, 1)
    assert exit_status(["x"], check=False) == 0
