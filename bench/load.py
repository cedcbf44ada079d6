"""Benchmark: load and start many plugins, against compiling and executing their sources bare.

Generates ``--plugins`` (default 1000) small plugin modules, some requiring earlier ones, into a
temporary directory. Each round first compiles and executes every source into a fresh module
namespace (the baseline: the least any loader must do), then starts a new `Runtime` on the
directory and stops it again. The minimum over the rounds is reported::

    python bench/load.py            # a table
    python bench/load.py --json     # one JSON object
    python bench/load.py --quick    # 50 plugins, one round (a smoke test)
    python bench/load.py --check    # exit status 1 if the ratio misses its target

Target: ``ratio_vs_compile_exec`` (runtime start time / baseline time) at most 1.5.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/load.py``, this file's directory leads sys.path and bench/bus.py
    # would shadow the ``bus`` package: drop that entry before importing hotbus.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]

import argparse
import asyncio
import gc
import itertools
import json
import math
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hotbus import Runtime
from hotbus.schemas import Event, PluginState

#: ``ratio_vs_compile_exec`` the runtime should stay under.
TARGET_RATIO: Final = 1.5
#: Topics the generated plugins subscribe to.
PING: Final = "bench.ping"
PONG: Final = "bench.pong"

_baseline_ids = itertools.count(1)


# -- generating plugins --------------------------------------------------------------------------


def plugin_name(index: int) -> str:
    """The name of the ``index``-th plugin (1-based): ``p0001``, ``p0002``, ..."""
    return f"p{index:04d}"


def requirements(index: int) -> list[str]:
    """What plugin ``index`` requires, deterministically: 0, 1 or 2 earlier plugins.

    Every 10th plugin requires the one before it; every 25th also requires (at a minimum
    version) the one 20 before it.
    """
    found: list[str] = []
    if index % 10 == 0 and index > 1:
        found.append(plugin_name(index - 1))
    if index % 25 == 0 and index > 20:
        found.append(f"{plugin_name(index - 20)}>=1.0.0")
    return found


def _tuple_literal(items: Sequence[str]) -> str:
    quoted = [f'"{item}"' for item in items]
    if len(quoted) == 1:
        return f"({quoted[0]},)"
    return f"({', '.join(quoted)})"


def plugin_source(index: int) -> str:
    """The source of plugin ``index``: a config model, a plugin class, a setup, handlers."""
    name = plugin_name(index)
    model = f"P{index:04d}Config"
    requires = requirements(index)
    deps = [r.split(">=")[0] for r in requires]
    lines = [
        f'"""Benchmark plugin {name}."""',
        "",
        "from __future__ import annotations",
        "",
        "from pydantic import BaseModel, Field",
        "",
        "from hotbus.runtime import Plugin, subscribe",
        "from hotbus.schemas import Event",
        "",
        "",
        f"class {model}(BaseModel):",
        f'    greeting: str = "hello from {name}"',
        f"    limit: int = Field(default={index % 7 + 1}, ge=1)",
        "    verbose: bool = False",
        "",
        "",
        f"class Bench{name.capitalize()}(Plugin):",
        f'    name = "{name}"',
        '    version = "1.0.0"',
        f"    requires = {_tuple_literal(requires)}",
        f"    config_model = {model}",
        f"    config: {model}",
        "",
        "    async def setup(self) -> None:",
        "        self.seen = 0",
        *(f'        self.ctx.get_plugin("{dep}")' for dep in deps),
        "        if self.config.verbose:",
        '            self.ctx.logger.info("%s ready", self.config.greeting)',
        "",
        f'    @subscribe("{PING}")',
        "    async def on_ping(self, event: Event) -> None:",
        "        self.seen = min(self.seen + 1, self.config.limit)",
    ]
    if index % 3 == 0:
        lines += [
            "",
            f'    @subscribe("{PONG}", priority=1)',
            "    def on_pong(self, event: Event) -> None:",
            "        self.seen = 0",
        ]
    return "\n".join(lines) + "\n"


def generate(directory: Path, count: int) -> list[Path]:
    """Write ``count`` plugin modules into ``directory``; returns their paths."""
    paths = []
    for index in range(1, count + 1):
        path = directory / f"{plugin_name(index)}.py"
        path.write_text(plugin_source(index), encoding="utf-8")
        paths.append(path)
    return paths


# -- the two measurements ------------------------------------------------------------------------


def compile_exec_all(directory: Path) -> float:
    """The baseline: compile and execute every source in a fresh module; returns seconds."""
    gc.collect()
    begin = time.perf_counter()
    for path in sorted(directory.glob("*.py")):
        code = compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
        name = f"_hotbus_bench_baseline_{next(_baseline_ids)}"
        module = types.ModuleType(name)
        module.__file__ = str(path)
        sys.modules[name] = module
        try:
            exec(code, module.__dict__)
        finally:
            del sys.modules[name]
    return time.perf_counter() - begin


class EventCounter:
    """A sync handler counting every event it sees."""

    __slots__ = ("count",)

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, event: Event) -> None:
        self.count += 1


@dataclass(frozen=True, slots=True)
class RuntimeRound:
    """One start and stop of a `Runtime` on the plugin directory."""

    start_s: float
    stop_s: float
    active: int
    events_start: int
    events_stop: int
    failures: list[str]


async def runtime_round(directory: Path) -> RuntimeRound:
    """Start a fresh `Runtime` on ``directory``, check it, stop it; time both."""
    runtime = Runtime([directory], entry_points=False, log_events=False, watch=False)
    counter = EventCounter()
    runtime.bus.subscribe(">", counter)
    gc.collect()
    begin = time.perf_counter()
    await runtime.start()
    start_s = time.perf_counter() - begin
    events_start = counter.count
    rows = runtime.status()
    active = sum(1 for row in rows if row.state is PluginState.ACTIVE)
    failures = [
        f"{row.name}: {row.state} {row.reason}"
        + (f" ({row.error.type}: {row.error.message})" if row.error is not None else "")
        for row in rows
        if row.state is not PluginState.ACTIVE
    ]
    gc.collect()
    begin = time.perf_counter()
    await runtime.stop()
    stop_s = time.perf_counter() - begin
    return RuntimeRound(
        start_s=start_s,
        stop_s=stop_s,
        active=active,
        events_start=events_start,
        events_stop=counter.count - events_start,
        failures=failures,
    )


@dataclass(frozen=True, slots=True)
class Result:
    """Every round's timings, and what the last runtime round saw."""

    plugins: int
    baseline_s: list[float]
    rounds: list[RuntimeRound]

    @property
    def last(self) -> RuntimeRound:
        return self.rounds[-1]

    def summary(self) -> dict[str, Any]:
        """The JSON object: minimum over the rounds of each timing, per-plugin figures."""
        load_s = min(r.start_s for r in self.rounds)
        stop_s = min(r.stop_s for r in self.rounds)
        base_s = min(self.baseline_s)
        ms = 1000 / self.plugins
        return {
            "plugins": self.plugins,
            "load_all_s": load_s,
            "ratio_vs_compile_exec": load_s / base_s,
            "stop_all_s": stop_s,
            "compile_exec_s": base_s,
            "load_per_plugin_ms": load_s * ms,
            "compile_exec_per_plugin_ms": base_s * ms,
            "stop_per_plugin_ms": stop_s * ms,
            "active": self.last.active,
            "events_published": self.last.events_start + self.last.events_stop,
            "events_start": self.last.events_start,
            "events_stop": self.last.events_stop,
            "rounds": len(self.rounds),
            "target_ratio": TARGET_RATIO,
            "load_all_s_rounds": [r.start_s for r in self.rounds],
            "compile_exec_s_rounds": list(self.baseline_s),
            "python": sys.version.split()[0],
        }


