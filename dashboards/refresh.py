"""Keeping `handling_times` (and the live sets) in step with the call timelines.

**How rows stay current: hooks on every SQLAlchemy commit, installed once, that producers do
not call.** `install()` listens on SQLAlchemy sessions: `after_flush` notes the calls that got
a new `CallEvent` (leaving out events that change no figure, such as the hold loop's position
announcements: `dashboards.timeline.INERT`) and whether staff presence, the surge switch or
the policy changed; `before_commit` recomputes those calls' rows and upserts them inside the
producer's own transaction, in a savepoint (so the rows commit with their events, and a
failure of the upsert rolls back only the savepoint); `after_commit` mirrors the rows into the
live sets in Redis and publishes one change message for the live stream. It acts only in an
app that registered the dashboards, so `ivr/`, `regulation/` and any future producer are
covered without a line of their own, and a rolled-back transaction leaves no trace.

A failure here never reaches the producer (the savepoint is rolled back, or the transaction
is already committed when Redis fails): it is logged with the call ids, and the row is
repaired by the next change of that call, by `refresh_stale` (an idempotent job) or by
`flask reports rebuild`. A row is only ever
replaced by one computed from more of the timeline (`last_event_id`), so two refreshes racing
for the same call cannot leave the older result.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import timedelta
from typing import Any

import redis
from flask import Flask, current_app, has_app_context
from sqlalchemy import event, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from callflow.models import Call, CallEvent
from callflow.service import on_events_written, timeline_in_session
from runtime.clock import now
from runtime.db import db, driver_savepoint
from runtime.settings import Settings

from .handling import HandlingTimes, compute_handling
from .live import KEEP_S, LIVE_COLUMNS, LiveFacts, LiveStats
from .models import HandlingTime
from .policy import (
    FINGERPRINT_COLUMNS,
    PolicyHistory,
    cached_history,
    fingerprint_of,
    history_for,
    load_history,
)
from .timeline import INERT

log = logging.getLogger(__name__)

_CALLS = "dashboards.changed_calls"
_OTHER = "dashboards.changed_other"
_OWN = "dashboards.own_session"
_ROWS = "dashboards.refreshed_rows"
#: Tables whose changes the live view shows (agents' presence, the surge switch, the policy).
_WATCHED_TABLES = frozenset({"presence_events", "staff", "surge_changes", "target_policies"})
_BATCH = 500


# -- computing and storing rows -------------------------------------------------------------


_UPSERTS: dict[str, Any] = {}


def _upsert_statement(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO UPDATE of a whole row, built once per dialect."""
    if dialect not in _UPSERTS:
        table = HandlingTime.__table__
        if dialect == "postgresql":
            statement: Any = postgresql.insert(table)
        elif dialect == "sqlite":
            statement = sqlite.insert(table)
        else:  # pragma: no cover - the service runs on SQLite or PostgreSQL
            raise RuntimeError(f"unsupported database {dialect}")
        _UPSERTS[dialect] = statement.on_conflict_do_update(
            index_elements=["call_id"],
            set_={c.name: statement.excluded[c.name] for c in table.c if c.name != "call_id"},
            # never replace a row by one computed from less of the timeline
            where=table.c.last_event_id <= statement.excluded.last_event_id,
        ).returning(*LIVE_COLUMNS, *FINGERPRINT_COLUMNS)
    return _UPSERTS[dialect]


def _upsert(session: Session, rows: Sequence[HandlingTimes]) -> list[Row[Any]]:
    """Store the rows; returns what the live sets need of those written (a row left alone
    because a newer one is stored is not returned: its writer mirrored the newer one), and
    the targets policy's fingerprint as the statement saw it."""
    if not rows:
        return []
    moment = now()
    values = [dict(r.columns(), computed_at=moment) for r in rows]
    return list(session.execute(_upsert_statement(session.get_bind().dialect.name), values))


