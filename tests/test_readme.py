"""The README stays true: every Python block runs, and its tables list every topic and setting."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from hotbus.schemas import Settings, registry

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
SCRIPTS = [b for b in BLOCKS if "def test_" not in b]
TESTS = [b for b in BLOCKS if "def test_" in b]


def test_readme_has_python_examples() -> None:
    assert len(SCRIPTS) >= 4
    assert len(TESTS) >= 1


@pytest.mark.parametrize("index", range(len(SCRIPTS)))
def test_readme_example_runs(index: int) -> None:
    code = compile(SCRIPTS[index], f"README.md[python block {index}]", "exec")
    exec(code, {"__name__": f"readme_example_{index}"})


@pytest.mark.parametrize("index", range(len(TESTS)))
def test_readme_test_example_passes_under_pytest(index: int, tmp_path: Path) -> None:
    test_file = tmp_path / f"test_readme_{index}.py"
    test_file.write_text(TESTS[index], encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", str(test_file), "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


def test_readme_event_table_lists_every_topic_of_the_runtime() -> None:
    table = set(re.findall(r"^\| `([a-z_.]+)` \|", README, flags=re.MULTILINE))
    topics = {t for t in registry.topics() if t.startswith("hotbus.")}
    assert topics - table == set()


def test_readme_settings_table_lists_every_setting() -> None:
    table = set(re.findall(r"^\| `([a-z_]+)` \| ", README, flags=re.MULTILINE))
    assert set(Settings.model_fields) - table == set()
