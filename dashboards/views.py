"""The dashboards' routes: thin views that parse, call one function, answer.

JSON API (staff, see `dashboards.access` for the roles):

| route | answers |
| --- | --- |
| `GET /api/queues` | the live snapshot (contract) |
| `GET /api/dashboard/stream` | the live snapshot as Server-Sent Events (contract) |
| `GET /api/dashboard/charts?hours=` | arrivals and answers per 5 min, answer-time histogram |
| `GET /api/dashboard/agents` | the agents' board |
| `GET /api/reports/handling-times?from=&to=` | the handling-time report; CSV on request |
| `GET /api/reports/ars?month=YYYY-MM` | the monthly ARS indicators |
| `GET /api/policy/targets` | the targets policy in force, its history, each field's source |
| `PUT /api/policy/targets` | a new version of the policy, in force from now (admin) |

Pages (French): `/supervision` (live), `/supervision/rapports` (reports),
`/supervision/objectifs` (the targets policy). `flask reports rebuild` recomputes every row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click
import redis
from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from callflow.models import iso
from queues.access import call_queues
from runtime.clock import now
from runtime.db import reads_only, session
from runtime.settings import Settings

from . import refresh, reports, room
from .access import ADMINS, EVERY_ROLE, OVERSEERS, allow, csrf_token, current_staff
from .live import HISTOGRAM_BIN_S, HISTOGRAM_BINS
from .models import HandlingTime, TargetPolicy  # noqa: F401  (tables for migrations)
from .policy import FIELDS, PolicyError, change_policy, load_history
from .snapshot import build_snapshot
from .stream import HEARTBEAT_S, snapshot_events

dashboards = Blueprint(
    "dashboards",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/dashboards",
    cli_group="reports",
)

CHART_BIN_S = 300


@dashboards.record_once
def _install(state: Any) -> None:
    state.app.extensions["dashboards"] = True
    refresh.install()


def _settings() -> Settings:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings


def _redis_down(exc: redis.RedisError) -> ResponseReturnValue:
    current_app.logger.warning("dashboards answer 503 (Redis: %s)", exc)
    return jsonify(error="live figures unavailable: Redis unreachable"), 503


def _refused(field: str, message: str) -> ResponseReturnValue:
    return jsonify(error=message, field=field), 400


# -- live -------------------------------------------------------------------------------------


@dashboards.get("/api/queues")
@allow(*EVERY_ROLE)
@reads_only
def queues_snapshot() -> ResponseReturnValue:
    try:
        return jsonify(
            build_snapshot(
                session=session(),
                store=call_queues(),
                stats=refresh.live_stats(),
                moment=now(),
            )
        )
    except redis.RedisError as exc:
        return _redis_down(exc)


@dashboards.get("/api/dashboard/stream")
@allow(*EVERY_ROLE)
def dashboard_stream() -> ResponseReturnValue:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    try:
        app.extensions["redis"].ping()
    except redis.RedisError as exc:
        return _redis_down(exc)
    session().close()  # the stream opens its own short transactions
    return Response(
        snapshot_events(
            app,
            heartbeat_s=float(app.config.get("DASHBOARD_HEARTBEAT_S", HEARTBEAT_S)),
            max_seconds=app.config.get("DASHBOARD_STREAM_MAX_S"),
        ),
        mimetype="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@dashboards.get("/api/dashboard/charts")
@allow(*OVERSEERS)
def charts() -> ResponseReturnValue:
    hours_raw = request.args.get("hours", "6")
    if not hours_raw.isdigit() or not 1 <= int(hours_raw) <= 24:
        return _refused("hours", "hours: a whole number from 1 to 24")
    hours = int(hours_raw)
    moment = now()
    bins = hours * 3600 // CHART_BIN_S
    start_s = (int(moment.timestamp()) // CHART_BIN_S + 1) * CHART_BIN_S - bins * CHART_BIN_S
    start = moment.fromtimestamp(start_s, moment.tzinfo)
    stats = refresh.live_stats()
    try:
        series = stats.series(start=start, bin_s=CHART_BIN_S, bins=bins)
        histogram = stats.answer_times(now=moment, hours=hours)
    except redis.RedisError as exc:
        return _redis_down(exc)
    target = load_history(session(), _settings()).current.arm_answer_s
    return jsonify(
        {
            "at": iso(moment),
            "bin_s": CHART_BIN_S,
            "series": [
                {
                    "start": iso(start + timedelta(seconds=i * CHART_BIN_S)),
                    "arrivals": arrivals,
                    "answers": answers,
                }
                for i, (arrivals, answers) in enumerate(series)
            ],
            "answer_times": {
                "hours": hours,
                "bin_s": HISTOGRAM_BIN_S,
                "counts": histogram[:HISTOGRAM_BINS],
                "over": histogram[HISTOGRAM_BINS],
                "over_s": HISTOGRAM_BIN_S * HISTOGRAM_BINS,
                "target_s": target,
            },
        }
    )


@dashboards.get("/api/dashboard/agents")
@allow(*OVERSEERS)
def agents() -> ResponseReturnValue:
    return jsonify(agents=room.agents_board(session()))


# -- reports ----------------------------------------------------------------------------------


@dashboards.get("/api/reports/handling-times")
@allow(*OVERSEERS)
def handling_times() -> ResponseReturnValue:
    try:
        start, end = reports.parse_range(
            request.args.get("from"), request.args.get("to"), now=now()
        )
    except reports.RangeError as exc:
        return _refused(exc.field, str(exc))
    if request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv":
        return Response(
            reports.report_csv(reports.load_rows(session(), start, end)),
            mimetype="text/csv",
            headers={"Content-Disposition": 'attachment; filename="temps-de-traitement.csv"'},
        )
    # `calls=0` leaves out the list of calls (the report page needs only the figures).
    with_calls = request.args.get("calls", "1") != "0"
    report = reports.handling_report(session(), start=start, end=end, include_calls=with_calls)
    if not with_calls:
        del report["calls"]
    return jsonify(report)


@dashboards.get("/api/reports/ars")
@allow(*OVERSEERS)
def ars() -> ResponseReturnValue:
    try:
        month, start, end = reports.month_range(request.args.get("month"), now=now())
    except reports.RangeError as exc:
        return _refused(exc.field, str(exc))
    return jsonify(reports.ars_indicators(session(), month=month, start=start, end=end))


# -- the targets policy -----------------------------------------------------------------------


def _policy_json() -> dict[str, Any]:
    history = load_history(session(), _settings())
    return {
        "current": history.current.as_json(),
        "fields": FIELDS,
        "history": [v.as_json() for v in reversed(history.versions)],
    }


@dashboards.get("/api/policy/targets")
@allow(*OVERSEERS)
def policy() -> ResponseReturnValue:
    return jsonify(_policy_json())


@dashboards.put("/api/policy/targets")
@allow(*ADMINS)
def change_targets() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refused("body", "a JSON object of the fields to change is expected")
    try:
        change_policy(session(), changes=body, changed_by=_who(), settings=_settings())
    except PolicyError as exc:
        session().rollback()
        return _refused(exc.field, str(exc))
    session().commit()
    return jsonify(_policy_json())


def _who() -> str:
    staff = current_staff()
    return f"{staff.username} ({staff.role})"


# -- pages ------------------------------------------------------------------------------------


QUEUE_LABELS = (("arm", "ARM"), ("callback", "Rappels"), ("amu", "AMU"), ("liberal", "Libéral"))
WINDOW_LABELS = (("15m", "15 min"), ("1h", "1 h"), ("24h", "24 h"))
STATUS_LABELS = (
    ("available", "Disponible"),
    ("busy", "En appel"),
    ("wrap_up", "Post-appel"),
    ("paused", "En pause"),
    ("offline", "Hors ligne"),
)
#: The regulation part's surge switch (declare / lift).
SURGE_URL = "/api/surge"


def _page(template: str, **values: Any) -> str:
    return render_template(template, csrf=csrf_token(), me=current_staff(), **values)


@dashboards.get("/supervision")
@allow(*OVERSEERS, page=True)
def supervision_page() -> ResponseReturnValue:
    return _page(
        "dashboards/supervision.html",
        active="live",
        queues=QUEUE_LABELS,
        priorities=("P0", "P1", "P2", "P3", "NR"),
        windows=WINDOW_LABELS,
        statuses=STATUS_LABELS,
        surge_url=SURGE_URL,
    )


@dashboards.get("/supervision/rapports")
@allow(*OVERSEERS, page=True)
def reports_page() -> ResponseReturnValue:
    return _page("dashboards/reports.html", active="reports")


@dashboards.get("/supervision/objectifs")
@allow(*OVERSEERS, page=True)
def policy_page() -> ResponseReturnValue:
    return _page("dashboards/policy.html", active="policy", can_edit=current_staff().role in ADMINS)


# -- commands ---------------------------------------------------------------------------------


@dashboards.cli.command("rebuild")
def rebuild_command() -> None:
    """Recompute every call's handling times from its timeline, and the live figures."""
    count = refresh.rebuild_all(session(), settings=_settings())
    click.echo(f"recomputed the handling times of {count} calls")
    try:
        live = refresh.rebuild_live(session(), refresh.live_stats())
        click.echo(f"live figures rebuilt from {live} calls of the last 25 h")
    except redis.RedisError as exc:
        click.echo(f"live figures not rebuilt (Redis: {exc})", err=True)
        raise SystemExit(1) from exc
