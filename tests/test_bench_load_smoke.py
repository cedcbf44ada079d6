"""Smoke test of the load benchmark: a quick run (tiny sizes) prints a sane JSON object with
the start ratios (compiling, and with the code cached), the growth keys and the misses."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "load.py"


def test_load_benchmark_quick_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location("_hotbus_bench_load", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)
    spec.loader.exec_module(module)

    before = sys.dont_write_bytecode
    code = module.main(["--json", "--quick"])
    assert sys.dont_write_bytecode is before  # the benchmark's own setting does not leak

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    assert result["plugins"] == 50
    assert result["active"] == 50
    for key in (
        "load_all_s",
        "stop_all_s",
        "ratio_vs_compile_exec",
        "warm_load_all_s",
        "warm_ratio_vs_compile_exec",
    ):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
    for key in (
        "load_per_plugin_growth_5000_vs_100",
        "leaf_reload_growth_5000_vs_100",
        "status_ms_5000",
    ):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, value)
    assert result["growth_sizes"] == {"small": 12, "large": 40}
    assert result["ratio_vs_compile_exec_spread"]["rounds"] == 1
    assert result["warm_ratio_vs_compile_exec_spread"]["rounds"] == 1
    assert result["leaf_reload_ms_large"]["rounds"] == 3
    assert result["growth_failures"] == []
    assert isinstance(result["misses"], list)
    assert all(isinstance(miss, str) for miss in result["misses"])
