"""`PhaseError`: plugin code failed at one phase of its life (compile, import, setup, ...)."""

from __future__ import annotations

from hotbus.schemas import Phase

__all__ = ["PhaseError"]


class PhaseError(Exception):
    """Raised when a plugin fails at ``phase``; carries the original ``error`` and the plugin.

    Loading, starting, stopping and every step of a reload raise it, so that whoever handles
    the failure knows what failed (``plugin``, when the raiser knows it), when, and why.
    """

    def __init__(self, phase: Phase, error: BaseException, *, plugin: str | None = None) -> None:
        super().__init__(f"{phase}: {error}")
        self.phase = phase
        self.error = error
        self.plugin = plugin
