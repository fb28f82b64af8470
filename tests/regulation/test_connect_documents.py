"""The TwiML a claimed caller gets (`ivr/connect.py`), answered from the call's record:
dialling the agent, the end of that dial, the hold document, and late requests."""

from __future__ import annotations

from callflow.models import Call
from queues.access import call_queues
from runtime.db import db
from tests.helpers import call_params, said, twiml, verbs


def call_row(app, call_id):
    with app.app_context():
        call = db.session.get(Call, call_id)
        db.session.expunge(call)
        db.session.remove()
        return call


def claimed(as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    sid = arm.next().get_json()["call"]["call_sid"]
    return arm, call_id, sid


def after(twilio, call_id, agent_id, sid, status):
    path = f"/twilio/voice/connect/{call_id}/agent/{agent_id}/after"
    return twiml(twilio.post(path, call_params(sid, DialCallStatus=status)))


def test_the_dial_document_rings_the_agent_with_an_action(app, as_staff, waiting_call, twilio):
    arm, call_id, sid = claimed(as_staff, waiting_call)
    root = twiml(
        twilio.post(f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}", call_params(sid))
    )
    dial = root.find("Dial")
    assert dial.get("action") == f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}/after"
    assert dial.get("timeout") == "20"
    client = dial.find("Client")
    assert client.text == f"agent_{arm.person.id}"
    assert client.get("url") == f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}/answered"
    # Another agent's document for this call is stale: the caller just waits.
    stale = twiml(twilio.post(f"/twilio/voice/connect/{call_id}/agent/999", call_params(sid)))
    assert verbs(stale) == ["Say", "Enqueue"] and stale.find("Enqueue").text == "sas-arm"


def test_an_unanswered_dial_sends_the_caller_back_to_their_place(
    app, as_staff, waiting_call, twilio
):
    arm, call_id, sid = claimed(as_staff, waiting_call)
    before = call_row(app, call_id)
    root = after(twilio, call_id, arm.person.id, sid, "no-answer")
    assert root.find("Enqueue").text == "sas-arm" and "patienter" in said(root)
    now = call_row(app, call_id)
    assert (now.status, now.agent_id) == ("queued_arm", None)
    assert (now.enqueued_at, now.deadline) == (before.enqueued_at, before.deadline)
    with app.app_context():
        assert call_queues().entry(call_id).agent_id is None
    me = arm.get("/api/agents/me").get_json()
    assert (me["status"], me["reason"]) == ("paused", "appel non décroché")
    # Twilio retries the action: nothing more happens.
    after(twilio, call_id, arm.person.id, sid, "no-answer")
    assert call_row(app, call_id).status == "queued_arm"


def test_a_finished_conversation_leaves_the_caller_on_hold_with_the_agent(
    app, as_staff, waiting_call, twilio
):
    arm, call_id, sid = claimed(as_staff, waiting_call)
    root = after(twilio, call_id, arm.person.id, sid, "completed")
    assert root.find("Enqueue").text == "sas-arm"
    assert call_row(app, call_id).status == "with_arm"  # the ARM still holds it


def test_a_caller_who_hung_up_during_the_ring_is_not_requeued(app, as_staff, waiting_call, twilio):
    arm, call_id, sid = claimed(as_staff, waiting_call)
    root = after(twilio, call_id, arm.person.id, sid, "canceled")
    assert verbs(root) == ["Hangup"]
    assert call_row(app, call_id).status == "with_arm"
    assert arm.get("/api/agents/me").get_json()["status"] == "busy"


def test_documents_for_an_ended_call_hang_up(app, as_staff, waiting_call, twilio):
    arm, call_id, sid = claimed(as_staff, waiting_call)
    arm.post(f"/api/calls/{call_id}/close", {"code": "DR.DREG.DRINFO"})
    for path in (
        f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}",
        f"/twilio/voice/connect/{call_id}/hold?why=back",
    ):
        assert verbs(twiml(twilio.post(path, call_params(sid)))) == ["Hangup"]
    whisper = twiml(
        twilio.post(
            f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}/answered",
            call_params("CA" + "d" * 32),
        )
    )
    assert verbs(whisper) == ["Hangup"]  # the agent's leg is declined


def test_connect_documents_check_the_signature(app, as_staff, waiting_call, twilio):
    arm, call_id, sid = claimed(as_staff, waiting_call)
    forged = twilio.post(
        f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}", call_params(sid), signature="x"
    )
    assert forged.status_code == 403
