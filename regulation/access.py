"""Who may call which staff route, enforced in one place.

Every staff view declares its rule with `@allow(...)` (roles) or `@public`; one
`before_request` hook (`enforce_access`) reads the rule of the matched view and answers 401
without credentials, 403 for a role outside the rule, and checks the CSRF token of
state-changing requests made with the console's session cookie. Any other route without a
rule is refused (fail closed), unless its blueprint is one of `GUARDED_ELSEWHERE` (Twilio's
webhooks, the probes, the emulator's demo) or it serves static files; a test walks
`app.url_map` to keep it so (`tests/test_route_guards.py`).

Credentials: `Authorization: Bearer <token>`, or the console's session cookie.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from flask import Flask, Response, current_app, g, jsonify, redirect, request, session, url_for
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from runtime.db import db
from runtime.db import session as db_session

from .auth import csrf_matches, new_csrf_token, staff_for_token
from .models import Staff
from .roles import EVERYONE

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
#: Blueprints that are not staff routes, and what guards them instead of a role rule.
GUARDED_ELSEWHERE = {
    "voice": "Twilio webhooks: X-Twilio-Signature, fail closed (ivr/signature.py)",
    "connect": "Twilio webhooks: X-Twilio-Signature, fail closed (ivr/signature.py)",
    "health": "probes and metrics for the load balancer and Prometheus: no personal data",
    "demo": "the emulator's demo: 404 unless the built-in emulator stands in for Twilio",
}


@dataclass(frozen=True)
class AccessRule:
    roles: frozenset[str]
    #: No credentials needed (login, the OpenAPI document).
    public: bool = False
    #: A console page: without a session the person is sent to the login page.
    page: bool = False


class ApiError(Exception):
    """A refusal with a JSON body `{"error": message}` (and `"field"` for a 400)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.extra = extra or {}

    def response(self) -> Response:
        body: dict[str, Any] = {"error": self.message, **self.extra}
        if self.field is not None:
            body["field"] = self.field
        answer = jsonify(body)
        answer.status_code = self.status
        return answer


def allow(*roles: str | Iterable[str], page: bool = False) -> Callable[[F], F]:
    """The roles that may use this view (strings or sets of them)."""
    allowed: set[str] = set()
    for item in roles:
        allowed.update([item] if isinstance(item, str) else item)
    unknown = allowed - EVERYONE
    if unknown or not allowed:
        raise ValueError(f"bad roles in an access rule: {sorted(unknown) or 'none'}")

    def decorate(view: F) -> F:
        view.access_rule = AccessRule(frozenset(allowed), page=page)  # type: ignore[attr-defined]
        return view

    return decorate


def public(view: F) -> F:
    view.access_rule = AccessRule(frozenset(), public=True)  # type: ignore[attr-defined]
    return view


def rule_of(view: Callable[..., Any] | None) -> AccessRule | None:
    rule = getattr(view, "access_rule", None)
    return rule if isinstance(rule, AccessRule) else None


def current_staff() -> Staff:
    """The authenticated person of this request (only inside a guarded view)."""
    staff: Staff = g.staff
    return staff


def csrf_token() -> str:
    """This browser session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = new_csrf_token()
        session["csrf"] = token
    return str(token)


def _is_api() -> bool:
    return request.path.startswith("/api/")


def _refuse(status: int, message: str, rule: AccessRule | None) -> Response:
    if rule is not None and rule.page and status == 401:
        return redirect(url_for("consoles.login", next=request.full_path))  # type: ignore[return-value]
    if rule is not None and rule.page:
        return Response(message, status=status, mimetype="text/plain")
    return ApiError(status, message).response()


def _from_bearer(header: str) -> Staff | None:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return staff_for_token(db_session(), token.strip())


def _from_session() -> Staff | None:
    staff_id = session.get("staff_id")
    if not isinstance(staff_id, int):
        return None
    staff = db.session.get(Staff, staff_id)
    if staff is None or not staff.active or staff.session_epoch != session.get("epoch"):
        return None
    return staff


def guarded_elsewhere(endpoint: str) -> bool:
    """A route that needs no role rule: static files and the blueprints above."""
    blueprint, _, name = endpoint.rpartition(".")
    return name == "static" or blueprint in GUARDED_ELSEWHERE


def enforce_access() -> Response | None:
    """The one place where staff routes are guarded (a `before_request` hook)."""
    if request.endpoint is None:
        return None  # no route matched: the 404 / 405 handlers answer
    rule = rule_of(current_app.view_functions.get(request.endpoint))
    if rule is None:
        if guarded_elsewhere(request.endpoint):
            return None  # not a staff route: Twilio webhooks, probes, demo, static files
        log.error("route %s has no access rule: refused", request.endpoint)
        if _is_api():
            return ApiError(403, "cette route n'a pas de règle d'accès").response()
        return Response("Cette page n'a pas de règle d'accès.", status=403, mimetype="text/plain")
    g.access_rule = rule
    header = request.headers.get("Authorization")
    if header:
        staff, via = _from_bearer(header), "token"
    else:
        staff, via = _from_session(), "session"
    if rule.public:
        g.staff = staff
        return None
    if staff is None:
        return _refuse(401, "authentification requise", rule)
    if staff.role not in rule.roles:
        return _refuse(403, "votre rôle ne permet pas cette action", rule)
    if via == "session" and request.method not in SAFE_METHODS:
        given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
        if not csrf_matches(session.get("csrf"), given):
            return _refuse(403, "jeton CSRF manquant ou invalide", rule)
    g.staff = staff
    g.auth_via = via
    return None


def _api_error(error: ApiError) -> Response:
    db.session.rollback()
    return error.response()


def _http_error(error: HTTPException) -> Response | HTTPException:
    if not _is_api():
        return error
    status = error.code or 500
    messages = {404: "introuvable", 405: "méthode non permise"}
    return ApiError(status, messages.get(status, error.description or error.name)).response()


def _redis_down(error: redis.RedisError) -> Response:
    log.error("staff route %s without Redis: %s", request.path, error)
    db.session.rollback()
    if _is_api():
        return ApiError(503, "les files d'attente sont indisponibles (Redis)").response()
    return Response("Service momentanément indisponible (Redis).", status=503)


def _database_down(error: OperationalError | PoolTimeout) -> Response:
    log.error("staff route %s without the database: %s", request.path, error)
    db.session.rollback()
    if _is_api():
        return ApiError(503, "la base de données est indisponible; réessayez").response()
    return Response("Service momentanément indisponible (base de données).", status=503)


def init_access(app: Flask) -> None:
    app.before_request(enforce_access)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(redis.RedisError, _redis_down)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(PoolTimeout, _database_down)
    # Flask's defaults hold these keys already (SameSite None): set, not setdefault
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    # behind HTTPS the session cookie never travels in clear
    if (app.extensions["sas_settings"].public_base_url or "").startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
