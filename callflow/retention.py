"""Purging old records: `flask retention purge [--dry-run]`.

A call's record (the call, its timeline, dossier, decision, callbacks, handling times and
the audit entries about it) is a medical record: it is kept `RETENTION_YEARS` (20 by
default and at least, Code de la santé publique art. R.1112-7) after its last activity,
then deleted whole, not anonymised: past the legal period nothing justifies keeping a
medical record, and a timeline stripped of who called and what was said would still be
a patient's story. Last activity is the latest of the call's own update, its events and
the audit entries about it, so a record read recently is not purged.

The tables are found from the schema, not listed here: every row whose foreign key points
at a purged call goes with it; a nullable link from a row that stays (a later call's
`previous_call_id`, a staff member's current call) is cut instead. The audit log and the
timeline are append-only in the database (triggers refuse UPDATE, and DELETE of any row
younger than 20 years); this is the only path that deletes from them. Audit entries about
no call (logins, staff administration) older than the period go too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Column, Table, and_, delete, exists, select, update
from sqlalchemy.orm import Session

from runtime.clock import now
from runtime.db import db
from runtime.db import session as db_session
from runtime.settings import Settings

#: Tables whose rows are part of a call's record even where the link is nullable.
RECORD_TABLES = ("call_events", "audit_log")
BATCH = 500


@dataclass(frozen=True)
class Purge:
    cutoff: datetime
    calls: int
    other_audit_entries: int


def cutoff_for(moment: datetime, years: int) -> datetime:
    """`years` calendar years before `moment` (29 February falls back to the 28th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return (moment - timedelta(days=1)).replace(year=moment.year - years)


def _links_to_calls() -> Iterator[tuple[Table, Column]]:
    calls = db.metadata.tables["calls"]
    # dependents first: a row is deleted before any row it points at
    for table in reversed(db.metadata.sorted_tables):
        for column in table.columns:
            if any(fk.column is calls.c.id for fk in column.foreign_keys):
                yield table, column


def expired_calls(session: Session, cutoff: datetime, *, limit: int) -> list[int]:
    """Ids of calls with no activity since `cutoff` (the call, its events, its audit)."""
    tables = db.metadata.tables
    calls, events, audit = tables["calls"], tables["call_events"], tables["audit_log"]
    query = (
        select(calls.c.id)
        .where(
            calls.c.updated_at < cutoff,
            ~exists().where(and_(events.c.call_id == calls.c.id, events.c.at >= cutoff)),
            ~exists().where(and_(audit.c.call_id == calls.c.id, audit.c.at >= cutoff)),
        )
        .order_by(calls.c.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def _purge_calls(session: Session, ids: list[int]) -> None:
    calls = db.metadata.tables["calls"]
    for table, column in _links_to_calls():
        owned = table.name in RECORD_TABLES or not column.nullable
        if owned and table is not calls:
            session.execute(delete(table).where(column.in_(ids)))
        else:
            rows = update(table).where(column.in_(ids)).values({column.name: None})
            if table is calls:
                rows = rows.where(calls.c.id.not_in(ids))
            session.execute(rows)
    session.execute(delete(calls).where(calls.c.id.in_(ids)))


def purge(session: Session, settings: Settings, *, at: datetime | None = None) -> Purge:
    """Delete every record past the retention period, in batches (one transaction each)."""
    cutoff = cutoff_for(at or now(), settings.retention_years)
    total = 0
    while ids := expired_calls(session, cutoff, limit=BATCH):
        _purge_calls(session, ids)
        session.commit()
        total += len(ids)
    audit = db.metadata.tables["audit_log"]
    result = session.execute(delete(audit).where(audit.c.call_id.is_(None), audit.c.at < cutoff))
    session.commit()
    other = int(getattr(result, "rowcount", 0) or 0)
    return Purge(cutoff=cutoff, calls=total, other_audit_entries=other)


@click.group("retention", help="Purge records past the retention period.")
def retention_cli() -> None:
    pass


@retention_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would be purged, change nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    settings: Settings = current_app.extensions["sas_settings"]
    session = db_session()
    if dry_run:
        cutoff = cutoff_for(now(), settings.retention_years)
        count = len(expired_calls(session, cutoff, limit=10**9))
        click.echo(
            f"{count} calls with no activity since {cutoff:%Y-%m-%d} would be purged"
            f" (RETENTION_YEARS={settings.retention_years})"
        )
        return
    done = purge(session, settings)
    click.echo(
        f"purged {done.calls} calls with no activity since {done.cutoff:%Y-%m-%d} and"
        f" {done.other_audit_entries} older audit entries"
        f" (RETENTION_YEARS={settings.retention_years})"
    )
