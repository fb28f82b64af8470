"""The caller's first minute: greeting, menu, priority, queue placement, idempotency."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from callflow.models import Call, CallEvent
from queues.access import call_queues
from runtime.db import db
from tests.conftest import PRO_NUMBER, TwilioWebhooks
from tests.helpers import call_params, new_sid, said, twiml, verbs


def dial(twilio: TwilioWebhooks, sid: str, caller: str = "+33612345678", to: str = "+33199000015"):
    return twiml(twilio.post("/twilio/voice/incoming", call_params(sid, caller, to)))


def press(
    twilio: TwilioWebhooks,
    sid: str,
    digits: str = "",
    speech: str = "",
    caller: str = "+33612345678",
):
    extra = {}
    if digits:
        extra["Digits"] = digits
    if speech:
        extra["SpeechResult"] = speech
        extra["Confidence"] = "0.9"
    return twiml(twilio.post("/twilio/voice/menu", call_params(sid, caller, **extra)))


def the_call(app: Flask, sid: str) -> Call:
    with app.app_context():
        call = db.session.scalars(select(Call).where(Call.call_sid == sid)).one()
        db.session.expunge(call)
        return call


def test_public_line_greets_in_french_and_gathers_keys_or_speech(app, twilio):
    sid = new_sid()
    root = dial(twilio, sid)
    gather = root.find("Gather")
    assert gather is not None
    assert gather.get("input") == "dtmf speech"
    assert gather.get("action") == "/twilio/voice/menu"
    assert gather.get("numDigits") == "1"
    assert gather.get("actionOnEmptyResult") == "true"
    says = gather.findall("Say")
    assert says and all(s.get("language") == "fr-FR" for s in says)
    assert "appuyez sur 1" in said(root)
    assert verbs(root)[-1] == "Redirect"
    call = the_call(app, sid)
    assert call.status == "ivr"
    assert call.caller == "+33612345678"
    assert call.caller_display == "06 12 34 56 78"
    assert call.caller_kind == "mobile"
    assert call.line == "public"


def test_key_1_is_a_vital_emergency_first_in_the_arm_queue(app, twilio):
    first, second = new_sid(), new_sid()
    dial(twilio, first, caller="+33612345601")
    press(twilio, first, digits="2", caller="+33612345601")
    dial(twilio, second, caller="+33612345602")
    root = press(twilio, second, digits="1", caller="+33612345602")
    enqueue = root.find("Enqueue")
    assert enqueue is not None and enqueue.text == "sas-arm"
    assert enqueue.get("waitUrl") == "/twilio/voice/hold"
    assert enqueue.get("action") == "/twilio/voice/queue-exit"
    p0, p2 = the_call(app, second), the_call(app, first)
    assert (p0.priority, p0.status, p0.queue) == ("P0", "queued_arm", "arm")
    assert p2.priority == "P2"
    with app.app_context():
        order = [e.call_id for e in call_queues().ordered("arm")]
    assert order == [p0.id, p2.id]


def test_a_vital_phrase_spoken_is_p0(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, speech="Mon mari ne respire plus")
    assert the_call(app, sid).priority == "P0"


def test_silence_goes_to_the_arm_queue_as_presumed_urgent(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    root = press(twilio, sid)
    assert root.find("Enqueue") is not None
    call = the_call(app, sid)
    assert (call.priority, call.status) == ("P1", "queued_arm")


def test_a_wrong_key_repeats_the_menu_once_then_p1(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    again = press(twilio, sid, digits="7")
    assert again.find("Gather") is not None
    assert "non reconnu" in said(again)
    assert the_call(app, sid).status == "ivr"
    root = press(twilio, sid, digits="9")
    assert root.find("Enqueue") is not None
    assert the_call(app, sid).priority == "P1"


def test_garbage_digits_get_valid_twiml(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="*#<>&'\"" + "9" * 500)
    root = press(twilio, sid, digits="\x00\x01abc")
    assert root.find("Enqueue") is not None


def test_retried_incoming_creates_no_second_call_or_entry(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    dial(twilio, sid)
    press(twilio, sid, digits="2")
    again = dial(twilio, sid)
    assert again.find("Enqueue") is not None
    press(twilio, sid, digits="1")  # a retried menu answer changes nothing
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Call)) == 1
        arrived = db.session.scalar(
            select(func.count()).select_from(CallEvent).where(CallEvent.type == "arrived")
        )
        assert arrived == 1
        snapshot = call_queues().snapshot()["arm"]
        assert sum(snapshot.waiting.values()) == 1
        assert snapshot.waiting["P2"] == 1


def test_every_step_lands_in_the_timeline(app, twilio):
    sid = new_sid()
    dial(twilio, sid)
    press(twilio, sid, digits="2")
    twiml(twilio.post("/twilio/voice/hold", call_params(sid, QueueSid="QU" + "a" * 32)))
    with app.app_context():
        call = db.session.scalars(select(Call).where(Call.call_sid == sid)).one()
        types = [e.type for e in call.events]
        assert types == ["arrived", "menu_choice", "queued", "position_announced"]
        assert all(e.at.tzinfo is not None for e in call.events)


def test_professionals_line_goes_to_the_chosen_regulators_queue(app, twilio):
    amu, liberal = new_sid(), new_sid()
    root = dial(twilio, amu, to=PRO_NUMBER)
    assert "professionnels" in said(root)
    press(twilio, amu, digits="1")
    dial(twilio, liberal, to=PRO_NUMBER)
    root = press(twilio, liberal, digits="2")
    assert root.find("Enqueue").text == "sas-liberal"
    a, b = the_call(app, amu), the_call(app, liberal)
    assert (a.status, a.queue, a.track) == ("queued_regulation", "amu", "amu")
    assert (b.status, b.queue, b.track) == ("queued_regulation", "liberal", "liberal")


def test_unknown_dialled_number_is_the_public_line(app, twilio):
    sid = new_sid()
    root = dial(twilio, sid, to="+33100000000")
    assert "accès aux soins" in said(root)
    assert the_call(app, sid).line == "public"


def test_withheld_and_malformed_numbers(app, twilio):
    for raw, flag in [
        ("anonymous", "withheld"),
        ("restricted", "withheld"),
        ("+266696687", "withheld"),
        ("", "withheld"),
        ("12ab", "invalid"),
        ("+3361234", "invalid"),
    ]:
        sid = new_sid()
        dial(twilio, sid, caller=raw)
        call = the_call(app, sid)
        assert (call.caller, call.caller_flag) == (None, flag), raw
        press(twilio, sid, digits="2", caller=raw)
        assert the_call(app, sid).status == "queued_arm"


def test_repeat_caller_within_24h_is_flagged_and_linked(app, twilio):
    first, second, other = new_sid(), new_sid(), new_sid()
    dial(twilio, first, caller="0612345678")
    dial(twilio, second, caller="+33612345678")
    dial(twilio, other, caller="+33698765432")
    a, b, c = the_call(app, first), the_call(app, second), the_call(app, other)
    assert not a.repeat_caller
    assert b.repeat_caller and b.previous_call_id == a.id
    assert not c.repeat_caller
