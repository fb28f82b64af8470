"""Purging old records: `flask retention purge [--dry-run]`.

A call's record (the call, its timeline, dossier, decision, callbacks, handling times and
the audit entries about it) is a medical record: it is kept `RETENTION_YEARS` (20 by
default and at least, Code de la santé publique art. R.1112-7) after its last activity,
then deleted whole, not anonymised: past the legal period nothing justifies keeping a
medical record, and a timeline stripped of who called and what was said would still be
a patient's story. Last activity is the latest of the call's own update, its events and
the audit entries about it, so a record read recently is not purged. A minor's record is
kept until their 28th birthday when that comes later (age from the dossier; with only an
age group, as if a newborn).

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
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import Column, Table, and_, delete, exists, select, update
from sqlalchemy.orm import Session

from runtime.clock import now
from runtime.db import db
from runtime.db import session as db_session
from runtime.settings import Settings

#: A minor's record is kept until this birthday (Code de la santé publique, art. R.1112-7).
MINORS_UNTIL = 28
MINOR_AGE_GROUPS = ("nourrisson", "enfant", "adolescent")
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


def expired_calls(
    session: Session, moment: datetime, years: int, *, after: int = 0, limit: int
) -> tuple[list[int], int]:
    """(ids of the calls past retention, the last id looked at) among the next `limit` calls
    after id `after` with no activity for `years` (the call, its events, its audit). A
    minor's record is kept until their 28th birthday when that comes later."""
    cutoff = cutoff_for(moment, years)
    tables = db.metadata.tables
    calls, events, audit = tables["calls"], tables["call_events"], tables["audit_log"]
    dossiers = tables["dossiers"]
    rows = session.execute(
        select(calls.c.id, calls.c.arrived_at, dossiers.c.patient)
        .outerjoin(dossiers, dossiers.c.call_id == calls.c.id)
        .where(
            calls.c.id > after,
            calls.c.updated_at < cutoff,
            ~exists().where(and_(events.c.call_id == calls.c.id, events.c.at >= cutoff)),
            ~exists().where(and_(audit.c.call_id == calls.c.id, audit.c.at >= cutoff)),
        )
        .order_by(calls.c.id)
        .limit(limit)
    ).all()
    expired = [
        call_id
        for call_id, arrived_at, patient in rows
        if _minor_kept_until(arrived_at, patient) <= moment
    ]
    return expired, rows[-1][0] if rows else after


def _minor_kept_until(arrived_at: datetime, patient: Any) -> datetime:
    """A minor's record is kept until their 28th birthday (R.1112-7): the call's time plus
    28 years less their age then; with only an age group, as if a newborn."""
    if not isinstance(patient, dict):
        return arrived_at
    age = patient.get("age")
    if isinstance(age, int) and not isinstance(age, bool):
        return cutoff_for(arrived_at, age - MINORS_UNTIL) if age < 18 else arrived_at
    if patient.get("age_group") in MINOR_AGE_GROUPS:
        return cutoff_for(arrived_at, -MINORS_UNTIL)
    return arrived_at


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
    moment = at or now()
    cutoff = cutoff_for(moment, settings.retention_years)
    total, after = 0, 0
    while True:
        ids, last = expired_calls(
            session, moment, settings.retention_years, after=after, limit=BATCH
        )
        if last == after:
            break
        after = last
        if ids:
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
        count = len(expired_calls(session, now(), settings.retention_years, limit=10**9)[0])
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
