"""The hotbus runtime: loading, lifecycle, watching, reloading, and the ``hotbus`` command."""

from runtime._cli import cli, main

__all__ = ["cli", "main"]
