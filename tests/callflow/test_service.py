"""Writing a call's timeline: the unit of work's way and `append_event`'s way agree."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from sqlalchemy import func, select

from callflow.models import Call, CallEvent
from callflow.service import append_event, open_call, record_event
from dashboards.models import HandlingTime
from runtime.db import db
from tests.helpers import new_sid


def _opened(app: Flask) -> int:
    with app.app_context():
        call, _ = open_call(
            db.session, call_sid=new_sid(), caller_raw="+33612345678", dialled=None, line="public"
        )
        db.session.commit()
        return call.id


def test_an_appended_event_is_in_the_timeline_and_moves_updated_at(app: Flask) -> None:
    call_id = _opened(app)
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert call is not None
        before = list(call.events)  # a timeline already in memory gets the event too
        entry = append_event(db.session, call, type="position_announced", data={"position": 3})
        entry_id = entry.id
        assert [e.id for e in call.events] == [e.id for e in before] + [entry_id]
        db.session.commit()
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert call is not None
        stored = db.session.scalars(select(CallEvent).where(CallEvent.id == entry_id)).one()
        assert (stored.call_id, stored.type, stored.data) == (
            call_id,
            "position_announced",
            {"position": 3},
        )
        assert call.updated_at == stored.at
        assert [e.type for e in call.events] == ["arrived", "position_announced"]


def test_an_event_appended_after_unflushed_ones_keeps_their_order(app: Flask) -> None:
    call_id = _opened(app)
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert call is not None
        record_event(db.session, call, type="callback_offered")
        append_event(db.session, call, type="position_announced")
        db.session.commit()
        types = db.session.scalars(
            select(CallEvent.type).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
        ).all()
        assert types == ["arrived", "callback_offered", "position_announced"]


def test_an_appended_event_that_changes_a_figure_refreshes_the_calls_row(app: Flask) -> None:
    call_id = _opened(app)
    with app.app_context():
        call = db.session.get(Call, call_id)
        assert call is not None
        entry = append_event(db.session, call, type="snp_requested")
        db.session.commit()
        row = db.session.get(HandlingTime, call_id)
        assert row is not None
        assert row.last_event_id == entry.id


def test_a_new_calls_timeline_in_memory_is_what_the_database_stored(app: Flask) -> None:
    """The first event rides in the call's own INSERT on PostgreSQL (a second statement on
    SQLite); a repeat caller's second event follows it; a retried CallSid writes none."""
    first_sid, sid = new_sid(), new_sid()
    window = timedelta(hours=24)
    with app.app_context():
        for each in (first_sid, sid):
            call, created = open_call(
                db.session,
                call_sid=each,
                caller_raw="+33612345670",
                dialled=None,
                line="public",
                data={"note": "x"},
                history_window=window,
            )
            assert created
        in_memory = [(e.id, e.call_id, e.type, e.at, e.data) for e in call.events]
        db.session.commit()
        call_id = call.id
    with app.app_context():
        stored = db.session.execute(
            select(CallEvent.id, CallEvent.call_id, CallEvent.type, CallEvent.at, CallEvent.data)
            .where(CallEvent.call_id == call_id)
            .order_by(CallEvent.id)
        ).all()
        assert [tuple(row) for row in stored] == in_memory
        assert [row.type for row in stored] == ["arrived", "repeat_caller"]
        assert stored[0].data == {"line": "public", "caller_flag": None, "note": "x"}
        again, created = open_call(
            db.session, call_sid=sid, caller_raw="+33612345670", dialled=None, line="public"
        )
        assert not created and again.id == call_id
        db.session.commit()
        count = db.session.scalar(
            select(func.count()).select_from(CallEvent).where(CallEvent.call_id == call_id)
        )
        assert count == 2
