"""Waiting: the hold loop, the callback offer, abandonment, redial, overflow."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from callflow.models import Call
from queues.access import call_queues
from runtime.clock import frozen
from runtime.db import db
from tests.helpers import call_params, new_sid, said, twiml, verbs
from tests.ivr.test_incoming import dial, press, the_call

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def hold(twilio, sid, caller="+33612345678"):
    return twiml(
        twilio.post(
            "/twilio/voice/hold",
            call_params(sid, caller, QueueSid="QU" + "b" * 32, QueuePosition="1", QueueTime="0"),
        )
    )


def hang_up(twilio, sid, caller="+33612345678", status="completed"):
    response = twilio.post(
        "/twilio/voice/status", call_params(sid, caller, CallStatus=status, CallDuration="42")
    )
    assert response.status_code in (200, 204)
    return response


def test_hold_loop_tells_position_at_most_every_45s(app, twilio):
    with frozen(T0) as clock:
        first, second = new_sid(), new_sid()
        dial(twilio, first, caller="+33612345601")
        press(twilio, first, digits="2", caller="+33612345601")
        dial(twilio, second, caller="+33612345602")
        press(twilio, second, digits="2", caller="+33612345602")
        root = hold(twilio, second, caller="+33612345602")
        assert "2e appel" in said(root)
        assert "dès que possible" in said(root)  # no recent answers: no made-up estimate
        assert verbs(root)[-1] == "Pause"
        clock.advance(20)
        assert said(hold(twilio, second, caller="+33612345602")) == ""
        clock.advance(26)
        for _ in range(3):
            with app.app_context():
                call_queues().record_answer(queue="arm", at=clock())
            clock.advance(60)
        root = hold(twilio, second, caller="+33612345602")
        assert "2e appel" in said(root)
        assert "environ 2 minutes" in said(root)
    assert the_call(app, second).twilio_queue_sid == "QU" + "b" * 32


@pytest.mark.parametrize(
    ("app_config", "waiting"),
    [
        ({"HOLD_MUSIC_URL": "https://cdn.example.fr/attente.mp3"}, ("Play", None)),
        ({"HOLD_PAUSE_S": "7"}, ("Pause", "7")),
    ],
)
def test_between_announcements_every_caller_gets_the_same_waiting_document(
    app, twilio, app_config, waiting
):
    verb, length = waiting
    with frozen(T0) as clock:
        sids = [new_sid(), new_sid()]
        for n, sid in enumerate(sids):
            dial(twilio, sid, caller=f"+3361234570{n}")
            press(twilio, sid, digits="2", caller=f"+3361234570{n}")
        first = hold(twilio, sids[0], caller="+33612345700")  # announced
        clock.advance(10)
        between = hold(twilio, sids[0], caller="+33612345700")  # silent
        other_first = hold(twilio, sids[1], caller="+33612345701")  # announced
        clock.advance(10)
        other_between = hold(twilio, sids[1], caller="+33612345701")  # silent
    assert verbs(first) == verbs(other_first) == ["Say", verb]
    assert verbs(between) == verbs(other_between) == [verb]
    assert "2e appel" in said(other_first)  # the document built once did not stick
    for root in (first, between, other_first, other_between):
        element = root.find(verb)
        if verb == "Play":
            assert element.text == "https://cdn.example.fr/attente.mp3"
        else:
            assert element.get("length") == length


def test_callback_offered_after_3_minutes_and_keeps_the_place(app, twilio):
    with frozen(T0) as clock:
        sid = new_sid()
        dial(twilio, sid)
        press(twilio, sid, digits="2")
        before = the_call(app, sid)
        clock.advance(170)
        assert hold(twilio, sid).find("Gather") is None
        clock.advance(15)
        root = hold(twilio, sid)
        gather = root.find("Gather")
        assert gather is not None and gather.get("action") == "/twilio/voice/callback-offer"
        assert "rappelé" in said(root)
        assert hold(twilio, sid).find("Gather") is None  # offered once
        answer = twiml(twilio.post("/twilio/voice/callback-offer", call_params(sid, Digits="1")))
        assert verbs(answer) == ["Say", "Hangup"]
        hang_up(twilio, sid)  # the line ends as agreed: still a callback
    call = the_call(app, sid)
    assert (call.status, call.queue) == ("callback_pending", "callback")
    assert (call.enqueued_at, call.deadline) == (before.enqueued_at, before.deadline)
    with app.app_context():
        entry = call_queues().entry(call.id)
        assert entry is not None and entry.queue == "callback"
        assert entry.deadline == before.deadline
        types = [e.type for e in db.session.get(Call, call.id).events]
        assert "callback_offered" in types and "callback_accepted" in types


@pytest.mark.parametrize("digits,caller", [("1", "+33612345678"), ("2", "anonymous")])
def test_no_callback_offer_to_urgent_or_uncallable_callers(app, twilio, digits, caller):
    with frozen(T0) as clock:
        sid = new_sid()
        dial(twilio, sid, caller=caller)
        press(twilio, sid, digits=digits, caller=caller)
        clock.advance(600)
        assert hold(twilio, sid, caller=caller).find("Gather") is None


def test_declining_the_callback_keeps_waiting(app, twilio):
    with frozen(T0) as clock:
        sid = new_sid()
        dial(twilio, sid)
        press(twilio, sid, digits="2")
        clock.advance(200)
        hold(twilio, sid)
        answer = twiml(twilio.post("/twilio/voice/callback-offer", call_params(sid, Digits="5")))
        assert verbs(answer) == ["Pause"]  # a Redirect would leave the Twilio queue
    assert the_call(app, sid).status == "queued_arm"


def test_hang_up_while_queued_is_abandoned_with_its_wait(app, twilio):
    with frozen(T0) as clock:
        sid = new_sid()
        dial(twilio, sid)
        press(twilio, sid, digits="2")
        clock.advance(37)
        hang_up(twilio, sid)
        hang_up(twilio, sid)  # duplicate
        twilio.post("/twilio/voice/status", call_params(sid, CallStatus="in-progress"))  # late
    call = the_call(app, sid)
    assert (call.status, call.queue, call.left_queue) == ("abandoned", None, "arm")
    with app.app_context():
        events = [e for e in db.session.get(Call, call.id).events if e.type == "abandoned"]
        assert len(events) == 1 and events[0].data["waited_s"] == 37
        snapshot = call_queues().snapshot()["arm"]
        assert sum(snapshot.waiting.values()) == 0
        assert call_queues().entry(call.id) is None


def test_redial_within_10_minutes_takes_back_the_place(app, twilio):
    with frozen(T0) as clock:
        a1, b, a2 = new_sid(), new_sid(), new_sid()
        dial(twilio, a1, caller="+33612345601")
        press(twilio, a1, digits="2", caller="+33612345601")
        clock.advance(30)
        dial(twilio, b, caller="+33612345602")
        press(twilio, b, digits="2", caller="+33612345602")
        clock.advance(30)
        hang_up(twilio, a1, caller="+33612345601")
        clock.advance(120)
        dial(twilio, a2, caller="+33612345601")
        press(twilio, a2, digits="2", caller="+33612345601")
    first, second, other = the_call(app, a1), the_call(app, a2), the_call(app, b)
    assert second.resumes_call_id == first.id
    assert second.enqueued_at == first.enqueued_at and second.deadline == first.deadline
    with app.app_context():
        assert [e.call_id for e in call_queues().ordered("arm")] == [second.id, other.id]


def test_redial_after_the_window_starts_afresh(app, twilio):
    with frozen(T0) as clock:
        a1, a2 = new_sid(), new_sid()
        dial(twilio, a1)
        press(twilio, a1, digits="2")
        hang_up(twilio, a1)
        clock.advance(601)
        dial(twilio, a2)
        press(twilio, a2, digits="2")
    assert the_call(app, a2).resumes_call_id is None


@pytest.mark.parametrize(
    "app_config", [{"OVERFLOW_NUMBER": "+33199000099", "OVERFLOW_AFTER_S": "120"}]
)
def test_overflow_to_the_partner_when_the_oldest_wait_is_too_long(app, twilio, app_config):
    with frozen(T0) as clock:
        old, new = new_sid(), new_sid()
        dial(twilio, old, caller="+33612345601")
        press(twilio, old, digits="2", caller="+33612345601")
        clock.advance(119)
        assert dial(twilio, new_sid(), caller="+33612345603").find("Gather") is not None
        clock.advance(2)
        root = dial(twilio, new, caller="+33612345602")
    dial_verb = root.find("Dial")
    assert dial_verb is not None and (dial_verb.text or "").strip() == "+33199000099"
    assert the_call(app, new).status == "overflowed"


def test_no_partner_means_no_overflow(app, twilio):
    with frozen(T0) as clock:
        old = new_sid()
        dial(twilio, old)
        press(twilio, old, digits="2")
        clock.advance(3600)
        assert dial(twilio, new_sid(), caller="+33612345602").find("Gather") is not None


def test_terminal_status_before_incoming_is_recorded_and_incoming_hangs_up(app, twilio):
    sid = new_sid()
    hang_up(twilio, sid)
    assert the_call(app, sid).status == "abandoned"
    root = dial(twilio, sid)
    assert verbs(root) == ["Hangup"]
    with app.app_context():
        assert call_queues().snapshot()["arm"].oldest_enqueued_at is None


def test_status_callback_of_a_failed_unknown_call_is_failed(app, twilio):
    sid = new_sid()
    hang_up(twilio, sid, status="busy")
    assert the_call(app, sid).status == "failed"


def test_hang_up_in_the_ivr_is_abandoned_in_the_ivr(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    hang_up(twilio, sid)
    call = the_call(app, sid)
    assert call.status == "abandoned" and call.left_queue is None
    with app.app_context():
        call_row = db.session.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert call_row.events[-1].data["stage"] == "ivr"


@pytest.mark.parametrize(
    "result,expected",
    [
        ("hangup", []),
        ("redirected", []),
        ("bridged", ["Hangup"]),
        ("redirected-from-waiting-url", ["Enqueue"]),
        ("queue-full", ["Enqueue"]),
        ("error", ["Enqueue"]),
    ],
)
def test_leaving_the_twilio_queue_never_strands_a_waiting_caller(app, twilio, result, expected):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="2")
    root = twiml(twilio.post("/twilio/voice/queue-exit", call_params(sid, QueueResult=result)))
    assert verbs(root) == expected
    if result == "queue-full":
        assert root.find("Enqueue").text == "sas-arm-spill"
