"""Finding plugin sources and executing them from their source bytes, in private namespaces.

Every load of a plugin runs in a fresh *generation*: a package ``_hotbus_plugins.g<N>`` whose
``__path__`` is the plugin's directory. The plugin module is ``_hotbus_plugins.g<N>.<stem>``, and
the helper modules it imports (``from . import helper``) load in the same generation, from their
source bytes. So

- a plugin file named ``json.py`` never replaces the standard library's ``json``;
- an edit that keeps the file's size within the same second still runs the new code;
- the files a plugin owns are exactly those its generation loaded, and unloading purges the
  whole generation from ``sys.modules``.

The code compiled from a source is kept in the bytecode cache (`hotbus.runtime._loading.bytecode`)
and executed by a later load of the very same bytes.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.metadata
import importlib.util
import inspect
import itertools
import os
import re
import sys
import sysconfig
import threading
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from hotbus.runtime._loading.bytecode import cached_code, to_write
from hotbus.runtime._loading.paths import is_ignored, unreadable
from hotbus.runtime._loading.phase_error import PhaseError
from hotbus.runtime._loading.shape import Shape, reshape, shape_of
from hotbus.runtime._plugins.plugin import Plugin
from hotbus.schemas import ManifestError, Phase, PluginLoadError, SourceKind

__all__ = [
    "ENTRY_POINT_GROUP",
    "NAMESPACE",
    "Generation",
    "PluginSource",
    "declared_name",
    "discover",
    "load",
    "precompile",
    "purge",
]

#: The package under which every plugin module runs.
NAMESPACE: Final = "_hotbus_plugins"
#: The entry-point group installed distributions declare plugins in.
ENTRY_POINT_GROUP: Final = "hotbus.plugins"

_counter = itertools.count(1)
_lock = threading.Lock()
_generations: dict[str, Generation] = {}
#: Code compiled ahead of a load (`precompile`), by path: the content hash it was compiled
#: from, the code, the source's shape (what a hot patch compares), and whether the code came
#: from the bytecode cache. At most
#: `_PRECOMPILED_MAX` paths, the oldest dropped first.
_precompiled: dict[Path, tuple[str, types.CodeType, Shape, bool]] = {}
_PRECOMPILED_MAX: Final = 64


@dataclass(frozen=True, slots=True)
class PluginSource:
    """Where a plugin's code is: a module file, a package directory, or an entry point."""

    name: str
    kind: SourceKind
    path: Path | None = None
    entry_point: importlib.metadata.EntryPoint | None = None

    @property
    def key(self) -> str:
        """A stable identity: the resolved path, or ``entry-point:<value>``."""
        if self.path is not None:
            return str(self.path)
        assert self.entry_point is not None
        return f"entry-point:{self.entry_point.value}"

    @property
    def main_file(self) -> Path | None:
        """The file whose execution defines the plugin."""
        if self.path is None:
            return None
        return self.path / "__init__.py" if self.kind is SourceKind.PACKAGE else self.path

    def describe(self) -> str:
        """``path`` or ``entry point 'x = pkg:Plugin'`` for messages."""
        if self.path is not None:
            return str(self.path)
        assert self.entry_point is not None
        return f"entry point {self.entry_point.name} = {self.entry_point.value}"


@dataclass(eq=False, slots=True)
class Generation:
    """One load of one plugin source: its private package and every file it executed."""

    package: str
    directory: Path | None
    #: The name of the plugin source it loads (the plugin's name, unless its class says else).
    source: str = ""
    files: dict[Path, str] = field(default_factory=dict)
    #: The source bytes of every file it executed (what a hot patch compares a save with).
    sources: dict[Path, bytes] = field(default_factory=dict)
    #: The shapes of those sources, as far as a hot patch has needed them.
    shapes: dict[Path, Shape] = field(default_factory=dict)
    compiled: dict[Path, types.CodeType] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)

    def modules(self) -> list[str]:
        """Names of this generation's modules currently in ``sys.modules``.

        Kept as the loader executes them, so that purging a generation costs what it loaded,
        not a scan of every module of the process.
        """
        return [n for n in (self.package, *self.names) if n in sys.modules]

    def shape(self, path: Path, since: Generation | None = None) -> Shape:
        """The shape of the source ``path`` was executed from (parsed once, then kept).

        ``since``, an earlier generation of the same plugin whose shape of ``path`` is known,
        spares parsing what an edit did not touch (`reshape`).

        Raises:
            KeyError: it executed no such file.
            SyntaxError: the source does not parse.
        """
        found = self.shapes.get(path)
        if found is None:
            source = self.sources[path]
            earlier = None if since is None else since.shapes.get(path)
            if earlier is None or since is None:
                found = shape_of(source, path)
            else:
                found = reshape(earlier, since.sources[path], source, path)
            self.shapes[path] = found
        return found

    def content_hash(self) -> str:
        """A short hash over every file this generation executed (path order)."""
        digest = hashlib.sha256()
        for path in sorted(self.files):
            digest.update(self.files[path].encode())
        return digest.hexdigest()[:6]


