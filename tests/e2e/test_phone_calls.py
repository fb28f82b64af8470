"""Whole calls over real HTTP: the Twilio emulator runs the service's TwiML as Twilio does,
with signed webhooks, and the caller's experience is read from the emulator's transcript."""

from __future__ import annotations

from callflow.models import Call
from queues.access import call_queues
from tests.conftest import PRO_NUMBER, LiveStack
from tests.helpers import call_row, heard, wait_for


def gathering(stack: LiveStack, sid: str) -> bool:
    return stack.call(sid)["gathering"] is not None


def test_a_caller_presses_1_and_waits_first_in_the_queue(live_stack):
    calm = live_stack.dial(caller="+33612345601")
    wait_for(lambda: gathering(live_stack, calm))
    live_stack.emulator.state.send_input(calm, digits="2")
    urgent = live_stack.dial(caller="+33612345602")
    wait_for(lambda: gathering(live_stack, urgent))
    assert "accès aux soins" in heard(live_stack, urgent)
    live_stack.emulator.state.send_input(urgent, digits="1")
    for sid in (calm, urgent):
        wait_for(lambda sid=sid: live_stack.call(sid)["queue"] is not None)
    # The hold loop tells the urgent caller they are next, in French.
    wait_for(lambda: "prochain appel" in heard(live_stack, urgent))
    assert not live_stack.call(urgent)["heard_application_error"]
    first, second = call_row(live_stack, urgent), call_row(live_stack, calm)
    assert (first.priority, second.priority) == ("P0", "P2")
    assert first.twilio_queue_sid and first.twilio_queue_sid.startswith("QU")
    with live_stack.app.app_context():
        assert [e.call_id for e in call_queues().ordered("arm")] == [first.id, second.id]


def test_silence_reaches_the_queue_as_p1_without_a_second_menu(live_stack):
    sid = live_stack.dial()
    wait_for(lambda: live_stack.call(sid)["queue"] is not None, timeout=15)
    row = call_row(live_stack, sid)
    assert (row.status, row.priority) == ("queued_arm", "P1")
    assert heard(live_stack, sid).count("appuyez sur 1") == 1


def test_a_spoken_emergency_is_p0(live_stack):
    sid = live_stack.dial()
    wait_for(lambda: gathering(live_stack, sid))
    live_stack.emulator.state.send_input(sid, speech="ma femme est inconsciente")
    wait_for(lambda: (call_row(live_stack, sid) or Call()).priority == "P0")


def test_hanging_up_in_the_queue_is_abandoned_through_the_status_callback(live_stack):
    sid = live_stack.dial()
    wait_for(lambda: gathering(live_stack, sid))
    live_stack.emulator.state.send_input(sid, digits="2")
    wait_for(lambda: live_stack.call(sid)["queue"] is not None)
    live_stack.emulator.state.hang_up(sid)
    row = wait_for(lambda: (c := call_row(live_stack, sid)) and c.status == "abandoned" and c)
    assert row.left_queue == "arm"
    with live_stack.app.app_context():
        assert call_queues().entry(row.id) is None


def test_a_professional_reaches_the_libéral_regulators_queue(live_stack):
    sid = live_stack.dial(to=PRO_NUMBER)
    wait_for(lambda: gathering(live_stack, sid))
    assert "professionnels de santé" in heard(live_stack, sid)
    live_stack.emulator.state.send_input(sid, digits="2")
    wait_for(lambda: live_stack.call(sid)["queue"] is not None)
    assert live_stack.call(sid)["queue"]["name"] == "sas-liberal"
    assert call_row(live_stack, sid).queue == "liberal"


def test_the_demo_phone_relays_to_the_emulator(live_stack):
    import requests

    base = live_stack.base_url
    assert "Téléphone patient" in requests.get(f"{base}/demo/phone", timeout=5).text
    placed = requests.post(f"{base}/demo/api/calls", json={"from": "+33612345699"}, timeout=5)
    assert placed.status_code == 201
    sid = placed.json()["call_sid"]
    wait_for(lambda: requests.get(f"{base}/demo/api/calls/{sid}", timeout=5).json()["gathering"])
    pressed = requests.post(f"{base}/demo/api/calls/{sid}/input", json={"digits": "2"}, timeout=5)
    assert pressed.json() == {"accepted": True}
    wait_for(lambda: requests.get(f"{base}/demo/api/calls/{sid}", timeout=5).json()["queue"])
    shown = requests.get(f"{base}/demo/api/calls/{sid}", timeout=5).json()
    assert "webhooks" not in shown and shown["transcript"]
    bad = requests.post(f"{base}/demo/api/calls/{sid}/input", json={}, timeout=5)
    assert bad.status_code == 400 and bad.json()["field"] == "digits"
    ended = requests.post(f"{base}/demo/api/calls/{sid}/hangup", timeout=5)
    assert ended.status_code == 200
    unknown = requests.get(f"{base}/demo/api/calls/CA{'0' * 32}", timeout=5)
    assert unknown.status_code == 404 and "error" in unknown.json()
