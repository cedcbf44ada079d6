"""Smoke test of the bus benchmark: a quick run prints every tracked figure, sane; --check
exits 1 on a missed target; --peers compares with the installed peers and names the others."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bus.py"

#: The tracked keys of the JSON object and the receiver counts each must carry.
REQUIRED = {
    "dispatch_ratio_vs_blinker": ("1", "10", "100"),
    "async_ratio_vs_blinker": ("1", "10", "100"),
    "loop_ratio": ("10", "100"),
    "async_loop_ratio": ("10", "100"),
    "wildcard_ratio_vs_exact": ("1", "10", "100"),
    "publish_per_s": ("1", "10", "100"),
    "e2e_ratio_vs_baseline": ("1", "10", "100"),
    "e2e_speedup_vs_baseline": ("1", "10", "100"),
}
#: Tracked figures that are one number each.
SINGLE = (
    "event_construction_us",
    "wildcard_churn_ratio_vs_exact",
    "wildcard_cached_ratio_vs_exact",
)


def _bench(monkeypatch: pytest.MonkeyPatch) -> Any:
    spec = importlib.util.spec_from_file_location("_hotbus_bench_bus", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_bus_benchmark_quick_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _bench(monkeypatch)

    code = module.main(["--json", "--quick"])

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    for key, counts in REQUIRED.items():
        assert key in result, key
        figures = result[key]
        assert isinstance(figures, dict), (key, figures)
        for count in counts:
            assert count in figures, (key, count)
            value = figures[count]
            assert isinstance(value, int | float) and not isinstance(value, bool), (key, value)
            assert math.isfinite(value) and value > 0, (key, count, value)
    for key in SINGLE:
        assert isinstance(result[key], float) and math.isfinite(result[key]) and result[key] > 0
    built = result["construction_us"]
    assert set(built) == {
        "hotbus",
        "pydantic_same_fields",
        "pydantic_same_fields_constant_defaults",
        "baseline_event",
    }
    assert set(result["wildcard_topics_us"]) == {
        "exact_churn",
        "wildcard_churn",
        "churn_only",
        "exact_cached",
        "wildcard_cached",
    }
    assert isinstance(result["misses"], list)


@pytest.mark.parametrize(("check", "code"), [([], 0), (["--check"], 1)])
def test_bus_benchmark_check_fails_on_a_missed_target(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    check: list[str],
    code: int,
) -> None:
    module = _bench(monkeypatch)
    monkeypatch.setattr(module, "misses", lambda result: ["loop_ratio[10]=2.50 > 2.0"])

    returned = module.main(["--json", "--quick", *check])

    assert (returned, json.loads(capsys.readouterr().out)["misses"]) == (
        code,
        ["loop_ratio[10]=2.50 > 2.0"],
    )


def test_bus_benchmark_peers_names_the_peers_it_skipped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    module = _bench(monkeypatch)
    monkeypatch.setattr(module, "PEERS", {"blinker": "blinker", "nopeer": "hotbus_no_such_peer"})

    code = module.main(["--peers", "--json", "--quick"])

    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (list(result["peers"]), result["peers_skipped"]) == (
        ["blinker"],
        ["nopeer (not installed; pip install -e '.[bench]')"],
    )
    assert set(result["peer_ratio"]["sync"]["blinker"]) == {"1", "10", "100"}
