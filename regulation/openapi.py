"""The OpenAPI 3 document of the staff API (`GET /api/openapi.json`), written by hand next
to the views it describes (`regulation/views.py`)."""

from __future__ import annotations

from typing import Any

PRIORITY = {"type": "string", "enum": ["P0", "P1", "P2", "P3"]}
ROLE = {
    "type": "string",
    "enum": ["arm", "regulator_amu", "regulator_liberal", "osnp", "supervisor", "admin"],
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _error(description: str) -> dict[str, Any]:
    return _json(_ref("Error"), description)


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


STANDARD = {
    "401": _error("no credentials, or invalid ones"),
    "403": _error("the role may not do this"),
}
CALL_ERRORS = {
    **STANDARD,
    "400": _json(_ref("BadRequest"), "a refused body: the first offending field"),
    "404": _error("no such call (malformed ids included)"),
    "409": _error("the agent does not hold this call"),
    "503": _error("Redis unavailable"),
}
CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}


def _op(
    summary: str,
    roles: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    secure: bool = True,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "responses": responses,
    }
    if body is not None:
        op["requestBody"] = _body(body)
    if parameters:
        op["parameters"] = parameters
    if not secure:
        op["security"] = []
    return op


SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {"error": {"type": "string"}},
    },
    "BadRequest": {
        "type": "object",
        "required": ["error", "field"],
        "properties": {"error": {"type": "string"}, "field": {"type": "string"}},
    },
    "Call": {
        "type": "object",
        "required": [
            "id",
            "call_sid",
            "caller",
            "status",
            "priority",
            "track",
            "queue",
            "enqueued_at",
            "answered_at",
        ],
        "properties": {
            "id": {"type": "integer"},
            "call_sid": {"type": "string"},
            "caller": {"type": ["string", "null"], "description": "E.164, null when withheld"},
            "caller_display": {"type": ["string", "null"]},
            "status": {
                "type": "string",
                "enum": [
                    "ivr",
                    "queued_arm",
                    "with_arm",
                    "queued_regulation",
                    "with_regulator",
                    "callback_pending",
                    "completed",
                    "abandoned",
                    "overflowed",
                    "failed",
                ],
            },
            "priority": {"type": "string", "enum": ["P0", "P1", "P2", "P3", "NR"]},
            "track": {"type": ["string", "null"], "enum": ["amu", "liberal", None]},
            "queue": {
                "type": ["string", "null"],
                "enum": ["arm", "callback", "amu", "liberal", None],
            },
            "enqueued_at": {"type": ["string", "null"], "format": "date-time"},
            "deadline": {"type": ["string", "null"], "format": "date-time"},
            "answered_at": {"type": ["string", "null"], "format": "date-time"},
            "agent_id": {"type": ["integer", "null"]},
            "dossier": {"type": ["object", "null"]},
        },
    },
    "CallDetail": {
        "allOf": [
            _ref("Call"),
            {
                "type": "object",
                "properties": {
                    "timeline": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "required": ["type", "at", "actor", "data"],
                            "properties": {
                                "type": {"type": "string"},
                                "at": {"type": "string", "format": "date-time"},
                                "actor": {"type": ["string", "null"]},
                                "data": {"type": "object"},
                            },
                        },
                    },
                    "history": {"type": "array", "items": {"type": "object"}},
                    "decisions": {"type": "array", "items": {"type": "object"}},
                    "callback_attempts": {"type": "array", "items": {"type": "object"}},
                    "target_s": {"type": ["integer", "null"]},
                },
            },
        ]
    },
    "Agent": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "username": {"type": "string"},
            "role": ROLE,
            "status": {
                "type": "string",
                "enum": ["available", "busy", "wrap_up", "paused", "offline"],
            },
            "reason": {"type": ["string", "null"]},
            "since": {"type": ["string", "null"], "format": "date-time"},
            "call_id": {"type": ["integer", "null"]},
            "client_identity": {"type": "string"},
        },
    },
    "Qualification": {
        "type": "object",
        "required": ["priority", "reason", "location", "patient"],
        "additionalProperties": False,
        "properties": {
            "priority": PRIORITY,
            "reason": {"type": "string", "maxLength": 500},
            "location": {
                "type": "object",
                "required": ["address"],
                "additionalProperties": False,
                "description": "postcode or insee is required",
                "properties": {
                    "address": {"type": "string"},
                    "postcode": {"type": "string", "pattern": "^[0-9]{5}$"},
                    "insee": {"type": "string", "pattern": "^([0-9]{5}|2[AB][0-9]{3})$"},
                    "floor": {"type": "string"},
                    "door_code": {"type": "string"},
                },
            },
            "patient": {
                "type": "object",
                "required": ["sex"],
                "additionalProperties": False,
                "description": "age or age_group is required",
                "properties": {
                    "age": {"type": "integer", "minimum": 0, "maximum": 130},
                    "age_group": {
                        "type": "string",
                        "enum": [
                            "nourrisson",
                            "enfant",
                            "adolescent",
                            "adulte",
                            "senior",
                            "inconnu",
                        ],
                    },
                    "sex": {"type": "string", "enum": ["M", "F", "U"]},
                },
            },
            "notes": {"type": "string"},
        },
    },
    "Escalation": {
        "type": "object",
        "required": ["track", "priority"],
        "additionalProperties": False,
        "properties": {
            "track": {"type": "string", "enum": ["amu", "liberal"]},
            "priority": PRIORITY,
        },
    },
    "Closing": {
        "type": "object",
        "required": ["code"],
        "additionalProperties": False,
        "properties": {
            "code": {
                "type": "string",
                "enum": [
                    "DR.DREG.DRARM",
                    "DR.DREG.DRINFO",
                    "D.D-MALV.ERR",
                    "D.D-MALV.NRP",
                    "D.D-MALV.MALV",
                    "D.D-MALV.FAX",
                    "D.D-MALV.ITERATIF",
                ],
            },
            "notes": {"type": "string"},
        },
    },
    "Decision": {
        "type": "object",
        "required": ["outcome", "urgency", "notes"],
        "additionalProperties": False,
        "properties": {
            "outcome": {"type": "string", "enum": ["CONSEIL", "PMT", "INTER", "ORIENT", "PASPLUS"]},
            "urgency": {"type": "string", "enum": ["R1", "R2", "R3", "R4"]},
            "notes": {"type": "string"},
            "resource": {"type": "string", "description": "SMUR, LIBERAL.MG, TSU, SIS…"},
            "orientation": {"type": "string", "description": "URGENCES, CABINET, DOMICILE…"},
            "callback_at": {
                "type": "string",
                "format": "date-time",
                "description": "defer the regulation to a callback at this time (P3)",
            },
            "snp": {"type": "boolean", "description": "ask the OSNP for an SNP appointment"},
        },
    },
}


