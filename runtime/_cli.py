"""The ``hotbus`` command."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

__all__ = ["cli", "main"]


def _version() -> str:
    try:
        return version("hotbus")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotbus",
        description="A Python plugin runtime in which reload is just another event.",
    )
    parser.add_argument("--version", action="version", version=f"hotbus {_version()}")
    return parser


def cli(*args: str) -> int:
    """Run the command with ``args`` (without the program name); returns the exit code."""
    parser = _parser()
    parser.parse_args(args)
    parser.print_help()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point."""
    return cli(*(sys.argv[1:] if argv is None else argv))
