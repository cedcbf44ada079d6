"""Smoke test of the reload benchmark: a quick run prints a sane JSON object."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "reload.py"


def test_reload_benchmark_quick_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A sync test: main() runs its own event loop with asyncio.run.
    spec = importlib.util.spec_from_file_location("_hotbus_bench_reload", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its dataclasses look themselves up
    spec.loader.exec_module(module)

    code = module.main(["--json", "--quick"])

    out = capsys.readouterr().out
    assert code == 0, out
    result = json.loads(out)
    for key in ("latency_ms", "atomic_latency_ms", "answer_latency_ms", "atomic_answer_latency_ms"):
        figures = result[key]
        assert set(figures) == {"p50", "p95", "max"}, (key, figures)
        for name, value in figures.items():
            assert isinstance(value, float) and math.isfinite(value) and value > 0, (key, name)
        assert figures["p50"] <= figures["p95"] <= figures["max"], (key, figures)
    for key in ("window_ms", "transaction_ratio_vs_compile_exec", "rss_growth_mb_1000_reloads"):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value), (key, value)
    assert result["window_ms"] > 0
    assert result["transaction_ratio_vs_compile_exec"] > 0
    assert result["saves_per_kind"] == 10
    assert result["rss_reloads"] == 50
    assert result["leaked_versions"] == 0, result["leaked"]
    for key in ("reply_after_commit_ms", "loop_stall_ms", "loop_busy_ms", "save_to_answer_ms"):
        figures = result[key]
        assert set(figures) == {"p50", "p95", "max"}, (key, figures)
        for name, value in figures.items():
            assert isinstance(value, float) and math.isfinite(value) and value >= 0, (key, name)
        assert figures["p50"] <= figures["p95"] <= figures["max"], (key, figures)
    # the new code answers no sooner than the commit that put it there
    assert result["save_to_answer_ms"]["p50"] > 0
    assert result["unload_plugins"] == 60
    for key in ("unload_max_stall_s", "unload_s"):
        value = result[key]
        assert isinstance(value, float) and math.isfinite(value) and value >= 0, (key, value)
    assert result["unload_max_stall_s"] <= result["unload_s"]
    # the new code answers no sooner than the commit that put it there
    for commit, answer in (
        ("latency_ms", "answer_latency_ms"),
        ("atomic_latency_ms", "atomic_answer_latency_ms"),
    ):
        assert result[answer]["p50"] >= result[commit]["p50"], (commit, answer)
    assert set(result["transaction_ratio_rounds"]) == {"median", "low", "high", "rounds"}
    assert result["transaction_ratio_rounds"]["rounds"] == 10
    for key in ("answer_p50_ms", "answer_p95_ms"):
        assert result["targets"][key] > result["window_ms"], key
    assert isinstance(result["misses"], list)
    for style in ("in_place", "atomic"):
        steps = result["breakdown_ms"][style]
        # the part of kernel to loop after watchdog's hand-over, which the window overlaps
        assert 0 <= steps["handed_over"] <= steps["kernel_to_loop"], (style, steps)
