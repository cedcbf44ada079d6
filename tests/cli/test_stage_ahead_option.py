"""``hotbus run`` loads a save while it settles, unless ``--no-stage-ahead`` says not to.

The real command runs as a process with a long write window; the plugin's module code notes
when it ran in a file beside it, and the test compares that with when it saved.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.cli.conftest import StartConsole

#: The write window: long enough to tell "while it settles" from "once it settled".
WINDOW_S = 1.0


def source(label: str, marker: Path) -> str:
    """A plugin module whose code appends ``label`` and the time to ``marker`` as it runs."""
    return (
        "import time\n\nimport hotbus\n\n"
        f"with open({str(marker)!r}, 'a', encoding='utf-8') as _out:\n"
        f"    _out.write(f'{label} {{time.time()}}\\n')\n\n\n"
        f"class P(hotbus.Plugin):\n    name = 'a'\n    version = '1.0.0'\n"
        f"    LABEL = {label!r}\n"
    )


def ran(marker: Path, label: str) -> list[float]:
    """When module code labelled ``label`` ran, in order."""
    lines = marker.read_text(encoding="utf-8").splitlines()
    return [float(line.split()[1]) for line in lines if line.split()[0] == label]


@pytest.mark.parametrize(("args", "ahead"), [((), True), (("--no-stage-ahead",), False)])
def test_a_saves_module_code_runs_while_it_settles_unless_told_not_to(
    console: StartConsole, tmp_path: Path, args: tuple[str, ...], ahead: bool
) -> None:
    plugins, marker = tmp_path / "plugins", tmp_path / "ran.txt"
    plugins.mkdir()
    (plugins / "a.py").write_text(source("first", marker), encoding="utf-8")
    process = console("run", str(plugins), "--debounce", str(WINDOW_S * 1000), *args)
    process.err.expect("hotbus started")
    saved = time.time()
    (plugins / "a.py").write_text(source("second", marker), encoding="utf-8")
    process.err.expect("reloaded")
    process.close_input()
    assert process.wait() == 0
    (when,) = ran(marker, "second")
    if ahead:
        assert when - saved < WINDOW_S * 0.8  # loaded well before the window ended
    else:
        assert when - saved >= WINDOW_S  # only once it settled
