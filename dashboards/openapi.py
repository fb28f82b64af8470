"""The dashboards' part of the OpenAPI document (`GET /api/openapi.json`): `paths()` and
`schemas()` are merged into the staff API's document by `regulation.openapi`."""

from __future__ import annotations

from typing import Any

from .handling import STAGES
from .live import WINDOWS
from .timeline import DECISION_TYPES

_PRIORITIES = ["P0", "P1", "P2", "P3", "NR"]
_STATUSES = ["available", "busy", "wrap_up", "paused", "offline"]
_NUMBER_OR_NULL = {"type": ["number", "null"]}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERRORS = {
    "401": _json(_ref("Error"), "no credentials, or invalid ones"),
    "403": _json(_ref("Error"), "the role may not do this"),
}
_RANGE = [
    {
        "name": "from",
        "in": "query",
        "description": "ISO-8601 date-time with an offset, or a date (a day in Europe/Paris); "
        "inclusive; by default 24 hours before `to`",
        "schema": {"type": "string"},
    },
    {
        "name": "to",
        "in": "query",
        "description": "same forms; exclusive; by default now",
        "schema": {"type": "string"},
    },
]


def _op(summary: str, roles: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "security": [{"bearer": []}, {"session": []}],
        "responses": responses,
        **extra,
    }


def schemas() -> dict[str, Any]:
    stage_values = {stage: _NUMBER_OR_NULL for stage in STAGES}
    figures = {
        "type": "object",
        "properties": {
            "received": {"type": "integer"},
            "answered": {"type": "integer"},
            "answered_within_60s": {"type": "integer"},
            "abandoned": {"type": "integer", "description": "after 15 s or more in a queue"},
            "short_abandoned": {"type": "integer"},
            "escalated": {
                "type": "object",
                "properties": {"amu": {"type": "integer"}, "liberal": {"type": "integer"}},
            },
            "decisions": {
                "type": "object",
                "properties": {code: {"type": "integer"} for code in DECISION_TYPES},
            },
            "snp_oriented": {"type": "integer"},
            "snp_share": _NUMBER_OR_NULL,
            "service_level": {
                "type": "object",
                "properties": {"answered": _NUMBER_OR_NULL, "with_abandoned": _NUMBER_OR_NULL},
            },
            "met": {"type": "object", "additionalProperties": _NUMBER_OR_NULL},
            "median_s": {"type": "object", "properties": stage_values},
            "p90_s": {"type": "object", "properties": stage_values},
        },
    }
    return {
        "LiveSnapshot": {
            "type": "object",
            "required": [
                "at",
                "queues",
                "agents",
                "service_level",
                "abandonment_rate",
                "calls_per_hour",
                "breaches",
                "surge",
            ],
            "properties": {
                "at": {"type": "string", "format": "date-time"},
                "queues": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {
                            "waiting": {
                                "type": "object",
                                "properties": {p: {"type": "integer"} for p in _PRIORITIES},
                            },
                            "oldest_wait_s": _NUMBER_OR_NULL,
                        },
                    },
                },
                "agents": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {s: {"type": "integer"} for s in _STATUSES},
                    },
                },
                "service_level": {
                    "type": "object",
                    "properties": {
                        w: {
                            "type": "object",
                            "properties": {
                                "answered": _NUMBER_OR_NULL,
                                "with_abandoned": _NUMBER_OR_NULL,
                            },
                        }
                        for w in WINDOWS
                    },
                },
                "abandonment_rate": {
                    "type": "object",
                    "properties": {w: _NUMBER_OR_NULL for w in WINDOWS},
                },
                "calls_per_hour": {"type": "integer"},
                "breaches": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "call_id": {"type": "integer"},
                            "priority": {"type": "string", "enum": _PRIORITIES},
                            "queue": {"type": "string"},
                            "waited_s": {"type": "number"},
                            "target_s": {"type": "number"},
                        },
                    },
                },
                "surge": {"type": "boolean"},
            },
        },
        "HandlingFigures": figures,
        "HandlingReport": {
            "type": "object",
            "properties": {
                "from": {"type": "string", "format": "date-time"},
                "to": {"type": "string", "format": "date-time"},
                "calls": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "call_sid": {"type": "string"},
                            "priority": {"type": "string"},
                            "track": {"type": ["string", "null"]},
                            "status": {"type": "string"},
                            "stages": {"type": "object", "properties": stage_values},
                            "met": {
                                "type": "object",
                                "properties": {
                                    "arm_wait_s": {"type": "boolean"},
                                    "regulator_wait_s": {"type": "boolean"},
                                },
                            },
                            "callback": {"type": ["object", "null"]},
                        },
                    },
                },
                "summary": _ref("HandlingFigures"),
                **{
                    group: {"type": "array", "items": _ref("HandlingFigures")}
                    for group in ("by_day", "by_hour", "by_priority", "by_track")
                },
                "by_agent": {"type": "array", "items": {"type": "object"}},
            },
        },
    }


