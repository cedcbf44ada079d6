"""The bytecode cache: code compiled from a plugin's source is kept as a hash-based ``.pyc`` and
executed by a later load of the very same bytes, never by one of other bytes."""

from __future__ import annotations

import asyncio
import importlib.util
import marshal
import os
import shutil
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hotbus.runtime._loading import bytecode
from hotbus.runtime._loading.importer import Importer
from hotbus.runtime._loading.loader import load, precompile, source_for
from hotbus.runtime._testing.plugin_dir import PluginDir
from hotbus.schemas import PluginState

from tests.runtime import events
from tests.runtime.helpers import MakeRuntime, plugin_source

#: PEP 552: a hash-based ``.pyc`` (bit 0) checked against its source (bit 1); 0 for one
#: validated by the source's modification time and size.
CHECKED_HASH = 0b11
BY_TIME = 0


@pytest.fixture(autouse=True)
def _writing() -> Iterator[None]:
    """Bytecode may be written (whatever ``PYTHONDONTWRITEBYTECODE`` says), and no code that
    another test's loads compiled is written into this one's files."""
    before = sys.dont_write_bytecode
    sys.dont_write_bytecode = False
    bytecode._unwritten.clear()
    yield
    sys.dont_write_bytecode = before
    bytecode._unwritten.clear()


