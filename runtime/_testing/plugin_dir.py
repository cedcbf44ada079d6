"""Saving files the way editors and tools do, for tests of hot reload.

Each editor writes a file differently, and a watcher sees each differently: an in-place write is
``modified`` + ``closed``; an atomic save is a temp file ``moved`` onto the target; vim's default
renames the file away first (which looks like a delete); JetBrains IDEs do a dance of three names;
``git checkout`` deletes and recreates. `PluginDir` reproduces each, on real files.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
import uuid
from pathlib import Path
from typing import Literal, final

__all__ = ["SAVE_STYLES", "PluginDir", "SaveStyle"]

SaveStyle = Literal["in_place", "truncate", "atomic", "sed", "vim", "jetbrains", "git"]
#: Every way `PluginDir.save` can save a file.
SAVE_STYLES: tuple[SaveStyle, ...] = (
    "in_place",
    "truncate",
    "atomic",
    "sed",
    "vim",
    "jetbrains",
    "git",
)


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


@final
class PluginDir:
    """A plugin directory on disk, with the save strategies of common editors.

    Sources given to `write` and `save` are dedented, so tests can indent them inline.
    """

    __slots__ = ("path",)

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)

    def __repr__(self) -> str:
        return f"<hotbus PluginDir {str(self.path)!r}>"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    def write(self, name: str, source: str) -> Path:
        """Create or overwrite ``name`` (relative; directories are created) in place."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        _write(target, textwrap.dedent(source))
        return target

    def read(self, name: str) -> str:
        """The text of ``name``."""
        return (self.path / name).read_text(encoding="utf-8")

    async def save(self, name: str, source: str, style: SaveStyle = "in_place") -> Path:
        """Save new content to existing file ``name`` the way ``style`` does it."""
        text = textwrap.dedent(source)
        target = self.path / name
        directory = target.parent
        if style == "in_place":
            _write(target, text)
        elif style == "truncate":  # an editor that truncates, then writes a little later
            target.write_bytes(b"")
            await asyncio.sleep(0.05)
            _write(target, text)
        elif style == "atomic":  # temp file in the same directory, then os.replace
            temp = directory / f".{target.name}.{uuid.uuid4().hex[:8]}.tmp"
            _write(temp, text)
            os.replace(temp, target)
        elif style == "sed":  # sed -i: writes ./sedXXXXXX, renames it over the file
            temp = directory / f"sed{uuid.uuid4().hex[:6]}"
            _write(temp, text)
            os.rename(temp, target)
        elif style == "vim":  # vim's default: rename to file~, write anew, delete the backup
            probe = directory / "4913"
            probe.touch()
            probe.unlink()
            backup = directory / f"{target.name}~"
            os.rename(target, backup)
            _write(target, text)
            backup.unlink()
        elif style == "jetbrains":  # "safe write"
            temp = directory / f"{target.name}___jb_tmp___"
            old = directory / f"{target.name}___jb_old___"
            _write(temp, text)
            os.rename(target, old)
            os.rename(temp, target)
            old.unlink()
        elif style == "git":  # git checkout: unlink, then write the other version
            target.unlink()
            _write(target, text)
        else:  # pragma: no cover - Literal exhausts the styles
            raise ValueError(f"unknown save style {style!r}; use one of {SAVE_STYLES}")
        return target

    def touch(self, name: str) -> None:
        """Update the modification time only (a watcher sees ``attrib``)."""
        os.utime(self.path / name)

    def delete(self, name: str) -> None:
        """Remove file ``name``."""
        (self.path / name).unlink()

    def move_in(self, source: Path, name: str) -> Path:
        """Move a file from elsewhere into the directory as ``name``."""
        target = self.path / name
        os.rename(source, target)
        return target

    def move_out(self, name: str, destination: Path) -> Path:
        """Move ``name`` out of the directory to ``destination``."""
        os.rename(self.path / name, destination)
        return destination
