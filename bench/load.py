"""Benchmark: load and start many plugins, against compiling and executing their sources bare;
and how a reload, status() and loading grow with the number of plugins loaded.

Generates ``--plugins`` (default 1000) small plugin modules, some requiring earlier ones, into a
temporary directory. Each round compiles and executes every source into a fresh module namespace
(the baseline: the least any loader must do from source bytes) and starts a new `Runtime` on the
directory (then stops it) twice: with the bytecode cache emptied first (every source compiled,
as at the first start after an edit: ``ratio_vs_compile_exec``), and with the cache holding the
code of every source (a restart: ``warm_ratio_vs_compile_exec``, reported, not tracked), in an
order rotated from round to round; each ratio is taken within each round and its median
reported, with its spread. Writing the cache is allowed whatever ``PYTHONDONTWRITEBYTECODE``
says (a runtime has written it all when its ``stop()`` returns).

Then the growth with size, at ``--small`` (100) and ``--large`` (5000) plugins: each round
starts a runtime of each size, its bytecode cache emptied (per-plugin start time, paired);
then both stay up and each round reloads the same leaf plugin (``p0010``: it requires one
plugin, nothing requires it) in both, and times ``status()`` on the large one, each with the
garbage collector paused (after a collection), since a full collection of the large heap would
land in one round or another. Leak checks are off in these runtimes: the collections they run
after a reload are not graph work::

    python bench/load.py            # a table
    python bench/load.py --json     # one JSON object
    python bench/load.py --quick    # tiny sizes, one round (a smoke test)
    python bench/load.py --check    # exit status 1 if a target is missed

Targets: ``ratio_vs_compile_exec`` (runtime start / baseline) at most 1.3;
``load_per_plugin_growth_5000_vs_100`` (per-plugin start time, large / small) at most 1.3;
``leaf_reload_growth_5000_vs_100`` (leaf reload time, large / small) at most 1.5;
``status_ms_5000`` (``status()`` with the large runtime up) under 5 ms. The keys keep their
names whatever the sizes (``growth_sizes`` says which were measured). The misses are listed in
``misses``.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as ``python bench/load.py``, this file's directory leads sys.path and bench/bus.py
    # would shadow the ``bus`` package: drop that entry before importing hotbus.
    _HERE = Path(__file__).resolve().parent
    sys.path[:] = [entry for entry in sys.path if Path(entry or ".").resolve() != _HERE]
    sys.path.append(str(_HERE.parent))  # for bench.rounds, after every installed package

import argparse
import asyncio
import gc
import itertools
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from hotbus import Runtime
from hotbus.schemas import Event, PluginState, ReloadCommitted

from bench.rounds import Ratio, exit_status, percentile, rotated

#: ``ratio_vs_compile_exec`` the runtime should stay under.
TARGET_RATIO: Final = 1.3
#: Per-plugin start time at ``--large`` over that at ``--small``, at most.
TARGET_LOAD_GROWTH: Final = 1.3
#: A leaf reload at ``--large`` over the same reload at ``--small``, at most.
TARGET_RELOAD_GROWTH: Final = 1.5
#: ``status()`` with ``--large`` plugins up, in milliseconds, under.
TARGET_STATUS_MS: Final = 5.0
#: The plugin reloaded: it requires ``p0009``, and no generated plugin requires it.
LEAF: Final = "p0010"
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


def forget_bytecode(directory: Path) -> None:
    """Empty the bytecode cache of the plugins in ``directory``: the next start compiles them."""
    shutil.rmtree(directory / "__pycache__", ignore_errors=True)


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
    #: Starts with the bytecode cache emptied first.
    rounds: list[RuntimeRound]
    #: Starts with the bytecode cache holding every source's code.
    warm: list[RuntimeRound]

    @property
    def last(self) -> RuntimeRound:
        return self.rounds[-1]

    def ratio(self) -> Ratio:
        """Runtime start (every source compiled) over compile+exec, within each round."""
        return Ratio.of([r.start_s for r in self.rounds], self.baseline_s[: len(self.rounds)])

    def warm_ratio(self) -> Ratio:
        """Runtime start (every source's code cached) over compile+exec, within each round."""
        count = min(len(self.warm), len(self.baseline_s))
        return Ratio.of([r.start_s for r in self.warm[:count]], self.baseline_s[:count])

    def summary(self) -> dict[str, Any]:
        """The JSON object: minimum over the rounds of each timing, per-plugin figures, and the
        median of the per-round ratios (with its spread)."""
        load_s = min(r.start_s for r in self.rounds)
        stop_s = min(r.stop_s for r in self.rounds)
        base_s = min(self.baseline_s)
        ms = 1000 / self.plugins
        ratio = self.ratio()
        warm = self.warm_ratio()
        return {
            "plugins": self.plugins,
            "load_all_s": load_s,
            "ratio_vs_compile_exec": ratio.median,
            "ratio_vs_compile_exec_spread": ratio.as_dict(),
            "warm_load_all_s": min(r.start_s for r in self.warm),
            "warm_ratio_vs_compile_exec": warm.median,
            "warm_ratio_vs_compile_exec_spread": warm.as_dict(),
            "warm_load_all_s_rounds": [r.start_s for r in self.warm],
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
    """``rounds`` paired rounds on ``directory``: compile+exec, a runtime round with the
    bytecode cache emptied first and one with it full, in an order rotated from round to round.
    A first start, untimed, fills the cache."""
    baseline: list[float] = []
    runs: list[RuntimeRound] = []
    warm: list[RuntimeRound] = []
    await runtime_round(directory)
    for index in range(rounds):
        for which in rotated(["baseline", "runtime", "warm"], index):
            if which == "baseline":
                baseline.append(compile_exec_all(directory))
            elif which == "runtime":
                forget_bytecode(directory)
                runs.append(await runtime_round(directory))  # and fills the cache again
            else:
                warm.append(await runtime_round(directory))
        if runs[-1].active != plugins or warm[-1].active != plugins:
            break  # no point timing a runtime that does not start them all
    return Result(plugins=plugins, baseline_s=baseline, rounds=runs, warm=warm)


# -- growth with the number of plugins -------------------------------------------------------------


@dataclass(slots=True)
class Growth:
    """The same work at two sizes, in paired rounds."""

    small: int
    large: int
    load_small_s: list[float]
    load_large_s: list[float]
    reload_small_ms: list[float]
    reload_large_ms: list[float]
    status_small_ms: list[float]
    status_large_ms: list[float]
    failures: list[str]

    def summary(self) -> dict[str, Any]:
        """The growth keys of the JSON object."""
        per_small = [s / self.small for s in self.load_small_s]
        per_large = [s / self.large for s in self.load_large_s]
        load = Ratio.of(per_large, per_small)
        reload = Ratio.of(self.reload_large_ms, self.reload_small_ms)
        return {
            "growth_sizes": {"small": self.small, "large": self.large},
            "load_per_plugin_growth_5000_vs_100": load.median,
            "load_per_plugin_growth_spread": load.as_dict(),
            "load_per_plugin_ms_small": _spread([s * 1000 for s in per_small]),
            "load_per_plugin_ms_large": _spread([s * 1000 for s in per_large]),
            "leaf_reload_growth_5000_vs_100": reload.median,
            "leaf_reload_growth_spread": reload.as_dict(),
            "leaf_reload_ms_small": _spread(self.reload_small_ms),
            "leaf_reload_ms_large": _spread(self.reload_large_ms),
            "status_ms_5000": statistics.median(self.status_large_ms),
            "status_ms_large": _spread(self.status_large_ms),
            "status_ms_small": _spread(self.status_small_ms),
            "growth_failures": list(self.failures),
        }


def _spread(values: list[float]) -> dict[str, float | int]:
    """Median, 90th percentile, lowest and highest of ``values``, and how many."""
    return {
        "median": round(statistics.median(values), 4),
        "p90": round(percentile(values, 0.9), 4),
        "low": round(min(values), 4),
        "high": round(max(values), 4),
        "rounds": len(values),
    }


async def reload_ms(runtime: Runtime, failures: list[str]) -> float:
    """Reload `LEAF` in ``runtime``; milliseconds until its outcome (a miss is noted)."""
    gc.collect()
    gc.disable()  # a full collection of the large heap would land in one reload or another
    try:
        begin = time.perf_counter()
        outcome = await runtime.reload(LEAF)
        elapsed = (time.perf_counter() - begin) * 1000
    finally:
        gc.enable()
    if not isinstance(outcome, ReloadCommitted):
        failures.append(f"reload of {LEAF} did not commit: {outcome!r}")
    return elapsed


def status_ms(runtime: Runtime) -> float:
    """Milliseconds one ``status()`` of ``runtime`` takes (without a garbage collection)."""
    gc.disable()
    try:
        begin = time.perf_counter()
        runtime.status()
        return (time.perf_counter() - begin) * 1000
    finally:
        gc.enable()


async def measure_growth(
    directories: dict[str, Path], sizes: dict[str, int], rounds: int, reload_rounds: int
) -> Growth:
    """Paired rounds at both sizes: start (per plugin), then, both up, a leaf reload and
    ``status()``."""
    failures: list[str] = []
    load: dict[str, list[float]] = {"small": [], "large": []}
    for index in range(rounds):
        for which in rotated(["small", "large"], index):
            forget_bytecode(directories[which])
            run = await runtime_round(directories[which])
            load[which].append(run.start_s)
            if run.active != sizes[which]:
                failures.append(f"{run.active} of {sizes[which]} plugins became active")
    runtimes = {
        which: Runtime(
            [directories[which]],
            entry_points=False,
            log_events=False,
            watch=False,
            leak_check=False,
        )
        for which in ("small", "large")
    }
    reloads: dict[str, list[float]] = {"small": [], "large": []}
    status: dict[str, list[float]] = {"small": [], "large": []}
    try:
        for runtime in runtimes.values():
            await runtime.start()
            for _ in range(2):  # warm up: the first reloads import what reloading needs
                await reload_ms(runtime, failures)
        for index in range(reload_rounds):
            for which in rotated(["small", "large"], index):
                reloads[which].append(await reload_ms(runtimes[which], failures))
                status[which].append(status_ms(runtimes[which]))
    finally:
        for runtime in runtimes.values():
            await runtime.stop()
    return Growth(
        small=sizes["small"],
        large=sizes["large"],
        load_small_s=load["small"],
        load_large_s=load["large"],
        reload_small_ms=reloads["small"],
        reload_large_ms=reloads["large"],
        status_small_ms=status["small"],
        status_large_ms=status["large"],
        failures=failures,
    )


def misses(summary: dict[str, Any]) -> list[str]:
    """The targets ``summary`` misses, each as a short string."""
    found: list[str] = []
    ratio = summary["ratio_vs_compile_exec"]
    if ratio > TARGET_RATIO:
        found.append(f"ratio_vs_compile_exec {ratio:.2f} > {TARGET_RATIO}")
    if "leaf_reload_growth_5000_vs_100" not in summary:
        return found
    load = summary["load_per_plugin_growth_5000_vs_100"]
    if load > TARGET_LOAD_GROWTH:
        found.append(f"load_per_plugin_growth_5000_vs_100 {load:.2f} > {TARGET_LOAD_GROWTH}")
    reload = summary["leaf_reload_growth_5000_vs_100"]
    if reload > TARGET_RELOAD_GROWTH:
        found.append(f"leaf_reload_growth_5000_vs_100 {reload:.2f} > {TARGET_RELOAD_GROWTH}")
    status = summary["status_ms_5000"]
    if status >= TARGET_STATUS_MS:
        found.append(f"status_ms_5000 {status:.2f} >= {TARGET_STATUS_MS}")
    found.extend(summary["growth_failures"])
    return found


# -- reporting -----------------------------------------------------------------------------------


def table(summary: dict[str, Any]) -> str:
    """The human-readable report."""
    ratio = summary["ratio_vs_compile_exec"]
    spread = summary["ratio_vs_compile_exec_spread"]
    verdict = "ok" if ratio <= TARGET_RATIO else f"OVER target {TARGET_RATIO}"
    warm = summary["warm_ratio_vs_compile_exec"]
    warm_spread = summary["warm_ratio_vs_compile_exec_spread"]
    rows = [
        ("plugins", f"{summary['plugins']}", ""),
        ("rounds (min taken)", f"{summary['rounds']}", ""),
        (
            "compile+exec (baseline)",
            f"{summary['compile_exec_s']:.4f} s",
            f"{summary['compile_exec_per_plugin_ms']:.3f} ms/plugin",
        ),
        (
            "runtime.start(), compiling",
            f"{summary['load_all_s']:.4f} s",
            f"{summary['load_per_plugin_ms']:.3f} ms/plugin",
        ),
        (
            "ratio vs compile+exec",
            f"{ratio:.2f}x",
            f"{verdict} (rounds {spread['low']:.2f}-{spread['high']:.2f})",
        ),
        (
            "runtime.start(), code cached",
            f"{summary['warm_load_all_s']:.4f} s",
            f"{summary['warm_load_all_s'] * 1000 / summary['plugins']:.3f} ms/plugin",
        ),
        (
            "ratio vs compile+exec",
            f"{warm:.2f}x",
            f"info (rounds {warm_spread['low']:.2f}-{warm_spread['high']:.2f})",
        ),
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
    if "growth_sizes" in summary:
        sizes = summary["growth_sizes"]
        vs = f"{sizes['large']} vs {sizes['small']}"
        for label, key, unit in (
            ("load per plugin", "load_per_plugin_ms", "ms"),
            ("leaf reload", "leaf_reload_ms", "ms"),
            ("status()", "status_ms", "ms"),
        ):
            small, large = summary[f"{key}_small"], summary[f"{key}_large"]
            rows.append(
                (
                    f"{label} ({vs})",
                    f"{large['median']:.3f} {unit}",
                    f"vs {small['median']:.3f} {unit} (p90 {large['p90']:.3f} vs "
                    f"{small['p90']:.3f})",
                )
            )
        for label, key, spread_key in (
            ("load per plugin growth", "load_per_plugin_growth_5000_vs_100", "load_per_plugin"),
            ("leaf reload growth", "leaf_reload_growth_5000_vs_100", "leaf_reload"),
        ):
            low_high = summary[f"{spread_key}_growth_spread"]
            rows.append(
                (
                    label,
                    f"{summary[key]:.2f}x",
                    f"rounds {low_high['low']:.2f}-{low_high['high']:.2f}",
                )
            )
    rows.append(("misses", f"{len(summary['misses'])}", "; ".join(summary["misses"])))
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    lines = [f"hotbus load benchmark (Python {summary['python']})"]
    lines += [f"  {a:<{width}}  {b:>{value_width}}  {c}".rstrip() for a, b, c in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench/load.py",
        description="Time starting N generated plugins against compiling and executing them, "
        "and how loading, a leaf reload and status() grow with the number of plugins.",
    )
    parser.add_argument(
        "--plugins", type=int, default=None, help="how many plugins (default 1000; 50 --quick)"
    )
    parser.add_argument(
        "--rounds", type=int, default=None, help="paired start rounds (default 5; 1 --quick)"
    )
    parser.add_argument(
        "--small", type=int, default=None, help="the small size (default 100; 12 --quick)"
    )
    parser.add_argument(
        "--large", type=int, default=None, help="the large size (default 5000; 40 --quick)"
    )
    parser.add_argument(
        "--reload-rounds",
        type=int,
        default=None,
        help="paired leaf reload and status() rounds (default 40; 3 --quick)",
    )
    parser.add_argument(
        "--no-growth", action="store_true", help="skip the growth with size (start ratio only)"
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes, one round")
    parser.add_argument("--json", action="store_true", help="print only a JSON object")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 if a target is missed"
    )
    args = parser.parse_args(argv)
    if args.plugins is None:
        args.plugins = 50 if args.quick else 1000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 5
    if args.small is None:
        args.small = 12 if args.quick else 100
    if args.large is None:
        args.large = 40 if args.quick else 5000
    if args.reload_rounds is None:
        args.reload_rounds = 3 if args.quick else 40
    if args.plugins < 1 or args.rounds < 1 or args.reload_rounds < 1:
        parser.error("--plugins, --rounds and --reload-rounds must be at least 1")
    if not 10 <= args.small <= args.large:
        parser.error(f"--small must be at least 10 (it reloads {LEAF}) and at most --large")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0, or 1 if some plugin did not become active (or, with
    ``--check``, if a target is missed)."""
    args = parse_args(argv)
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = False  # the starts measure the bytecode cache
    try:
        return run(args)
    finally:
        sys.dont_write_bytecode = before


def run(args: argparse.Namespace) -> int:
    """`main` once the arguments are parsed."""
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
    if not args.no_growth:
        with tempfile.TemporaryDirectory(prefix="hotbus-bench-growth-") as tmp:
            sizes = {"small": args.small, "large": args.large}
            directories = {which: Path(tmp) / which for which in sizes}
            for which, directory in directories.items():
                directory.mkdir()
                generate(directory, sizes[which])
            growth = asyncio.run(
                measure_growth(directories, sizes, args.rounds, args.reload_rounds)
            )
        summary.update(growth.summary())
    if not all(
        math.isfinite(summary[k]) for k in ("load_all_s", "stop_all_s", "ratio_vs_compile_exec")
    ):
        print("a timing is not finite: the clock misbehaved", file=sys.stderr)
        return 1
    summary["misses"] = misses(summary)
    print(json.dumps(summary, indent=2) if args.json else table(summary))
    for miss in summary["misses"]:
        print(f"missed: {miss}", file=sys.stderr)
    return exit_status(summary["misses"], check=args.check)


if __name__ == "__main__":
    raise SystemExit(main())