def compute_calls(
    session: Session, call_ids: Iterable[int], policies: PolicyHistory
) -> list[HandlingTimes]:
    """The handling times of these calls (their events loaded in one query)."""
    ids = sorted(set(call_ids))
    results: list[HandlingTimes] = []
    for start in range(0, len(ids), _BATCH):
        chunk = ids[start : start + _BATCH]
        if len(chunk) <= 4:
            # After a producer's flush its calls are in the session: no query for them.
            found = (session.get(Call, i) for i in chunk)
            calls = {c.id: c for c in found if c is not None}
        else:
            calls = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(chunk)))}
        events: dict[int, list[CallEvent]] = {}
        for call in calls.values():
            in_memory = timeline_in_session(call)
            if in_memory is not None:
                events[call.id] = in_memory
        to_load = [i for i in calls if i not in events]
        if to_load:
            events.update((i, []) for i in to_load)
            query = select(CallEvent).where(CallEvent.call_id.in_(to_load))
            for item in session.scalars(query):
                events[item.call_id].append(item)
        results += [compute_handling(calls[i], events[i], policies) for i in calls]
    return results


def refresh_calls(
    session: Session, call_ids: Iterable[int], *, settings: Settings | None = None
) -> list[Row[Any]]:
    """Recompute and store these calls' rows; returns what the live sets need of the rows
    written (plain rows, not ORM objects). The caller commits."""
    ids = sorted(set(call_ids))
    if not ids:
        return []
    known = cached_history(session, settings)
    if known is None:
        return _upsert(session, compute_calls(session, ids, load_history(session, settings)))
    # The history read before is used at once; the upsert returns the policy's fingerprint,
    # and should a version have been saved since, the rows are judged again with it.
    fingerprint, policies = known
    rows = _upsert(session, compute_calls(session, ids, policies))
    if rows and fingerprint_of(rows[0]) != fingerprint:
        policies = history_for(session, settings, fingerprint_of(rows[0]))
        rows = _upsert(session, compute_calls(session, ids, policies))
    return rows


def rebuild_all(session: Session, *, settings: Settings | None = None) -> int:
    """Recompute every call's row from its timeline (`flask reports rebuild`)."""
    policies = load_history(session, settings)
    total = 0
    last_id = 0
    while True:
        ids = list(
            session.scalars(
                select(Call.id).where(Call.id > last_id).order_by(Call.id).limit(_BATCH)
            )
        )
        if not ids:
            break
        _upsert(session, compute_calls(session, ids, policies))
        session.commit()
        session.expunge_all()
        total += len(ids)
        last_id = ids[-1]
    return total


def stale_call_ids(session: Session, *, limit: int = 1000) -> list[int]:
    """Calls whose row is missing or older than their last event."""
    last_event = (
        select(CallEvent.call_id, func.max(CallEvent.id).label("last_id"))
        .where(CallEvent.type.not_in(INERT))
        .group_by(CallEvent.call_id)
        .subquery()
    )
    query = (
        select(last_event.c.call_id)
        .outerjoin(HandlingTime, HandlingTime.call_id == last_event.c.call_id)
        .where(
            or_(
                HandlingTime.call_id.is_(None),
                HandlingTime.last_event_id < last_event.c.last_id,
            )
        )
        .limit(limit)
    )
    return list(session.scalars(query))


def recent_rows(session: Session) -> Iterator[LiveFacts]:
    """The rows the live sets should hold: every call with a fact in the last 25 h."""
    since = now() - timedelta(seconds=KEEP_S)
    yield from session.execute(
        select(*LIVE_COLUMNS).where(
            or_(
                HandlingTime.arrived_at >= since,
                HandlingTime.answered_at >= since,
                HandlingTime.abandoned_at >= since,
            )
        )
    ).yield_per(_BATCH)


def live_stats(app: Flask | None = None) -> LiveStats:
    target = app or current_app
    stats = target.extensions.get("dashboards_live")
    if stats is None:
        stats = LiveStats(target.extensions["redis"])
        target.extensions["dashboards_live"] = stats
    return stats


def rebuild_live(session: Session, stats: LiveStats) -> int:
    return stats.rebuild(recent_rows(session), now=now())


def refresh_stale(session: Session, stats: LiveStats, *, limit: int = 1000) -> int:
    """Repair rows a failed hook left behind (an idempotent periodic job)."""
    ids = stale_call_ids(session, limit=limit)
    rows = refresh_calls(session, ids)
    session.commit()
    if rows:
        stats.record(rows, now=now())
        stats.publish_change()
    return len(ids)


