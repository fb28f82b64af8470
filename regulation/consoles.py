"""The consoles, French first: login, the ARM console, the regulator console and the admin
staff page. Server-rendered pages whose small script (`static/regulation/console.js`, no
inline script) talks to the staff API with the session cookie and the CSRF token."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.exceptions import BadRequest

from runtime.db import db
from runtime.db import session as db_session

from . import auth
from .access import allow, csrf_token, current_staff, public
from .auth import csrf_matches
from .config import RegulationSettings
from .models import Staff
from .presence import client_identity
from .roles import AGENTS, CLOSING_CODES, EVERYONE, ROLE_LABELS, ROLES, Role

consoles = Blueprint(
    "consoles",
    __name__,
    template_folder="templates",
    static_folder="static/regulation",
    static_url_path="/console/static",
)


def _mine() -> RegulationSettings:
    settings: RegulationSettings = current_app.extensions["regulation_settings"]
    return settings


@consoles.app_context_processor
def _template_helpers() -> dict[str, object]:
    return {
        "csrf_token": csrf_token,
        "role_labels": ROLE_LABELS,
        "me": getattr(g, "staff", None),
    }


def _home_for(role: str) -> str:
    if role == Role.ARM:
        return url_for("consoles.arm_console")
    if role in (Role.REGULATOR_AMU, Role.REGULATOR_LIBERAL):
        return url_for("consoles.regulator_console")
    if role == Role.ADMIN:
        return url_for("consoles.admin_staff")
    if role == Role.SUPERVISOR and "dashboards.supervision_page" in current_app.view_functions:
        return url_for("dashboards.supervision_page")
    return url_for("consoles.regulator_console")


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target.rstrip("?")


@consoles.route("/login", methods=["GET", "POST"])
@public
def login() -> ResponseReturnValue:
    error = None
    status = 200
    if request.method == "POST":
        if not csrf_matches(session.get("csrf"), request.form.get("csrf_token")):
            error, status = "Session expirée : rechargez la page et réessayez.", 400
        else:
            username = (request.form.get("username") or "").strip()[:64]
            password = (request.form.get("password") or "")[:256]
            from runtime.redis_conn import current_redis

            try:
                staff = auth.authenticate(
                    db_session(),
                    _mine(),
                    auth.Throttle(current_redis(), _mine()),
                    username=username,
                    password=password,
                    address=request.remote_addr or "-",
                )
            except auth.LoginThrottled as throttled:
                error = f"Trop d'échecs : réessayez dans {throttled.retry_after} s."
                status = 429
            except auth.BadCredentials:
                error, status = "Identifiant ou mot de passe incorrect.", 401
            else:
                db.session.commit()
                session.clear()
                session["staff_id"] = staff.id
                session["epoch"] = staff.session_epoch
                session["csrf"] = auth.new_csrf_token()
                session.permanent = False
                target = _safe_next(request.args.get("next")) or _home_for(staff.role)
                return redirect(target)
    return render_template("regulation/login.html", error=error), status


@consoles.post("/logout")
@allow(EVERYONE, page=True)
def logout() -> Response:
    session.clear()
    return redirect(url_for("consoles.login"))  # type: ignore[return-value]


@consoles.get("/console")
@allow(EVERYONE, page=True)
def console_home() -> Response:
    return redirect(_home_for(current_staff().role))  # type: ignore[return-value]


def _console_context() -> dict[str, object]:
    staff = current_staff()
    settings = current_app.extensions["sas_settings"]
    return {
        "staff": staff,
        "identity": client_identity(staff.id),
        "lease_seconds": settings.lease_seconds,
        "emulator": bool(settings.emulator_mode),
        "closing_codes": CLOSING_CODES,
    }


@consoles.get("/console/arm")
@allow(Role.ARM, page=True)
def arm_console() -> str:
    return render_template("regulation/arm.html", **_console_context())


@consoles.get("/console/regulation")
@allow(AGENTS - {Role.ARM}, Role.SUPERVISOR, Role.ADMIN, Role.OSNP, page=True)
def regulator_console() -> str:
    return render_template("regulation/regulator.html", **_console_context())


@consoles.get("/admin/staff")
@allow(Role.ADMIN, page=True)
def admin_staff() -> str:
    return _render_admin()


def _render_admin(message: str | None = None, error: str | None = None) -> str:
    staff = db.session.scalars(select(Staff).order_by(Staff.username)).all()
    return render_template(
        "regulation/admin_staff.html", people=staff, roles=ROLES, message=message, error=error
    )


@consoles.post("/admin/staff")
@allow(Role.ADMIN, page=True)
def admin_create_staff() -> ResponseReturnValue:
    form = request.form
    try:
        created = auth.create_staff(
            db_session(),
            _mine(),
            username=(form.get("username") or "")[:64],
            role=form.get("role") or "",
            password=form.get("password") or "",
            display_name=(form.get("display_name") or "")[:128] or None,
        )
    except ValueError as refused:
        db.session.rollback()
        return _render_admin(error=str(refused)), 400
    db.session.commit()
    return _render_admin(message=f"Compte {created.username} créé.")


@consoles.post("/admin/staff/<int:staff_id>/disable")
@allow(Role.ADMIN, page=True)
def admin_disable_staff(staff_id: int) -> ResponseReturnValue:
    staff = db.session.get(Staff, staff_id)
    if staff is None:
        raise BadRequest("compte inconnu")
    if staff.id == current_staff().id:
        return _render_admin(error="Vous ne pouvez pas désactiver votre propre compte."), 400
    auth.deactivate(db_session(), staff)
    db.session.commit()
    return _render_admin(message=f"Compte {staff.username} désactivé.")