def _cache(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def _pyc(source: bytes, code_of: str, path: Path, flags: int = CHECKED_HASH) -> bytes:
    """A ``.pyc`` for the bytes ``source`` of ``path`` that holds the code of ``code_of``."""
    code = compile(code_of, str(path), "exec", dont_inherit=True)
    if flags & 0b01:
        validation = importlib.util.source_hash(source)
    else:  # what Python's import trusts: the source's modification time and size
        info = path.stat()
        validation = int(info.st_mtime).to_bytes(4, "little") + len(source).to_bytes(4, "little")
    return (
        importlib.util.MAGIC_NUMBER + flags.to_bytes(4, "little") + validation + marshal.dumps(code)
    )


def _plant(path: Path, blob: bytes) -> None:
    """Put ``blob`` in the bytecode cache as the ``.pyc`` of ``path``."""
    cache = _cache(path)
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_bytes(blob)


def _said() -> set[str]:
    """Which of the plugin versions written by these tests ran (their `_note_source` words)."""
    return set(events.JOURNAL) & {"from source", "from the cache", "edited", "new code", "old code"}


def _note_source(said: str) -> str:
    return plugin_source("dice", header=f"SAID = {said!r}\nevents.note(SAID)")


async def _start(make_runtime: MakeRuntime) -> None:
    runtime = make_runtime()
    await runtime.start()
    assert [row.state for row in runtime.status()] == [PluginState.ACTIVE]
    await runtime.stop()  # and the cache is written


async def test_a_start_caches_every_file_it_compiled_as_a_pyc_checked_by_hash(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    helper = plugin_dir.write("dice/tables.py", "FACES = 6\n").resolve()
    main = plugin_dir.write(
        "dice/__init__.py", plugin_source("dice", header="from . import tables")
    ).resolve()
    await _start(make_runtime)
    for path in (main, helper):
        blob = _cache(path).read_bytes()
        assert blob[:4] == importlib.util.MAGIC_NUMBER
        assert int.from_bytes(blob[4:8], "little") == CHECKED_HASH
        assert blob[8:16] == importlib.util.source_hash(path.read_bytes())
        assert marshal.loads(blob[16:]).co_filename == str(path)


async def test_a_load_executes_the_cached_code_of_the_bytes_on_disk_and_never_of_others(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", _note_source("from source")).resolve()
    data = path.read_bytes()
    # The cache holds, for these very bytes, code that says something else: executing it shows
    # that the load took the cache's code rather than compiling.
    _plant(path, _pyc(data, _note_source("from the cache"), path))
    await _start(make_runtime)
    assert _said() == {"from the cache"}
    events.reset()
    plugin_dir.write("dice.py", _note_source("edited"))  # other bytes: the cache is not theirs
    await _start(make_runtime)
    assert _said() == {"edited"}
    assert _cache(path).read_bytes()[8:16] == importlib.util.source_hash(path.read_bytes())


async def test_a_pyc_validated_by_time_is_not_trusted_and_is_replaced(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    # Python's import would run this stale code: the size and the second of the last change
    # match (an edit that keeps the size within the same second).
    path = plugin_dir.write("dice.py", _note_source("new code")).resolve()
    data = path.read_bytes()
    _plant(path, _pyc(data, _note_source("old code"), path, flags=BY_TIME))
    await _start(make_runtime)
    assert _said() == {"new code"}
    blob = _cache(path).read_bytes()
    assert int.from_bytes(blob[4:8], "little") == CHECKED_HASH
    assert blob[8:16] == importlib.util.source_hash(data)


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda blob: blob[:40], id="truncated"),
        pytest.param(lambda blob: blob[:16] + b"\xff" * 64, id="garbage-after-the-header"),
        pytest.param(lambda blob: b"\0" * 4 + blob[4:], id="another-python"),
        pytest.param(lambda blob: b"", id="empty"),
    ],
)
async def test_a_damaged_pyc_is_compiled_anew_and_replaced(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, damage: Callable[[bytes], bytes]
) -> None:
    path = plugin_dir.write("dice.py", _note_source("from source")).resolve()
    good = _pyc(path.read_bytes(), _note_source("from the cache"), path)
    _plant(path, damage(good))
    await _start(make_runtime)
    assert _said() == {"from source"}
    assert marshal.loads(_cache(path).read_bytes()[16:]).co_filename == str(path)


async def test_a_pyc_written_for_the_same_bytes_elsewhere_is_not_used(
    plugin_dir: PluginDir, make_runtime: MakeRuntime, tmp_path: Path
) -> None:
    path = plugin_dir.write("dice.py", _note_source("from source")).resolve()
    elsewhere = tmp_path / "copied-from" / "dice.py"
    _plant(path, _pyc(path.read_bytes(), _note_source("from the cache"), elsewhere))
    await _start(make_runtime)
    assert _said() == {"from source"}


async def test_nothing_is_written_while_python_is_told_not_to_write_bytecode(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice")).resolve()
    sys.dont_write_bytecode = True
    await _start(make_runtime)
    assert not _cache(path).parent.exists()


async def test_the_code_of_a_private_source_is_cached_privately(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice")).resolve()
    os.chmod(path, 0o600)
    await _start(make_runtime)
    assert stat.S_IMODE(_cache(path).stat().st_mode) == 0o600


async def test_a_directory_that_cannot_hold_a_cache_loads_all_the_same(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice")).resolve()
    _cache(path).parent.parent.mkdir(parents=True, exist_ok=True)
    _cache(path).parent.write_text("a file, not a directory")
    await _start(make_runtime)
    assert events.JOURNAL[:1] == ["setup dice"]
    assert _cache(path).parent.read_text() == "a file, not a directory"


async def test_closing_the_loader_writes_the_cache_and_nothing_is_written_after(
    plugin_dir: PluginDir,
) -> None:
    entered, gate = threading.Event(), threading.Event()
    events.OBJECTS.update(entered=entered, gate=gate)
    fast = plugin_dir.write("fast.py", plugin_source("fast")).resolve()
    slow = plugin_dir.write(
        "slow.py",
        plugin_source(
            "slow", header="events.OBJECTS['entered'].set()\nevents.OBJECTS['gate'].wait(10)"
        ),
    ).resolve()
    sources = [source_for(fast), source_for(slow)]
    assert None not in sources
    earlier = set(threading.enumerate())
    importer = Importer()
    jobs = importer.submit(source for source in sources if source is not None)
    try:
        await importer.wait(jobs[:1], 10)
        assert entered.wait(10), "the slow load did not begin within 10 s"
        # The slow load runs (compiled, held at its gate): no code is written meanwhile.
        assert not _cache(fast).exists()
        importer.close()  # as a stopping runtime does: what was compiled is written now
        assert _cache(fast).is_file() and _cache(slow).is_file()
        shutil.rmtree(plugin_dir.path)  # as a host cleaning up a temporary directory would
    finally:
        gate.set()
        importer.discard(jobs)
    for thread in set(threading.enumerate()) - earlier:
        if thread.name == "hotbus-loader":
            thread.join(timeout=10)
            assert not thread.is_alive(), "the loader thread did not end within 10 s"
    assert not plugin_dir.path.exists()


def test_a_save_compiled_ahead_takes_the_cached_code_of_its_bytes_and_writes_nothing(
    plugin_dir: PluginDir,
) -> None:
    # A save that brings back bytes run before (an undo): compiling it ahead finds their code.
    path = plugin_dir.write("dice.py", _note_source("from source")).resolve()
    _plant(path, _pyc(path.read_bytes(), _note_source("from the cache"), path))
    assert precompile(path) is not None
    source = source_for(path)
    assert source is not None
    loaded = load(source)
    assert loaded is not None
    try:
        assert (loaded.module.SAID, len(bytecode._unwritten)) == ("from the cache", 0)
    finally:
        loaded.release()


async def test_a_running_runtime_writes_the_cache_once_its_loader_is_idle(
    plugin_dir: PluginDir, make_runtime: MakeRuntime
) -> None:
    path = plugin_dir.write("dice.py", plugin_source("dice")).resolve()
    runtime = make_runtime()
    await runtime.start()
    deadline = time.monotonic() + 10
    while not _cache(path).is_file():  # written by the loader thread, not by a stop
        assert time.monotonic() < deadline, "no .pyc within 10 s of the start"
        await asyncio.sleep(0.01)
    assert runtime.status()[0].state is PluginState.ACTIVE
