"""The timeline and the audit log are append-only in the database itself, and
`flask retention purge` deletes whole records past the retention period, nothing younger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from callflow.models import Call, CallEvent
from callflow.retention import cutoff_for
from dashboards.models import HandlingTime
from regulation.models import AuditEntry, Dossier, Staff
from runtime.db import db
from runtime.settings import ConfigError, Settings

NOW = datetime.now(UTC)
OLD = NOW - timedelta(days=365 * 21)  # past 20 years
RECENT = NOW - timedelta(days=365)


def _call(sid: str, at: datetime, **extra) -> Call:
    call = Call(
        call_sid=sid,
        caller="+33612345678",
        status="completed",
        arrived_at=at,
        ended_at=at,
        updated_at=at,
        **extra,
    )
    db.session.add(call)
    db.session.flush()
    db.session.add(CallEvent(call_id=call.id, type="arrived", at=at, data={}))
    return call


def _audit(person, at: datetime, call: Call | None) -> None:
    db.session.add(
        AuditEntry(
            at=at,
            staff_id=person.id,
            username=person.username,
            role=person.role,
            action="read" if call else "login",
            call_id=call.id if call else None,
            detail={},
        )
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE call_events SET type = 'forged'",
        "DELETE FROM call_events",
        "UPDATE audit_log SET action = 'forged'",
        "DELETE FROM audit_log",
    ],
)
def test_raw_sql_cannot_change_or_delete_recent_rows(app, staff, statement):
    person = staff("arm", "armelle")
    with app.app_context():
        call = _call("CA" + "1" * 32, RECENT)
        _audit(person, RECENT, call)
        db.session.commit()
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(text(statement))
        assert db.session.scalar(select(func.count()).select_from(CallEvent)) == 1
        assert db.session.scalar(select(func.count()).select_from(AuditEntry)) == 1


def test_purge_deletes_whole_old_records_and_nothing_younger(app, staff):
    person = staff("regulator_amu", "regis")
    with app.app_context():
        old = _call("CA" + "2" * 32, OLD)
        db.session.add(Dossier(call_id=old.id, reason="douleur", notes="x", updated_at=OLD))
        _audit(person, OLD, old)
        _audit(person, OLD, None)  # an old login, about no call
        read_lately = _call("CA" + "3" * 32, OLD)
        _audit(person, RECENT, read_lately)  # opened last year: its record is not expired
        child = _call("CA" + "5" * 32, OLD)  # a 4-year-old then: kept until they are 28
        db.session.add(Dossier(call_id=child.id, patient={"age": 4}, updated_at=OLD))
        teen = _call("CA" + "6" * 32, OLD)  # 10 then: 28 some three years ago
        db.session.add(Dossier(call_id=teen.id, patient={"age": 10}, updated_at=OLD))
        young = _call("CA" + "4" * 32, RECENT, previous_call_id=old.id)
        db.session.get(Staff, person.id).presence_call_id = old.id
        db.session.commit()
        old_id, kept = old.id, {read_lately.id, young.id, child.id}
        assert db.session.get(HandlingTime, old_id) is not None  # the dashboards' row too

    dry = app.test_cli_runner().invoke(args=["retention", "purge", "--dry-run"])
    assert dry.exit_code == 0 and dry.output.startswith("2 calls"), dry.output
    done = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert done.exit_code == 0, done.output
    assert "purged 2 calls" in done.output and "1 older audit entries" in done.output

    with app.app_context():
        assert set(db.session.scalars(select(Call.id))) == kept
        assert db.session.get(Dossier, old_id) is None
        assert db.session.get(HandlingTime, old_id) is None
        assert db.session.scalars(select(CallEvent.call_id)).all().count(old_id) == 0
        audit = db.session.scalars(select(AuditEntry)).all()
        assert [(a.call_id, a.at.year) for a in audit] == [(min(kept), RECENT.year)]
        assert db.session.get(Call, young.id).previous_call_id is None
        assert db.session.get(Staff, person.id).presence_call_id is None
    again = app.test_cli_runner().invoke(args=["retention", "purge"])
    assert "purged 0 calls" in again.output


def test_retention_cannot_be_set_below_the_legal_period():
    assert Settings.load({}).retention_years == 20
    assert Settings.load({"RETENTION_YEARS": "30"}).retention_years == 30
    with pytest.raises(ConfigError, match=r"R\.1112-7"):
        Settings.load({"RETENTION_YEARS": "5"})


def test_cutoff_counts_calendar_years():
    assert cutoff_for(datetime(2026, 11, 24, tzinfo=UTC), 20) == datetime(2006, 11, 24, tzinfo=UTC)
    assert cutoff_for(datetime(2028, 2, 29, tzinfo=UTC), 21) == datetime(2007, 2, 28, tzinfo=UTC)
