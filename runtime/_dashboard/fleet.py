"""What the dashboard shows of a fleet: the `FleetView` protocol a fleet bridge fulfils.

The dashboard never imports the fleet's code (nor nats): a host that runs both hands the
dashboard its bridge (``dashboard.fleet = bridge``), and the page lists every host's plugins as
the fleet's key-value bucket holds them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

__all__ = ["FleetRow", "FleetView", "fleet_json"]


class FleetRow(Protocol):
    """One plugin of one host of the fleet."""

    @property
    def host(self) -> str: ...
    @property
    def plugin(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def since(self) -> str: ...


class FleetView(Protocol):
    """A fleet as a host in it sees it (`hotbus.runtime._fleet.bridge.FleetBridge` is one)."""

    @property
    def fleet(self) -> str: ...
    @property
    def host(self) -> str: ...
    @property
    def connected(self) -> bool: ...
    def plugins(self) -> Sequence[FleetRow]: ...


def fleet_json(view: FleetView | None) -> dict[str, Any]:
    """The ``/api/fleet`` object: ``{"fleet": null}`` outside a fleet, else the fleet, this
    host, whether NATS is reachable, the hosts, and every host's plugins."""
    if view is None:
        return {"fleet": None}
    rows = [
        {
            "host": row.host,
            "plugin": row.plugin,
            "state": row.state,
            "version": row.version,
            "since": row.since,
        }
        for row in view.plugins()
    ]
    return {
        "fleet": view.fleet,
        "host": view.host,
        "connected": view.connected,
        "hosts": sorted({row["host"] for row in rows} | {view.host}),
        "plugins": rows,
    }