# -- discovery ---------------------------------------------------------------------------------


_PLUGIN_CLASS = re.compile(rb"Plugin\b")


def _defines_plugin_class(source: bytes) -> bool:
    """Whether the module source may define a plugin: it mentions ``...Plugin`` at all.

    A textual check, so that discovery neither executes nor parses helper modules that never
    mention it, while a plugin with a syntax error, or one deriving from an alias of
    ``Plugin``, is still found (loading reports where a syntax error is). A candidate that
    turns out to define no plugin class is a helper too.
    """
    return _PLUGIN_CLASS.search(source) is not None


def discover(plugin_dirs: Sequence[Path], *, entry_points: bool = True) -> list[PluginSource]:
    """Every plugin source in ``plugin_dirs`` (and installed entry points), in a stable order.

    A module that defines no ``Plugin`` subclass is a helper, not a plugin; a module that does
    not parse is listed (it may be a plugin with a syntax error: loading it reports where).
    """
    importlib.invalidate_caches()
    found: list[PluginSource] = []
    for directory in plugin_dirs:
        root = Path(directory).resolve()
        if not root.is_dir():
            continue
        for entry in sorted(root.iterdir()):
            if is_ignored(entry) or entry.name.startswith("_"):
                continue
            source = source_for(entry, resolved=True)
            if source is not None:
                found.append(source)
    if entry_points:
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=str):
            found.append(PluginSource(name=ep.name, kind=SourceKind.ENTRY_POINT, entry_point=ep))
    return found


_DECLARED_NAME = re.compile(r"""^[ \t]+name\s*(?::[^=\n]*)?=\s*["']([A-Za-z_][\w.-]*)["']""", re.M)


def declared_name(source: PluginSource) -> str | None:
    """The name the plugin class in ``source`` declares, read from its text without running it.

    For a plugin that has not loaded yet (its first load failed), so that it is reported by the
    name it will have, not by its file's. The class body is read when the module parses, else
    the first indented ``name = "..."`` of the file is taken. None when nothing is found.
    """
    main = source.main_file
    if main is None:
        return None
    try:
        text = main.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        found = _DECLARED_NAME.search(text)
        return found.group(1) if found else None
    classes = [
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef)
        and any("Plugin" in ast.unparse(base) for base in node.bases)
    ]
    if len(classes) != 1:  # none, or several: which one is the plugin is for loading to say
        return None
    for item in classes[0].body:
        targets = (
            item.targets
            if isinstance(item, ast.Assign)
            else [item.target]
            if isinstance(item, ast.AnnAssign)
            else []
        )
        value = getattr(item, "value", None)
        if (
            any(isinstance(t, ast.Name) and t.id == "name" for t in targets)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
            and value.value
        ):
            return value.value
    return None


def source_for(path: Path, *, resolved: bool = False) -> PluginSource | None:
    """The plugin source at ``path`` (a module or package), or None if it is not one."""
    if not resolved:
        path = path.resolve()
    if path.is_dir():
        if (path / "__init__.py").is_file() and path.name.isidentifier():
            return PluginSource(name=path.name, kind=SourceKind.PACKAGE, path=path)
        return None
    if path.suffix != ".py" or not path.stem.isidentifier() or not path.is_file():
        return None
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError:  # there, but unreadable: loading it says why rather than skipping it
        return PluginSource(name=path.stem, kind=SourceKind.MODULE, path=path)
    if not _defines_plugin_class(data):
        return None
    return PluginSource(name=path.stem, kind=SourceKind.MODULE, path=path)


