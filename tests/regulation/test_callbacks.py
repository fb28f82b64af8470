"""Calling patients back: a claimed callback places an outbound call through Twilio; no
answer is retried after a delay (an RQ scheduled job, and the cron pass as a safety net),
every attempt recorded; a P3 decision can schedule a callback at a time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import redis
from rq import Queue
from rq.registry import ScheduledJobRegistry
from sqlalchemy import select

from callflow.models import Call
from queues.access import call_queues
from regulation.callbacks import release_due_callbacks
from regulation.models import CallbackAttempt, ScheduledCallback
from runtime.clock import frozen
from runtime.db import db
from tests.conftest import TwilioWebhooks
from tests.helpers import call_params, twiml

from .conftest import CHEAP_HASHES

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


@pytest.fixture()
def app_config(twilio_rest):
    return {
        **CHEAP_HASHES,
        "TWILIO_API_BASE_URL": twilio_rest.base_url,
        "TWILIO_REST_BACKOFF_S": "0.01",
        "CALLBACK_MAX_ATTEMPTS": "2",
        "CALLBACK_RETRY_DELAY_S": "120",
        "PUBLIC_BASE_URL": "https://sas.example.fr",
    }


@pytest.fixture()
def twilio(client):
    """Webhooks signed as Twilio signs them for the public URL."""
    return TwilioWebhooks(client, base_url="https://sas.example.fr")


def call_row(app, call_id):
    with app.app_context():
        call = db.session.get(Call, call_id)
        db.session.expunge(call)
        db.session.remove()
        return call


def callback_call(app, twilio, waiting_call, clock):
    """A caller who accepted the callback offer after 3 minutes on hold."""
    call_id = waiting_call(digits="2")
    sid = call_row(app, call_id).call_sid
    clock.advance(185)
    twilio.post("/twilio/voice/hold", call_params(sid, QueueSid="QU" + "a" * 32))
    twilio.post("/twilio/voice/callback-offer", call_params(sid, Digits="1"))
    call = call_row(app, call_id)
    assert (call.status, call.queue) == ("callback_pending", "callback")
    return call


def leg_status(twilio, call_id, leg, status):
    path = f"/twilio/voice/connect/{call_id}/callback-status"
    params = call_params(leg, CallStatus=status, Direction="outbound-api")
    return twilio.post(path, params)


def attempts(app, call_id):
    with app.app_context():
        rows = db.session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.call_id == call_id)
            .order_by(CallbackAttempt.id)
        ).all()
        found = [(a.attempt, a.status) for a in rows]
        db.session.remove()
        return found


def test_callback_retried_then_answered(
    app, as_staff, waiting_call, twilio, twilio_rest, redis_url
):
    with frozen(T0) as clock:
        call = callback_call(app, twilio, waiting_call, clock)
        arm = as_staff("arm")
        arm.available()
        taken = arm.next()
        assert taken.status_code == 200 and taken.get_json()["call"]["status"] == "with_arm"
        created = twilio_rest.seen("/Calls.json")
        assert len(created) == 1
        form = created[0].form
        assert (form["To"], form["From"]) == ("+33612345678", "+33199000015")
        assert (
            form["Url"]
            == f"https://sas.example.fr/twilio/voice/connect/{call.id}/agent/{arm.person.id}"
        )
        assert form["StatusCallback"].endswith(f"/connect/{call.id}/callback-status")
        [(number, status)] = attempts(app, call.id)
        assert (number, status) == (1, "placed")
        with app.app_context():
            leg = db.session.scalars(select(CallbackAttempt)).one().leg_sid
            db.session.remove()

        assert leg_status(twilio, call.id, leg, "ringing").status_code == 200
        leg_status(twilio, call.id, leg, "no-answer")
        assert attempts(app, call.id) == [(1, "no-answer")]
        waiting = call_row(app, call.id)
        assert (waiting.status, waiting.queue, waiting.agent_id) == ("callback_pending", None, None)
        assert arm.get("/api/agents/me").get_json()["status"] == "available"
        with app.app_context():
            assert call_queues().entry(call.id) is None
            scheduled = db.session.scalars(select(ScheduledCallback)).one()
            assert scheduled.due_at == T0 + timedelta(seconds=185 + 120)
            db.session.remove()
        rq = Queue("sas", connection=redis.Redis.from_url(redis_url))
        assert len(ScheduledJobRegistry(queue=rq).get_job_ids()) == 1
        assert arm.next().status_code == 204  # not due yet

        clock.advance(121)
        with app.app_context():
            assert release_due_callbacks(
                db.session, call_queues(), app.extensions["sas_settings"]
            ) == [call.id]
            entry = call_queues().entry(call.id)
            assert (entry.queue, entry.deadline) == ("callback", call.deadline)  # same place
            db.session.remove()

        assert arm.next().get_json()["call"]["id"] == call.id
        assert [a for a, _ in attempts(app, call.id)] == [1, 2]
        with app.app_context():
            leg = (
                db.session.scalars(select(CallbackAttempt).order_by(CallbackAttempt.id.desc()))
                .first()
                .leg_sid
            )
            db.session.remove()
        # The patient answers: the document greets them and dials the ARM.
        path = f"/twilio/voice/connect/{call.id}/agent/{arm.person.id}"
        doc = twiml(twilio.post(path, call_params(leg)))
        assert "rappelons" in " ".join(s.text or "" for s in doc.iter("Say"))
        assert doc.find("Dial/Client").text == f"agent_{arm.person.id}"
        leg_status(twilio, call.id, leg, "in-progress")
        escalated = arm.post(
            f"/api/calls/{call.id}/escalate", {"track": "liberal", "priority": "P2"}
        )
        assert escalated.status_code == 200
        # The live leg is the callback leg: that is the one redirected to the hold.
        assert twilio_rest.seen(f"/Calls/{leg}.json")
        detail = arm.get(f"/api/calls/{call.id}").get_json()
        results = [
            e["data"]["result"] for e in detail["timeline"] if e["type"] == "callback_attempt"
        ]
        assert results == ["placed", "no-answer", "placed", "answered"]
        # The patient waits for the regulator on the callback leg, which the regulator's
        # connection takes (the original inbound leg ended long ago).
        hold_path = f"/twilio/voice/connect/{call.id}/hold?why=escalated"
        hold = twiml(twilio.post(hold_path, call_params(leg)))
        assert hold.find("Enqueue").text == "sas-liberal"
        twilio_rest.unknown.add(call.call_sid)
        regulator = as_staff("regulator_liberal")
        taken = regulator.next()
        assert taken.status_code == 200 and taken.get_json()["call"]["id"] == call.id
        connect = twilio_rest.seen(f"/Calls/{leg}.json")[-1].form["Url"]
        assert connect.endswith(f"/connect/{call.id}/agent/{regulator.person.id}")


def test_callback_gives_up_after_the_last_attempt(app, as_staff, waiting_call, twilio, twilio_rest):
    with frozen(T0) as clock:
        call = callback_call(app, twilio, waiting_call, clock)
        arm = as_staff("arm")
        for attempt in (1, 2):
            assert arm.next().status_code == 200
            with app.app_context():
                leg = (
                    db.session.scalars(select(CallbackAttempt).order_by(CallbackAttempt.id.desc()))
                    .first()
                    .leg_sid
                )
                db.session.remove()
            leg_status(twilio, call.id, leg, "busy")
            if attempt == 1:
                clock.advance(121)
                with app.app_context():
                    release_due_callbacks(db.session, call_queues(), app.extensions["sas_settings"])
                    db.session.remove()
        final = call_row(app, call.id)
        assert final.status == "failed"
        assert attempts(app, call.id) == [(1, "busy"), (2, "busy")]
        assert arm.next().status_code == 204


def test_p3_decision_schedules_a_callback_for_the_regulators(
    app, as_staff, waiting_call, twilio, twilio_rest
):
    with frozen(T0) as clock:
        call_id = waiting_call()
        arm = as_staff("arm")
        arm.next()
        arm.post(f"/api/calls/{call_id}/escalate", {"track": "liberal", "priority": "P3"})
        regulator = as_staff("regulator_liberal")
        regulator.next()
        at = T0 + timedelta(hours=2)
        decided = regulator.post(
            f"/api/calls/{call_id}/decision",
            {
                "outcome": "CONSEIL",
                "urgency": "R4",
                "notes": "rappel dans 2 h",
                "callback_at": at.isoformat().replace("+00:00", "Z"),
            },
        )
        assert decided.status_code == 200
        assert (decided.get_json()["status"], decided.get_json()["queue"]) == (
            "callback_pending",
            None,
        )
        with app.app_context():
            assert (
                release_due_callbacks(db.session, call_queues(), app.extensions["sas_settings"])
                == []
            )
        clock.set(at + timedelta(seconds=1))
        with app.app_context():
            assert release_due_callbacks(
                db.session, call_queues(), app.extensions["sas_settings"]
            ) == [call_id]
            db.session.remove()
        assert call_row(app, call_id).queue == "liberal"
        assert as_staff("arm").next().status_code == 204  # the regulators call back
        again = regulator.next()
        assert again.status_code == 200 and again.get_json()["call"]["id"] == call_id
        assert len(twilio_rest.seen("/Calls.json")) == 1
