"""The OpenAPI description of the dashboard's API, served at ``/api/openapi.json``."""

from __future__ import annotations

from typing import Any, Final

__all__ = ["openapi"]

_EVENT: Final = {
    "type": "object",
    "description": (
        "One bus event: its topic and its fields, the same object a line of "
        "`hotbus run --events-jsonl` holds. `hotbus events --schema` describes each topic's "
        "fields."
    ),
    "required": ["topic", "event_id", "timestamp", "source"],
    "properties": {
        "topic": {"type": "string"},
        "event_id": {"type": "string", "format": "uuid"},
        "timestamp": {"type": "string", "format": "date-time"},
        "source": {"type": "string"},
    },
    "additionalProperties": True,
}
_ERROR: Final = {
    "type": "object",
    "required": ["type", "message"],
    "properties": {
        "type": {"type": "string"},
        "message": {"type": "string"},
        "file": {"type": ["string", "null"]},
        "line": {"type": ["integer", "null"]},
        "traceback": {"type": "string"},
    },
}
_PLUGIN: Final = {
    "type": "object",
    "required": ["name", "state", "version", "error"],
    "properties": {
        "name": {"type": "string"},
        "state": {
            "type": "string",
            "description": (
                "What the page shows: active, failed, blocked, reloading, patched, disabled, "
                "or the lifecycle state (loading, unloaded, ...)."
            ),
        },
        "lifecycle": {"type": "string", "description": "The lifecycle state itself."},
        "serving": {"type": "boolean", "description": "Whether a version of it runs."},
        "version": {"type": ["string", "null"]},
        "source": {"type": "string"},
        "kind": {"type": "string"},
        "enabled": {"type": "boolean"},
        "reason": {"type": "string"},
        "error": {"oneOf": [{"$ref": "#/components/schemas/Error"}, {"type": "null"}]},
        "requires": {"type": "array", "items": {"type": "string"}},
        "depends_on": {"type": "array", "items": {"type": "string"}},
        "files": {"type": "array", "items": {"type": "string"}},
        "changed_at": {"type": ["string", "null"], "format": "date-time"},
        "outcome": {"type": ["string", "null"], "description": "Its last reload outcome."},
    },
}
_PROBLEM: Final = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _refused() -> dict[str, Any]:
    problem = {"$ref": "#/components/schemas/Problem"}
    return {
        "401": _json(problem, "The token is missing or wrong."),
        "403": _json(
            problem,
            "Cross-site protection: the CSRF header or the Origin, or a Host "
            "that is not a loopback name on a loopback bind.",
        ),
    }


def openapi(version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API, for hotbus ``version``."""
    event = {"$ref": "#/components/schemas/Event"}
    action = {
        "summary": "Reload, enable or disable a plugin; answers with the outcome event",
        "description": (
            "reload: the transaction a save runs, answered with its outcome "
            "(hotbus.reload.committed, hotbus.reload.patched, hotbus.reload.rejected or "
            "hotbus.reload.rolled_back). "
            "enable and disable: answered with the plugin's last hotbus.plugin.state event of "
            "the change, or, when nothing changed, an object with `topic` null, the plugin and "
            "its state."
        ),
        "parameters": [
            {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
            {
                "name": "action",
                "in": "path",
                "required": True,
                "schema": {"enum": ["reload", "enable", "disable"]},
            },
            {
                "name": "X-Hotbus-CSRF",
                "in": "header",
                "required": True,
                "schema": {"const": "1"},
            },
        ],
        "responses": {
            "200": _json(event, "The outcome event."),
            "404": _json({"$ref": "#/components/schemas/Problem"}, "No plugin of that name."),
            "409": _json({"$ref": "#/components/schemas/Problem"}, "The runtime cannot do it now."),
            **_refused(),
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "hotbus dashboard",
            "version": version,
            "description": (
                "The live state of a hotbus runtime, its bus events, and actions on its "
                "plugins. On a non-loopback bind every request but the static assets needs "
                "the token."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}, {"cookie": []}, {}],
        "paths": {
            "/api/status": {
                "get": {
                    "summary": "Every plugin, in dependency order",
                    "responses": {
                        "200": _json(
                            {"type": "array", "items": {"$ref": "#/components/schemas/Plugin"}},
                            "One row per plugin.",
                        ),
                        **_refused(),
                    },
                }
            },
            "/api/transactions": {
                "get": {
                    "summary": "The last reload transactions, and the last plan's cascade",
                    "responses": {
                        "200": _json({"type": "object"}, "transactions (oldest first), last_plan"),
                        **_refused(),
                    },
                }
            },
            "/api/stats": {
                "get": {
                    "summary": "Connected streams, events seen and events they missed",
                    "responses": {"200": _json({"type": "object"}, "clients, events, dropped")},
                }
            },
            "/api/fleet": {
                "get": {
                    "summary": "The fleet this host is in: every host's plugins",
                    "description": (
                        '{"fleet": null} outside a fleet; else fleet, host (this one), '
                        "connected (NATS reachable), hosts, and plugins: one object per host and "
                        "plugin (host, plugin, state, version, since), as the fleet's key-value "
                        "bucket holds them."
                    ),
                    "responses": {"200": _json({"type": "object"}, "the fleet")},
                }
            },
            "/api/events": {
                "get": {
                    "summary": "Server-sent events: every bus event as it is published",
                    "description": (
                        "Each `data:` line of a message is one event (see Event). When the "
                        "client fell behind and its bounded queue dropped events, an event of "
                        'type `dropped` says how many it missed in all ({"dropped": N}).'
                    ),
                    "parameters": [
                        {
                            "name": "topic",
                            "in": "query",
                            "required": False,
                            "description": "A topic pattern (NATS wildcards: * and >).",
                            "schema": {"type": "string", "default": ">"},
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "The stream.",
                            "content": {"text/event-stream": {"schema": {"type": "string"}}},
                        },
                        "400": _json({"$ref": "#/components/schemas/Problem"}, "Bad pattern."),
                        **_refused(),
                    },
                }
            },
            "/api/plugins/{name}/{action}": {"post": action},
            "/api/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                }
            },
        },
        "components": {
            "schemas": {"Event": _EVENT, "Plugin": _PLUGIN, "Error": _ERROR, "Problem": _PROBLEM},
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "hotbus_token"},
            },
        },
    }