# -- the import machinery for generations -------------------------------------------------------


def _compile(data: bytes, path: Path) -> types.CodeType:
    """Compile the source bytes of ``path``.

    Raises:
        SyntaxError: also for a NUL byte, which `compile` reports as a `ValueError` naming no
            file: here at the NUL's line and column in ``path``, with the fix.
    """
    nul = data.find(b"\0")
    if nul >= 0:
        start = data.rfind(b"\n", 0, nul) + 1
        line = data.count(b"\n", 0, nul) + 1
        raise SyntaxError(
            "source code cannot contain null bytes: this file has a NUL byte (it is binary, "
            "truncated by a crash, or saved as UTF-16); save it as UTF-8 text",
            (str(path), line, nul - start + 1, None),
        )
    return compile(data, str(path), "exec", dont_inherit=True)


def precompile(path: Path) -> types.CodeType | None:
    """Read, hash and compile ``path`` ahead of its load, and take its shape; executes nothing.

    The next load that reads the same bytes takes the code compiled here instead of compiling
    them again (other bytes are compiled as usual), and its shape, which a hot patch would
    otherwise parse on the event loop. A save is compiled while it settles, so
    that the reload it sets off only executes it. Returns the code ready for the bytes now on
    disk; None for a file that cannot be read or does not compile (its load reports why).
    """
    try:
        data = path.read_bytes()
    except OSError:
        return None
    digest = hashlib.sha256(data).hexdigest()
    with _lock:
        known = _precompiled.get(path)
    if known is not None and known[0] == digest:
        return known[1]
    try:
        code, cached = _compiled(data, path)
        shape = shape_of(data, path)
    except Exception:  # SyntaxError, ValueError, MemoryError, RecursionError: the load says
        return None
    with _lock:
        _precompiled.pop(path, None)
        _precompiled[path] = (digest, code, shape, cached)
        while len(_precompiled) > _PRECOMPILED_MAX:
            del _precompiled[next(iter(_precompiled))]
    return code


def _code_for(data: bytes, digest: str, path: Path, generation: Generation) -> types.CodeType:
    """The code of ``data`` (the bytes of ``path``, hashed ``digest``): compiled ahead by
    `precompile` if it compiled these very bytes (its shape then goes to ``generation``), else
    the bytecode cache's if it holds code of these very bytes, else compiled now. Code not
    taken from the cache is queued for it (`bytecode.to_write`)."""
    with _lock:
        known = _precompiled.get(path)
        if known is not None and known[0] == digest:
            del _precompiled[path]
            generation.shapes[path] = known[2]
        else:
            known = None
    code, cached = (known[1], known[3]) if known is not None else _compiled(data, path)
    if not cached:
        to_write(path, data, code)
    return code


def _compiled(data: bytes, path: Path) -> tuple[types.CodeType, bool]:
    """The code of ``data`` (the bytes of ``path``), and whether it came from the bytecode
    cache (else it is compiled now)."""
    code = cached_code(data, path)
    return (code, True) if code is not None else (_compile(data, path), False)


class _SourceLoader(importlib.abc.Loader):
    """Executes a module of a generation from its source bytes (or the code the bytecode cache
    holds for those very bytes)."""

    def __init__(self, generation: Generation, path: Path) -> None:
        self._generation = generation
        self._path = path

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        self._generation.names.append(module.__name__)
        code = self._generation.compiled.pop(self._path, None)
        if code is None:
            data = self._path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            self._generation.files[self._path] = digest
            self._generation.sources[self._path] = data
            code = _code_for(data, digest, self._path, self._generation)
        exec(code, module.__dict__)