# -- the hook ---------------------------------------------------------------------------------


def timeline_changed(call_ids: Iterable[int], *, other_change: bool = False) -> None:
    """Recompute these calls' rows, mirror them live, tell the stream. Needs an app context."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    settings: Settings = app.extensions["sas_settings"]
    ids = sorted(set(call_ids))
    rows: list[Row[Any]] = []
    if ids:
        with Session(db.engine, expire_on_commit=False) as own:
            own.info[_OWN] = True
            try:
                rows = refresh_calls(own, ids, settings=settings)
                own.commit()
            except Exception:
                own.rollback()
                log.exception("handling times of calls %s not refreshed", ids)
                rows = []
    try:
        stats = live_stats(app)
        if rows:
            stats.record(rows, now=now())
        if ids or other_change:
            stats.publish_change()
    except redis.RedisError as exc:
        log.warning("live figures of calls %s not updated (Redis: %s)", ids, exc)


def _note_flush(session: Session, _context: Any) -> None:
    if session.info.get(_OWN):
        return
    calls: set[int] = session.info.setdefault(_CALLS, set())
    for item in session.new:
        if isinstance(item, CallEvent):
            if item.type not in INERT:
                calls.add(item.call_id)
        elif getattr(item, "__tablename__", None) in _WATCHED_TABLES:
            session.info[_OTHER] = True
    for item in session.dirty:
        if getattr(item, "__tablename__", None) in _WATCHED_TABLES:
            session.info[_OTHER] = True


def _note_written(session: Session, call_id: int, types: list[str]) -> None:
    """Events inserted without a flush (a new call's first ones): noted as `_note_flush`
    notes those of `session.new`."""
    if session.info.get(_OWN):
        return
    if any(type_ not in INERT for type_ in types):
        session.info.setdefault(_CALLS, set()).add(call_id)


def _dashboards_app() -> Flask | None:
    if not has_app_context() or "dashboards" not in current_app.extensions:
        return None
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    return app


def _before_commit(session: Session) -> None:
    """Write the rows of the calls this transaction changed, inside it: no second
    transaction, no second lock, and the rows commit (or not) with their events."""
    if session.info.get(_OWN) or session.in_nested_transaction():
        return
    app = _dashboards_app()
    if app is None:
        return
    session.flush()  # the last events, noted by `_note_flush`
    ids = session.info.pop(_CALLS, None)
    if not ids:
        return
    session.info[_OWN] = True  # nothing flushed from here on is a producer's change
    try:
        # Reads and one Core upsert: a savepoint the session need not know of.
        with driver_savepoint(session, "handling_times"):
            session.info[_ROWS] = refresh_calls(
                session, ids, settings=app.extensions["sas_settings"]
            )
    except Exception:
        # The savepoint is rolled back; the producer's transaction goes on untouched and
        # `refresh_handling_times` repairs these rows.
        log.exception("handling times of calls %s not refreshed", sorted(ids))
    finally:
        session.info.pop(_OWN, None)


def _after_commit(session: Session) -> None:
    if session.info.get(_OWN) or session.in_nested_transaction():
        return
    rows = session.info.pop(_ROWS, None) or []
    other = bool(session.info.pop(_OTHER, False))
    session.info.pop(_CALLS, None)
    if not (rows or other):
        return
    app = _dashboards_app()
    if app is None:
        return
    try:
        live_stats(app).record(rows, now=now(), publish=True)
    except redis.RedisError as exc:
        ids = [row.call_id for row in rows]
        log.warning("live figures of calls %s not updated (Redis: %s)", ids, exc)


def _forget(session: Session) -> None:
    for key in (_CALLS, _OTHER, _ROWS):
        session.info.pop(key, None)


_installed = False


def install() -> None:
    """Listen on every SQLAlchemy session (once per process)."""
    global _installed
    if _installed:
        return
    event.listen(Session, "after_flush", _note_flush)
    on_events_written(_note_written)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_rollback", _forget)
    _installed = True
