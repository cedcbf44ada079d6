"""The bytecode cache of plugin sources: hash-checked ``.pyc`` files (PEP 552).

Code compiled from a source is kept in the standard bytecode cache (``__pycache__``, or under
``sys.pycache_prefix``) as a hash-based ``.pyc`` (PEP 552), and a later load of the same bytes
executes it instead of compiling again: the cache is checked against the hash of the bytes just
read, never against a modification time. A ``.pyc`` validated by time (as Python's import writes
by default) is not trusted: the source is compiled and the file replaced. Nothing is written
while ``sys.dont_write_bytecode`` is set (``python -B``, ``PYTHONDONTWRITEBYTECODE``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import itertools
import marshal
import os
import sys
import threading
import types
from collections import deque
from pathlib import Path
from typing import Final

__all__ = ["cached_code", "to_write", "unwritten", "write_bytecode"]

#: Code compiled by loads and not in the bytecode cache yet: the file, its bytes, the code.
#: `write_bytecode` writes it (an `Importer`'s loader thread once idle, and its `close`); the
#: bound only matters where nothing writes (loads run outside an `Importer`).
_unwritten: deque[tuple[Path, bytes, types.CodeType]] = deque(maxlen=16384)
#: The flags of a hash-based ``.pyc`` that is checked against its source (PEP 552).
_CHECKED_HASH: Final = 0b11


def to_write(path: Path, data: bytes, code: types.CodeType) -> None:
    """Queue ``code``, compiled from the bytes ``data`` of ``path``, for the cache (unless
    bytecode is not to be written)."""
    if not sys.dont_write_bytecode:
        _unwritten.append((path, data, code))


def _cache_file(path: Path) -> str | None:
    """Where the bytecode cache keeps the code of ``path``; None if this Python keeps none."""
    try:
        return importlib.util.cache_from_source(str(path))
    except (NotImplementedError, ValueError):  # no cache tag, or an unusable prefix
        return None


def cached_code(data: bytes, path: Path) -> types.CodeType | None:
    """The code the bytecode cache holds for the source bytes ``data`` of ``path``, if its
    ``.pyc`` is hash-based, of this Python, for these very bytes and this very path."""
    cache = _cache_file(path)
    if cache is None or not os.path.isfile(cache):  # no exception raised for the usual miss
        return None
    try:
        with open(cache, "rb") as stream:
            header = stream.read(16)  # a save's old code is told apart without reading it
            if (
                len(header) < 16
                or header[:4] != importlib.util.MAGIC_NUMBER
                or not int.from_bytes(header[4:8], "little") & 0b01  # by time: not trusted
                or header[8:] != importlib.util.source_hash(data)
            ):
                return None
            blob = stream.read()
    except OSError:
        return None
    try:
        code = marshal.loads(blob)
    except (EOFError, ValueError, TypeError):  # truncated or corrupt
        return None
    if not isinstance(code, types.CodeType) or code.co_filename != str(path):
        return None  # written for the same bytes at another path (a copied directory)
    return code


def unwritten() -> bool:
    """Whether loads compiled code that `write_bytecode` has not written yet."""
    return bool(_unwritten)


def write_bytecode(most: int | None = None) -> int:
    """Write the code loads compiled into the bytecode cache (``most`` files of it, if given);
    returns how many files it wrote.

    Each ``.pyc`` is written whole under a temporary name, then renamed into place, with the
    permissions of its source (so that the code of a private file stays private). A file that
    cannot be written (a read-only directory) is skipped, as Python's import does.
    """
    written = 0
    for _ in itertools.repeat(None) if most is None else range(most):
        try:
            path, data, code = _unwritten.popleft()
        except IndexError:  # another thread took the last one
            break
        if sys.dont_write_bytecode:
            continue
        cache = _cache_file(path)
        if cache is None:
            continue
        blob = b"".join(
            (
                importlib.util.MAGIC_NUMBER,
                _CHECKED_HASH.to_bytes(4, "little"),
                importlib.util.source_hash(data),
                marshal.dumps(code),
            )
        )
        if _write_atomic(Path(cache), blob, path):
            written += 1
    return written


def _write_atomic(target: Path, blob: bytes, source: Path) -> bool:
    """Write ``blob`` to ``target`` under a temporary name, then rename it into place."""
    temporary = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        mode = (source.stat().st_mode | 0o200) & 0o666
        # ``__pycache__`` beside the source, never the source's directory if it is gone (a
        # deleted plugin directory is not made again); under a prefix, its whole path.
        target.parent.mkdir(parents=sys.pycache_prefix is not None, exist_ok=True)
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            with open(descriptor, "wb", closefd=True) as stream:
                stream.write(blob)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        os.replace(temporary, target)
    except OSError:
        with contextlib.suppress(OSError):
            temporary.unlink(missing_ok=True)
        return False
    return True
