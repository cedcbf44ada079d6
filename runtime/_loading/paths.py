"""Which paths in a plugin directory matter: editor temp files and caches do not."""

from __future__ import annotations

import fnmatch
import hashlib
import re
import traceback
from collections.abc import Iterable
from pathlib import Path, PurePath

__all__ = [
    "DATA_DIR",
    "IGNORED_DIRS",
    "IGNORED_NAMES",
    "files_in_traceback",
    "hash_file",
    "is_data",
    "is_ignored",
    "unreadable",
]

#: The directory of the runtime's own data (the state database) beside the config file or in a
#: plugin directory: never plugin sources, and its writes are not file changes to report.
DATA_DIR = ".hotbus"

#: Directory names whose contents are never plugin sources.
IGNORED_DIRS = frozenset(
    {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".ruff_cache", DATA_DIR}
)

#: File name patterns editors and tools write next to the file being saved.
IGNORED_NAMES = (
    ".*",  # dot-files: .#lock files, .goutputstream-*, swap files of some editors
    "*~",  # backups (vim's default save renames the file to this first)
    "*.swp",
    "*.swo",
    "*.swx",
    "4913",  # vim's probe for a writable directory
    "*___jb_tmp___",
    "*___jb_old___",
    "*.pyc",
    "*.pyo",
    "*.tmp",
)


#: `IGNORED_NAMES` as one expression (``fnmatch.fnmatchcase`` of each, in one match).
_IGNORED_NAME = re.compile("|".join(fnmatch.translate(p) for p in IGNORED_NAMES))


def is_ignored(path: str | PurePath) -> bool:
    """Whether ``path`` is an editor temp file, a cache, or inside an ignored directory."""
    parts = (path if isinstance(path, PurePath) else PurePath(path)).parts
    if any(part in IGNORED_DIRS for part in parts[:-1]):
        return True
    name = parts[-1] if parts else ""
    return name in IGNORED_DIRS or _IGNORED_NAME.match(name) is not None


def is_data(path: str | PurePath) -> bool:
    """Whether ``path`` is inside a `DATA_DIR` (the runtime's own files)."""
    return DATA_DIR in PurePath(path).parts[:-1]


def unreadable(path: Path, error: OSError) -> str:
    """What to tell about ``path`` that exists but could not be read (``error``)."""
    if isinstance(error, PermissionError):
        return (
            f"cannot read {path.name}: permission denied; fix its permissions "
            f"(e.g. chmod u+r,g+r {path})"
        )
    reason = (error.strerror or str(error)).lower()
    return f"cannot read {path.name}: {reason}; check the file and save it again"


def files_in_traceback(error: BaseException, roots: Iterable[str | Path]) -> set[Path]:
    """Files under ``roots`` named in ``error``'s traceback (and a SyntaxError's own file)."""
    resolved = [Path(r).resolve() for r in roots]
    names = [frame.filename for frame in traceback.extract_tb(error.__traceback__)]
    if isinstance(error, SyntaxError) and error.filename:
        names.append(error.filename)
    files: set[Path] = set()
    for name in names:
        path = Path(name)
        if path.is_absolute() and any(path.is_relative_to(root) for root in resolved):
            files.add(path)
    return files


def hash_file(path: Path) -> str | None:
    """The content hash of ``path``, or None if it cannot be read (missing, a directory)."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None