async def measure(directory: Path, plugins: int, rounds: int) -> Result:
    """Interleave ``rounds`` baseline runs and runtime rounds on ``directory``."""
    baseline: list[float] = []
    runs: list[RuntimeRound] = []
    for _ in range(rounds):
        baseline.append(compile_exec_all(directory))
        run = await runtime_round(directory)
        runs.append(run)
        if run.active != plugins:  # no point timing a runtime that does not start them all
            break
    return Result(plugins=plugins, baseline_s=baseline, rounds=runs)


# -- reporting -----------------------------------------------------------------------------------


def table(summary: dict[str, Any]) -> str:
    """The human-readable report."""
    ratio = summary["ratio_vs_compile_exec"]
    verdict = "ok" if ratio <= TARGET_RATIO else f"OVER target {TARGET_RATIO}"
    rows = [
        ("plugins", f"{summary['plugins']}", ""),
        ("rounds (min taken)", f"{summary['rounds']}", ""),
        (
            "compile+exec (baseline)",
            f"{summary['compile_exec_s']:.4f} s",
            f"{summary['compile_exec_per_plugin_ms']:.3f} ms/plugin",
        ),
        (
            "runtime.start()",
            f"{summary['load_all_s']:.4f} s",
            f"{summary['load_per_plugin_ms']:.3f} ms/plugin",
        ),
        ("ratio vs compile+exec", f"{ratio:.2f}x", verdict),
        (
            "runtime.stop()",
            f"{summary['stop_all_s']:.4f} s",
            f"{summary['stop_per_plugin_ms']:.3f} ms/plugin",
        ),
        ("active after start", f"{summary['active']}", f"of {summary['plugins']}"),
        (
            "events published",
            f"{summary['events_published']}",
            f"{summary['events_start']} start + {summary['events_stop']} stop",
        ),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [f"hotbus load benchmark (Python {summary['python']})"]
    lines += [f"  {a:<{width}}  {b:>{value_width}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/load.py",
        description="Time starting N generated plugins against compiling and executing them.",
    )
    parser.add_argument(
        "--plugins", type=int, default=None, help="how many plugins (default 1000; 50 --quick)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved rounds (default 3; 1 --quick)"
    )
    parser.add_argument("--quick", action="store_true", help="50 plugins, one round")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--check",
        action="store_true",
        help=f"exit with status 1 if ratio_vs_compile_exec exceeds {TARGET_RATIO}",
    )
    args = parser.parse_args(argv)
    if args.plugins is None:
        args.plugins = 50 if args.quick else 1000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.plugins < 1 or args.rounds < 1:
        parser.error("--plugins and --rounds must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 if some plugin did not become active (or, with
    ``--check``, if the ratio misses its target)."""
    args = parse_args(argv)
    plugins: int = args.plugins
    with tempfile.TemporaryDirectory(prefix="hotbus-bench-") as tmp:
        directory = Path(tmp)
        generate(directory, plugins)
        result = asyncio.run(measure(directory, plugins, args.rounds))
    if result.last.active != plugins:
        print(
            f"only {result.last.active} of {plugins} plugins became active:",
            file=sys.stderr,
        )
        for failure in result.last.failures:
            print(f"  {failure}", file=sys.stderr)
        return 1
    summary = result.summary()
    if not all(
        math.isfinite(summary[k]) for k in ("load_all_s", "stop_all_s", "ratio_vs_compile_exec")
    ):
        print("a timing is not finite: the clock misbehaved", file=sys.stderr)
        return 1
    print(json.dumps(summary, indent=2) if args.json else table(summary))
    if args.check and summary["ratio_vs_compile_exec"] > TARGET_RATIO:
        print(
            f"ratio_vs_compile_exec {summary['ratio_vs_compile_exec']:.2f} exceeds the target "
            f"{TARGET_RATIO}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
