"""The staff API (JSON, under `/api`): thin views that parse, call one flow, answer.

Every view declares who may call it (`@allow` / `@public`); `regulation.access` enforces
it in one place. The OpenAPI document of these routes is `regulation/openapi.py`.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import select

from queues.access import call_queues
from runtime.db import session
from runtime.settings import Settings

from . import arm, auth, claiming, regulator, validation
from .access import ApiError, allow, current_staff, public
from .audit import audit_entries
from .calls import call_body, can_read, read_call
from .config import RegulationSettings
from .models import Staff
from .openapi import openapi_document
from .presence import agent_json, held_call, presence_history, set_presence
from .roles import (
    AGENTS,
    ARM_ROLES,
    CLOSING_CODES,
    EVERYONE,
    OVERSEERS,
    REGULATORS,
    Role,
    queues_for,
)
from .surge import declare_surge, surge_active, surge_json

api = Blueprint("staff_api", __name__, url_prefix="/api")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings


def _mine() -> RegulationSettings:
    settings: RegulationSettings = current_app.extensions["regulation_settings"]
    return settings


def _body() -> Any:
    return request.get_json(silent=True)


def _json(body: Any, status: int = 200) -> Response:
    answer = jsonify(body)
    answer.status_code = status
    return answer


# -- authentication --------------------------------------------------------------------------


@api.post("/auth/token")
@public
def issue_token() -> Response:
    data = validation.body_object(_body())
    username = validation.text(data, "username", max_length=auth.USERNAME_MAX) or ""
    password = validation.text(data, "password", max_length=256) or ""
    throttle = auth.Throttle(_redis(), _mine())
    try:
        staff = auth.authenticate(
            session(),
            _mine(),
            throttle,
            username=username,
            password=password,
            address=request.remote_addr or "-",
        )
    except auth.LoginThrottled as throttled:
        answer = ApiError(429, "trop d'échecs de connexion; réessayez plus tard").response()
        answer.headers["Retry-After"] = str(throttled.retry_after)
        return answer
    except auth.BadCredentials:
        raise ApiError(401, "identifiant ou mot de passe incorrect") from None
    token = auth.issue_token(session(), _mine(), staff)
    session().commit()
    return _json({"token": token, "role": staff.role, "expires_in": _mine().api_token_ttl_s})


@api.delete("/auth/token")
@allow(EVERYONE)
def revoke_token() -> Response:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(400, "seul un jeton porteur se révoque ici", field="Authorization")
    auth.revoke_token(session(), token.strip())
    session().commit()
    return Response(status=204)


def _redis() -> Any:
    from runtime.redis_conn import current_redis

    return current_redis()


# -- the agent ---------------------------------------------------------------------------------


def _me_json() -> dict[str, Any]:
    staff = current_staff()
    held = held_call(session(), staff.id)
    body = agent_json(staff, held_call_id=held.id if held else None)
    body["holding"] = held.id if held else None
    surge = surge_active(session())
    body["surge"] = surge
    body["queues"] = list(queues_for(staff.role, surge=surge))
    return body


@api.get("/agents/me")
@allow(EVERYONE)
def me() -> Response:
    return _json(_me_json())


@api.put("/agents/me/presence")
@allow(EVERYONE)
def put_presence() -> Response:
    status, reason = validation.presence(_body())
    staff = current_staff()
    holding = held_call(session(), staff.id)
    if holding is not None:
        raise ApiError(409, f"vous tenez l'appel {holding.id}: terminez-le ou rendez-le")
    set_presence(session(), staff, status, reason=reason)
    session().commit()
    return _json(_me_json())


@api.get("/agents/me/presence-history")
@allow(EVERYONE)
def my_presence_history() -> Response:
    return _json({"events": presence_history(session(), staff_id=current_staff().id)})


@api.get("/agents/me/voice-token")
@allow(AGENTS)
def voice_token() -> Response:
    from .presence import client_identity
    from .telephony import voice_access_token

    staff = current_staff()
    token = voice_access_token(staff.id)
    if token is None:
        raise ApiError(503, "aucune clé d'API Twilio configurée pour le softphone")
    return _json(
        {
            "token": token,
            "identity": client_identity(staff.id),
            "expires_in": _mine().voice_token_ttl_s,
        }
    )


@api.get("/agents")
@allow(OVERSEERS)
def list_agents() -> Response:
    staff = session().scalars(select(Staff).order_by(Staff.role, Staff.username))
    return _json({"agents": [agent_json(s) for s in staff]})


@api.post("/agents/me/next")
@allow(AGENTS)
def next_call() -> Response:
    staff = current_staff()
    store = call_queues()
    for _ in range(3):
        claim = claiming.claim_next(session(), store, _settings(), staff)
        if claim is None:
            return Response(status=204)
        outcome = claiming.connect_claimed(session(), store, staff, claim)
        if outcome == "connected":
            call = claiming.load_call(session(), claim.call.id)
            return _json({"call": call_body(session(), call)})
    return Response(status=204)


# -- calls -------------------------------------------------------------------------------------


@api.get("/calls/<int:call_id>")
@allow(EVERYONE)
def get_call(call_id: int) -> Response:
    call = claiming.load_call(session(), call_id)
    staff = current_staff()
    if not can_read(session(), staff, call):
        raise ApiError(403, "vous n'avez pas accès à cet appel")
    return _json(read_call(session(), _settings(), staff, call))


@api.post("/calls/<int:call_id>/heartbeat")
@allow(AGENTS)
def heartbeat(call_id: int) -> Response:
    call = claiming.load_call(session(), call_id)
    claiming.heartbeat(session(), call_queues(), _settings(), current_staff(), call)
    return _json({"call_id": call.id, "lease_seconds": _settings().lease_seconds})


@api.post("/calls/<int:call_id>/release")
@allow(AGENTS)
def release(call_id: int) -> Response:
    call = claiming.release(session(), call_queues(), current_staff(), call_id)
    return _json(call_body(session(), call))


@api.post("/calls/<int:call_id>/qualification")
@allow(ARM_ROLES, REGULATORS)
def qualification(call_id: int) -> Response:
    claiming.load_call(session(), call_id)
    body = validation.qualification(_body())
    call = arm.qualify(session(), current_staff(), call_id, body)
    return _json(call_body(session(), call))


@api.post("/calls/<int:call_id>/escalate")
@allow(Role.ARM)
def escalate(call_id: int) -> Response:
    claiming.load_call(session(), call_id)
    body = validation.escalation(_body())
    call = arm.escalate(session(), call_queues(), _settings(), current_staff(), call_id, body)
    return _json(call_body(session(), call))


@api.post("/calls/<int:call_id>/close")
@allow(Role.ARM)
def close(call_id: int) -> Response:
    claiming.load_call(session(), call_id)
    body = validation.closing(_body(), CLOSING_CODES)
    call = arm.close_call(session(), call_queues(), current_staff(), call_id, body)
    return _json(call_body(session(), call))


@api.post("/calls/<int:call_id>/decision")
@allow(REGULATORS)
def decision(call_id: int) -> Response:
    claiming.load_call(session(), call_id)
    body = validation.decision(_body())
    call, callback_at = regulator.decide(session(), call_queues(), current_staff(), call_id, body)
    if callback_at is not None:
        from .callbacks import schedule_release

        schedule_release(callback_at)
    return _json(call_body(session(), call))


@api.post("/calls/<int:call_id>/track")
@allow(REGULATORS)
def change_track(call_id: int) -> Response:
    claiming.load_call(session(), call_id)
    track, notes = validation.track_change(_body())
    call = regulator.change_track(
        session(), call_queues(), _settings(), current_staff(), call_id, track=track, notes=notes
    )
    return _json(call_body(session(), call))


@api.get("/queues/<queue>/calls")
@allow(AGENTS, OVERSEERS)
def queue_calls(queue: str) -> Response:
    return _json(
        regulator.queue_view(session(), call_queues(), _settings(), current_staff(), queue)
    )


# -- the room ----------------------------------------------------------------------------------


@api.get("/surge")
@allow(EVERYONE)
def get_surge() -> Response:
    return _json(surge_json(session()))


@api.post("/surge")
@allow(OVERSEERS)
def post_surge() -> Response:
    data = validation.body_object(_body())
    validation.only(data, ("active", "note"))
    active = data.get("active")
    if not isinstance(active, bool):
        raise validation.bad("active", "booléen attendu")
    note = validation.text(data, "note", required=False, max_length=500)
    declare_surge(session(), current_staff(), active=active, note=note)
    session().commit()
    return _json(surge_json(session()))


@api.get("/audit")
@allow(Role.ADMIN)
def audit_log() -> Response:
    def number(name: str, default: int | None) -> int | None:
        raw = request.args.get(name)
        if raw is None or raw == "":
            return default
        if not raw.isdigit():
            raise ApiError(400, "entier attendu", field=name)
        return int(raw)

    entries = audit_entries(
        session(),
        call_id=number("call_id", None),
        staff_id=number("staff_id", None),
        limit=min(number("limit", 200) or 200, 1000),
    )
    return _json({"entries": [e.as_json() for e in entries]})


# -- staff administration ----------------------------------------------------------------------


@api.get("/staff")
@allow(Role.ADMIN)
def list_staff() -> Response:
    staff = session().scalars(select(Staff).order_by(Staff.username))
    return _json({"staff": [agent_json(s) for s in staff]})


@api.post("/staff")
@allow(Role.ADMIN)
def create_staff() -> Response:
    data = validation.body_object(_body())
    validation.only(data, ("username", "role", "password", "display_name"))
    username = validation.text(data, "username", max_length=auth.USERNAME_MAX) or ""
    role = validation.choice(data, "role", [r.value for r in Role]) or ""
    password = validation.text(data, "password", max_length=256) or ""
    display = validation.text(data, "display_name", required=False, max_length=128)
    weak = auth.check_password_strength(password)
    if weak:
        raise validation.bad("password", weak)
    try:
        staff = auth.create_staff(
            session(),
            _mine(),
            username=username,
            role=role,
            password=password,
            display_name=display,
        )
    except ValueError as refused:
        raise ApiError(409, str(refused)) from None
    session().commit()
    return _json(agent_json(staff), 201)


@api.patch("/staff/<int:staff_id>")
@allow(Role.ADMIN)
def update_staff(staff_id: int) -> Response:
    staff = session().get(Staff, staff_id) if staff_id <= claiming.MAX_DB_ID else None
    if staff is None:
        raise ApiError(404, f"aucun membre du personnel {staff_id}")
    data = validation.body_object(_body())
    validation.only(data, ("role", "active", "password", "display_name"))
    if "role" in data:
        staff.role = validation.choice(data, "role", [r.value for r in Role]) or staff.role
    if "display_name" in data:
        staff.display_name = validation.text(data, "display_name", required=False, max_length=128)
    if "password" in data:
        password = validation.text(data, "password", max_length=256) or ""
        try:
            auth.set_password(session(), _mine(), staff, password)
        except ValueError as weak:
            raise validation.bad("password", str(weak)) from None
    if "active" in data:
        if not isinstance(data["active"], bool):
            raise validation.bad("active", "booléen attendu")
        if data["active"] is False and staff.active:
            auth.deactivate(session(), staff)
        elif data["active"] is True:
            staff.active = True
    session().commit()
    return _json(agent_json(staff))


@api.get("/openapi.json")
@public
def openapi() -> Response:
    return _json(openapi_document())
