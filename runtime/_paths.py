"""Which paths in a plugin directory matter: editor temp files and caches do not."""

from __future__ import annotations

import fnmatch
from pathlib import PurePath

__all__ = ["IGNORED_DIRS", "IGNORED_NAMES", "is_ignored"]

#: Directory names whose contents are never plugin sources.
IGNORED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".ruff_cache"})

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


def is_ignored(path: str | PurePath) -> bool:
    """Whether ``path`` is an editor temp file, a cache, or inside an ignored directory."""
    parts = PurePath(path).parts
    if any(part in IGNORED_DIRS for part in parts[:-1]):
        return True
    name = parts[-1] if parts else ""
    return name in IGNORED_DIRS or any(fnmatch.fnmatchcase(name, p) for p in IGNORED_NAMES)