class _GenerationFinder(importlib.abc.MetaPathFinder):
    """Finds ``_hotbus_plugins.g<N>.<name>`` modules in the generation's directories."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(NAMESPACE + "."):
            return None
        parts = fullname.split(".")
        if len(parts) < 3:
            return None
        generation = _generations.get(".".join(parts[:2]))
        if generation is None or path is None:
            return None
        name = parts[-1]
        for directory in path:
            package = Path(directory) / name / "__init__.py"
            if package.is_file():
                return importlib.util.spec_from_file_location(
                    fullname,
                    package,
                    loader=_SourceLoader(generation, package),
                    submodule_search_locations=[str(package.parent)],
                )
            module = Path(directory) / f"{name}.py"
            if module.is_file():
                return importlib.util.spec_from_file_location(
                    fullname, module, loader=_SourceLoader(generation, module)
                )
        return None


_finder = _GenerationFinder()


def _install() -> None:
    if _finder not in sys.meta_path:
        sys.meta_path.insert(0, _finder)
    if NAMESPACE not in sys.modules:
        root = types.ModuleType(NAMESPACE, "Private namespace of hotbus plugin modules.")
        root.__path__ = []
        root.__spec__ = importlib.machinery.ModuleSpec(NAMESPACE, None, is_package=True)
        sys.modules[NAMESPACE] = root


def _new_generation(
    directory: Path | None, source: str = "", files: dict[Path, str] | None = None
) -> Generation:
    _install()
    with _lock:
        package = f"{NAMESPACE}.g{next(_counter)}"
    generation = Generation(package=package, directory=directory, source=source)
    if files is not None:
        generation.files = files
    module = types.ModuleType(package)
    module.__path__ = [str(directory)] if directory is not None else []
    module.__package__ = package
    spec = importlib.machinery.ModuleSpec(package, None, is_package=True)
    spec.submodule_search_locations = list(module.__path__)
    module.__spec__ = spec
    sys.modules[package] = module
    _generations[package] = generation
    return generation


def purge(generation: Generation) -> int:
    """Remove every module of ``generation`` from ``sys.modules``; returns how many."""
    names = generation.modules()
    for name in names:
        sys.modules.pop(name, None)
    _generations.pop(generation.package, None)
    generation.compiled.clear()
    generation.sources.clear()
    generation.shapes.clear()
    return len(names)


def owner_generations() -> dict[str, Generation]:
    """The live generations, by package name (for diagnostics)."""
    return dict(_generations)


def generation_of(module: str) -> Generation | None:
    """The live generation that plugin module ``module`` belongs to (safe from any thread)."""
    return _generations.get(".".join(module.split(".", 2)[:2]))


# -- loading -----------------------------------------------------------------------------------


@dataclass(eq=False, slots=True)
class Loaded:
    """A plugin class, freshly executed, with the generation that holds its modules."""

    source: PluginSource
    plugin_class: type[Plugin]
    module: types.ModuleType
    generation: Generation | None

    @property
    def files(self) -> frozenset[Path]:
        """Every file this load executed (the plugin's own and the helpers it imported)."""
        return frozenset(self.generation.files) if self.generation is not None else frozenset()

    _version: str | None = None

    def modules(self) -> dict[Path, types.ModuleType]:
        """This load's modules still in ``sys.modules``, by the file each was executed from."""
        found: dict[Path, types.ModuleType] = {}
        if self.generation is None:
            return found
        for name in self.generation.modules():
            module = sys.modules[name]
            filename = getattr(module, "__file__", None)
            if isinstance(filename, str):
                found[Path(filename)] = module
        return found

    def adopt(self, other: Loaded) -> None:
        """Take over the files (and so the version) of ``other``, a load of the same source
        whose function code has been patched into this one."""
        assert self.generation is not None and other.generation is not None
        self.generation.files = dict(other.generation.files)
        self.generation.sources = dict(other.generation.sources)
        self.generation.shapes = dict(other.generation.shapes)
        self._version = None

    def release(self) -> None:
        """Purge this load's modules (an installed entry point has none: nothing to do)."""
        if self.generation is not None:
            purge(self.generation)

    @property
    def version(self) -> str:
        """Declared version plus a short hash of the source: same bytes, same version.

        Fixed when first asked (right after loading): modules the plugin imports later do not
        change the version it was loaded as.
        """
        if self._version is None:
            declared = str(getattr(self.plugin_class, "version", "?"))
            if self.generation is None:
                self._version = declared
            else:
                self._version = f"{declared}+{self.generation.content_hash()}"
        return self._version


def load(source: PluginSource, seen: dict[Path, str] | None = None) -> Loaded | None:
    """Execute ``source`` in a fresh generation and find its plugin class.

    Returns None when the source defines no plugin (a helper). On failure raises `PhaseError`
    with the phase (compile or import) and an error naming the file, line and plugin; the
    generation is purged. ``seen``, if given, receives the content hash of every file read,
    whatever the outcome: what this load executed, to compare with what is on disk later.
    """
    if source.kind is SourceKind.ENTRY_POINT:
        return _load_entry_point(source)
    main = source.main_file
    assert main is not None and source.path is not None
    directory = source.path.parent
    generation = _new_generation(directory, source.name, seen)
    name = f"{generation.package}.{source.name}"
    try:
        try:
            data = main.read_bytes()
        except OSError as error:
            failure = PluginLoadError(source.name, unreadable(main, error), path=main)
            raise PhaseError(Phase.COMPILE, failure) from error
        digest = generation.files[main] = hashlib.sha256(data).hexdigest()
        generation.sources[main] = data
        try:
            generation.compiled[main] = _code_for(data, digest, main, generation)
        except (SyntaxError, ValueError) as error:
            raise PhaseError(Phase.COMPILE, _located(source, error, main)) from error
        try:
            module = _execute_main(generation, name, main, source.kind is SourceKind.PACKAGE)
        except SyntaxError as error:  # a helper module that does not compile
            raise PhaseError(Phase.COMPILE, _located(source, error, main)) from error
        except BaseException as error:  # plugin code: KeyboardInterrupt, SystemExit... included
            raise PhaseError(Phase.IMPORT, _located(source, error, main)) from error
        plugin_class = _find_plugin_class(source, module, main)
    except BaseException:
        purge(generation)
        raise
    if plugin_class is None:
        purge(generation)
        return None
    return Loaded(source, plugin_class, module, generation)


def _execute_main(generation: Generation, name: str, main: Path, package: bool) -> types.ModuleType:
    """Import the plugin's own module directly (its location is known: no finder needed)."""
    spec = importlib.util.spec_from_file_location(
        name,
        main,
        loader=_SourceLoader(generation, main),
        submodule_search_locations=[str(main.parent)] if package else None,
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return sys.modules[name]


def _load_entry_point(source: PluginSource) -> Loaded | None:
    assert source.entry_point is not None
    try:
        target = source.entry_point.load()
    except Exception as error:
        raise PhaseError(Phase.IMPORT, _entry_point_error(source, error)) from error
    except BaseException as error:  # plugin code: KeyboardInterrupt, SystemExit... included
        raise PhaseError(Phase.IMPORT, _located(source, error, None)) from error
    if isinstance(target, type) and issubclass(target, Plugin):
        return Loaded(source, target, sys.modules[target.__module__], None)
    if isinstance(target, types.ModuleType):
        plugin_class = _find_plugin_class(source, target, None)
        if plugin_class is not None:
            return Loaded(source, plugin_class, target, None)
    raise PhaseError(
        Phase.VALIDATE,
        ManifestError(
            source.name,
            f"{source.describe()} points at {target!r}, which is neither a Plugin subclass "
            "nor a module defining one: point the entry point at your Plugin class",
        ),
    )


def _find_plugin_class(
    source: PluginSource, module: types.ModuleType, main: Path | None
) -> type[Plugin] | None:
    prefix = module.__name__
    found = [
        value
        for value in dict(vars(module)).values()
        if isinstance(value, type)
        and issubclass(value, Plugin)
        and value is not Plugin
        and (value.__module__ == prefix or value.__module__.startswith(prefix + "."))
        and not inspect.isabstract(value)
    ]
    unique = list(dict.fromkeys(found))
    if len(unique) > 1:
        names = " and ".join(c.__qualname__ for c in unique)
        raise PhaseError(
            Phase.VALIDATE,
            ManifestError(
                source.name,
                f"defines {len(unique)} plugins ({names}): a module or package defines exactly "
                "one Plugin subclass; move the others to modules of their own",
                path=main,
                line=source_line(unique[1]),
            ),
        )
    return unique[0] if unique else None


def source_line(cls: type) -> int | None:
    """The line where ``cls`` is defined (reads the source: use it for errors only)."""
    try:
        return inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return None


def _located(source: PluginSource, error: BaseException, main: Path | None) -> BaseException:
    """Attach the source's name to ``error`` where the message does not say it yet."""
    if isinstance(error, ModuleNotFoundError) and error.name and main is not None:
        top = error.name.split(".")[0]
        sibling = main.parent / f"{top}.py" if source.kind is SourceKind.MODULE else None
        if sibling is not None and sibling.exists():
            return PluginLoadError(
                source.name,
                f"cannot import {top!r}: helper modules of a plugin directory are imported "
                f"relatively, write 'from . import {top}'",
                path=main,
                line=_traceback_line(error, main),
            )
    return error


#: Where hotbus's own code is: frames there are never the culprit's.
_HOTBUS_DIR: Final = os.path.join(Path(__file__).parents[2], "")
#: Where the standard library is (importlib included): frames there are not the user's either,
#: except in the installed packages that may live below it.
_STDLIB_DIR: Final = os.path.join(sysconfig.get_paths()["stdlib"], "")
_INSTALLED_DIRS: Final = tuple(
    os.path.join(sysconfig.get_paths()[key], "") for key in ("purelib", "platlib")
)


def _is_users(filename: str) -> bool:
    """Whether code of ``filename`` is the user's: not hotbus, not the standard library, not
    frozen (importlib's machinery)."""
    if filename.startswith(("<", _HOTBUS_DIR)):
        return False
    return not filename.startswith(_STDLIB_DIR) or filename.startswith(_INSTALLED_DIRS)


def _user_frame(error: BaseException) -> tuple[Path, int | None] | None:
    """The innermost frame of ``error``'s traceback in a file of the user's: outside hotbus,
    the standard library and frozen modules (importlib's machinery)."""
    found = None
    tb = error.__traceback__
    while tb is not None:
        name = tb.tb_frame.f_code.co_filename
        if _is_users(name):
            found = (Path(name), tb.tb_lineno)
        tb = tb.tb_next
    return found


def _declaration(ep: importlib.metadata.EntryPoint) -> tuple[Path | None, int | None]:
    """The ``entry_points.txt`` declaring ``ep``, and its line there, when they can be found."""
    info = getattr(ep.dist, "_path", None)  # a PathDistribution's .dist-info directory
    if not isinstance(info, Path):
        return None, None
    declared = info / "entry_points.txt"
    try:
        lines = declared.read_text(encoding="utf-8").splitlines()
    except OSError:
        return None, None
    for number, line in enumerate(lines, 1):
        key, _, value = line.partition("=")
        if key.strip() == ep.name and value.strip() == ep.value:
            return declared, number
    return declared, None


def _entry_point_error(source: PluginSource, error: Exception) -> Exception:
    """``error`` from loading an entry point, as an error naming the entry point and the file
    at fault: the user's module where it was raised, else the declaration of the entry point."""
    ep = source.entry_point
    assert ep is not None
    what = f"entry point {ep.name} = {ep.value} (group {ep.group})"
    found = _user_frame(error)
    if found is not None:
        path, line = found
        return PluginLoadError(
            source.name,
            f"{what} failed to load: {type(error).__name__}: {error}",
            path=path,
            line=line,
        )
    if isinstance(error, ModuleNotFoundError):
        fix = "install the distribution that provides it, or correct the entry point's module"
    elif isinstance(error, AttributeError):
        fix = "point the entry point at your Plugin class"
    else:
        fix = "correct the entry point"
    declared, number = _declaration(ep)
    return PluginLoadError(
        source.name,
        f"{what} cannot be loaded: {type(error).__name__}: {error}: {fix}",
        path=declared,
        line=number,
    )


def _traceback_line(error: BaseException, main: Path) -> int | None:
    tb = error.__traceback__
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(main):
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def files_of(sources: Iterable[PluginSource]) -> list[Path]:
    """The main file of each source that has one."""
    return [s.main_file for s in sources if s.main_file is not None]