def paths() -> dict[str, Any]:
    return {
        "/api/queues": {
            "get": _op(
                "The live snapshot: queues, agents, service level, breaches, surge",
                "every role",
                {
                    "200": _json(_ref("LiveSnapshot")),
                    "503": _json(_ref("Error"), "Redis unavailable"),
                    **_ERRORS,
                },
            )
        },
        "/api/dashboard/stream": {
            "get": _op(
                "The live snapshot as Server-Sent Events (`event: snapshot`, at most one a "
                "second, a `:` heartbeat every 10 s)",
                "every role",
                {
                    "200": {
                        "description": "text/event-stream",
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    },
                    "503": _json(_ref("Error"), "Redis unavailable"),
                    **_ERRORS,
                },
            )
        },
        "/api/dashboard/charts": {
            "get": _op(
                "Arrivals and answers per 5 minutes, histogram of answer times",
                "supervisor, admin",
                {"200": _json({"type": "object"}), **_ERRORS},
                parameters=[
                    {
                        "name": "hours",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 24},
                    }
                ],
            )
        },
        "/api/dashboard/agents": {
            "get": _op("The agents' board", "supervisor, admin", {"200": _json({"type": "object"})})
        },
        "/api/reports/handling-times": {
            "get": _op(
                "Handling times per call and stage, compliance with the targets; "
                "`Accept: text/csv` for one row per call",
                "supervisor, admin",
                {
                    "200": {
                        "description": "OK",
                        "content": {
                            "application/json": {"schema": _ref("HandlingReport")},
                            "text/csv": {"schema": {"type": "string"}},
                        },
                    },
                    "400": _json(_ref("BadRequest"), "a refused bound"),
                    **_ERRORS,
                },
                parameters=[
                    *_RANGE,
                    {
                        "name": "calls",
                        "in": "query",
                        "description": "0 leaves out the list of calls",
                        "schema": {"type": "string", "enum": ["0", "1"]},
                    },
                ],
            )
        },
        "/api/reports/ars": {
            "get": _op(
                "The monthly indicators sent to the ARS",
                "supervisor, admin",
                {
                    "200": _json({"type": "object"}),
                    "400": _json(_ref("BadRequest")),
                    **_ERRORS,
                },
                parameters=[
                    {
                        "name": "month",
                        "in": "query",
                        "description": "YYYY-MM (Europe/Paris); by default this month",
                        "schema": {"type": "string"},
                    }
                ],
            )
        },
        "/api/policy/targets": {
            "get": _op(
                "The targets policy in force, its history and each default's source",
                "supervisor, admin",
                {"200": _json({"type": "object"}), **_ERRORS},
            ),
            "put": _op(
                "Save a new version of the policy, in force from now on",
                "admin",
                {
                    "200": _json({"type": "object"}),
                    "400": _json(_ref("BadRequest")),
                    **_ERRORS,
                },
                requestBody={
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
            ),
        },
    }