def _other_parts() -> tuple[dict[str, Any], dict[str, Any]]:
    """The paths and schemas other parts describe for this document (the dashboards' live
    snapshot, stream and reports), when that part is installed."""
    try:
        from dashboards.openapi import paths, schemas
    except ImportError:
        return {}, {}
    return paths(), schemas()


def openapi_document() -> dict[str, Any]:
    document = _regulation_document()
    paths, schemas = _other_parts()
    for path, operations in paths.items():
        document["paths"].setdefault(path, operations)
    for name, schema in schemas.items():
        document["components"]["schemas"].setdefault(name, schema)
    return document


def _regulation_document() -> dict[str, Any]:
    call = _json(_ref("Call"), "the call")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "SAS staff API",
            "version": "1.0.0",
            "description": (
                "The API of the SAS / SAMU-Centre 15 consoles. Authenticate with "
                "`Authorization: Bearer <token>` from `POST /api/auth/token`, or the console's "
                "session cookie (then send `X-CSRF-Token` on changes). Errors are "
                '`{"error": str}`; refused bodies `{"error", "field"}`.'
            ),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": dict(SCHEMAS),
        },
        "security": [{"bearer": []}, {"session": []}],
        "paths": {
            "/api/auth/token": {
                "post": _op(
                    "Get a bearer token",
                    "anyone",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["token", "role"],
                                "properties": {
                                    "token": {"type": "string"},
                                    "role": ROLE,
                                    "expires_in": {"type": "integer"},
                                },
                            }
                        ),
                        "400": _json(_ref("BadRequest"), "missing field"),
                        "401": _error("wrong credentials"),
                        "429": _error("too many failures for this account or address"),
                    },
                    body={
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {
                            "username": {"type": "string"},
                            "password": {"type": "string"},
                        },
                    },
                    secure=False,
                ),
                "delete": _op(
                    "Revoke the bearer token of this request",
                    "every role",
                    {"204": {"description": "revoked"}, **STANDARD},
                ),
            },
            "/api/agents/me": {
                "get": _op("The agent and presence", "every role", {"200": _json(_ref("Agent"))})
            },
            "/api/agents/me/presence": {
                "put": _op(
                    "Set presence",
                    "every role",
                    {
                        "200": _json(_ref("Agent")),
                        "400": _json(_ref("BadRequest")),
                        "409": _error("holding a call"),
                        **STANDARD,
                    },
                    body={
                        "type": "object",
                        "required": ["status"],
                        "properties": {
                            "status": {
                                "type": "string",
                                "enum": ["available", "paused", "offline"],
                            },
                            "reason": {"type": "string", "description": "required for paused"},
                        },
                    },
                )
            },
            "/api/agents/me/voice-token": {
                "get": _op(
                    "A Twilio Voice access token for the browser softphone",
                    "arm, regulator_amu, regulator_liberal",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "token": {"type": "string"},
                                    "identity": {"type": "string"},
                                    "expires_in": {"type": "integer"},
                                },
                            }
                        ),
                        "503": _error("no Twilio API key configured"),
                        **STANDARD,
                    },
                )
            },
            "/api/agents/me/presence-history": {
                "get": _op(
                    "The agent's presence changes", "every role", {"200": _json({"type": "object"})}
                )
            },
            "/api/agents": {
                "get": _op(
                    "Every agent and presence",
                    "supervisor, admin",
                    {"200": _json({"type": "object"}), **STANDARD},
                )
            },
            "/api/agents/me/next": {
                "post": _op(
                    "Claim the best waiting call and connect the caller",
                    "arm, regulator_amu, regulator_liberal",
                    {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["call"],
                                "properties": {"call": _ref("Call")},
                            }
                        ),
                        "204": {"description": "nothing waits for this role"},
                        "409": _error("already holding a call"),
                        "502": _error("Twilio failed; the call is back in its place"),
                        "503": _error("Redis unavailable"),
                        **STANDARD,
                    },
                )
            },
            "/api/calls/{call_id}": {
                "get": _op(
                    "The call with its timeline (audited)",
                    "every role, within the access rules",
                    {"200": _json(_ref("CallDetail")), **CALL_ERRORS},
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/heartbeat": {
                "post": _op(
                    "Keep the lease on a held call",
                    "arm, regulators",
                    {"200": _json({"type": "object"}), **CALL_ERRORS},
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/release": {
                "post": _op(
                    "Give the call back to its place",
                    "arm, regulators",
                    {"200": call, **CALL_ERRORS},
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/qualification": {
                "post": _op(
                    "Record the dossier",
                    "arm, regulators",
                    {"200": call, **CALL_ERRORS},
                    body=_ref("Qualification"),
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/escalate": {
                "post": _op(
                    "Send the call to a regulator (P0: accompanied, AMU only)",
                    "arm",
                    {"200": call, **CALL_ERRORS},
                    body=_ref("Escalation"),
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/close": {
                "post": _op(
                    "Close without medical regulation (Hub code)",
                    "arm",
                    {"200": call, **CALL_ERRORS},
                    body=_ref("Closing"),
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/decision": {
                "post": _op(
                    "Decide and close (or schedule a callback)",
                    "regulator_amu, regulator_liberal",
                    {"200": call, **CALL_ERRORS},
                    body=_ref("Decision"),
                    parameters=[CALL_ID],
                )
            },
            "/api/calls/{call_id}/track": {
                "post": _op(
                    "Hand the call to the other track, in place",
                    "regulator_amu, regulator_liberal",
                    {"200": call, **CALL_ERRORS},
                    body={
                        "type": "object",
                        "required": ["track"],
                        "properties": {
                            "track": {"type": "string", "enum": ["amu", "liberal"]},
                            "notes": {"type": "string"},
                        },
                    },
                    parameters=[CALL_ID],
                )
            },
            "/api/queues/{queue}/calls": {
                "get": _op(
                    "A queue in service order, with dossiers (audited)",
                    "agents for the queues they serve; supervisor, admin",
                    {"200": _json({"type": "object"}), "404": _error("no such queue"), **STANDARD},
                    parameters=[
                        {
                            "name": "queue",
                            "in": "path",
                            "required": True,
                            "schema": {
                                "type": "string",
                                "enum": ["arm", "callback", "amu", "liberal"],
                            },
                        }
                    ],
                )
            },
            "/api/surge": {
                "get": _op("Is a surge declared", "every role", {"200": _json({"type": "object"})}),
                "post": _op(
                    "Declare or lift a surge",
                    "supervisor, admin",
                    {
                        "200": _json({"type": "object"}),
                        "400": _json(_ref("BadRequest")),
                        **STANDARD,
                    },
                    body={
                        "type": "object",
                        "required": ["active"],
                        "properties": {"active": {"type": "boolean"}, "note": {"type": "string"}},
                    },
                ),
            },
            "/api/audit": {
                "get": _op(
                    "The audit log, newest first",
                    "admin",
                    {"200": _json({"type": "object"}), **STANDARD},
                    parameters=[
                        {"name": n, "in": "query", "schema": {"type": "integer"}}
                        for n in ("call_id", "staff_id", "limit")
                    ],
                )
            },
            "/api/staff": {
                "get": _op(
                    "Staff accounts", "admin", {"200": _json({"type": "object"}), **STANDARD}
                ),
                "post": _op(
                    "Create a staff account",
                    "admin",
                    {"201": _json(_ref("Agent")), "409": _error("username taken"), **STANDARD},
                    body={
                        "type": "object",
                        "required": ["username", "role", "password"],
                        "properties": {
                            "username": {"type": "string"},
                            "role": ROLE,
                            "password": {"type": "string", "minLength": 8},
                            "display_name": {"type": "string"},
                        },
                    },
                ),
            },
            "/api/staff/{staff_id}": {
                "patch": _op(
                    "Change role, name, password, or disable an account",
                    "admin",
                    {"200": _json(_ref("Agent")), "404": _error("no such account"), **STANDARD},
                    body={
                        "type": "object",
                        "properties": {
                            "role": ROLE,
                            "active": {"type": "boolean"},
                            "password": {"type": "string"},
                            "display_name": {"type": "string"},
                        },
                    },
                    parameters=[
                        {
                            "name": "staff_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                )
            },
            "/api/openapi.json": {
                "get": _op(
                    "This document", "anyone", {"200": _json({"type": "object"})}, secure=False
                )
            },
        },
    }
