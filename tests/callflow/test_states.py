"""The call's state machine and timeline."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from callflow.models import Call, CallEvent
from callflow.service import move, open_call
from callflow.states import MOVES, TERMINAL, CallStatus, IllegalTransition, check_move
from runtime.db import db


def test_terminal_statuses_have_no_way_out():
    for status in TERMINAL:
        assert MOVES[status] == frozenset()
        for target in CallStatus:
            with pytest.raises(IllegalTransition):
                check_move(status, target)


def test_every_status_is_in_the_machine():
    assert set(MOVES) == set(CallStatus)


def test_unknown_status_is_illegal():
    with pytest.raises(IllegalTransition):
        check_move("ivr", "teleported")


def test_a_move_writes_one_event_in_the_same_transaction(app):
    with app.app_context():
        call, created = open_call(
            db.session,
            call_sid="CA" + "e" * 32,
            caller_raw="+33612345678",
            dialled="+33199000015",
            line="public",
        )
        assert created
        move(db.session, call, CallStatus.QUEUED_ARM, event="queued", priority="P1")
        db.session.rollback()  # neither the move nor its event survive
        assert db.session.scalars(select(Call)).first() is None
        assert db.session.scalars(select(CallEvent)).first() is None


def test_an_illegal_move_changes_nothing(app):
    with app.app_context():
        call, _ = open_call(
            db.session, call_sid="CA" + "f" * 32, caller_raw=None, dialled=None, line="public"
        )
        move(db.session, call, CallStatus.ABANDONED, event="abandoned")
        db.session.commit()
        with pytest.raises(IllegalTransition):
            move(db.session, call, CallStatus.QUEUED_ARM, event="queued", priority="P0")
        assert call.status == "abandoned" and call.priority == "NR"
        assert [e.type for e in call.events] == ["arrived", "abandoned"]
        assert call.ended_at is not None


def test_events_are_append_only(app):
    with app.app_context():
        call, _ = open_call(
            db.session, call_sid="CA" + "d" * 32, caller_raw=None, dialled=None, line="public"
        )
        db.session.commit()
        event = call.events[0]
        event.type = "rewritten"
        with pytest.raises(PermissionError):
            db.session.commit()
        db.session.rollback()
        with pytest.raises(PermissionError):
            db.session.delete(db.session.get(CallEvent, event.id))
            db.session.commit()
