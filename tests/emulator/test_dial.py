"""`<Dial>` to numbers and softphone clients, child legs, and the simulated devices."""

from __future__ import annotations

from twilio.rest import Client

from callflow.telephony.emulator import RunningEmulator

from .helpers import CALLER, Customer, ended, said, wait_call


def test_dial_client_auto_answer_then_client_hangs_up(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    emulator.state.register_client("arm-1")
    customer.twiml(
        "/voice",
        '<Dial action="/dialed" timeout="20"><Client statusCallback="/leg-status" '
        'statusCallbackEvent="initiated ringing answered completed">arm-1</Client></Dial>',
    )
    customer.twiml("/dialed", "<Say>Au revoir</Say>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, lambda v: v["bridged_with"] is not None)
    child_sid = view["bridged_with"]["call_sid"]
    assert view["bridged_with"]["party"] == "client:arm-1"
    device = emulator.state.device("client:arm-1")
    assert device["connected"][0]["call_sid"] == child_sid
    assert device["connected"][0]["other_party"] == CALLER
    child = client.calls(child_sid).fetch()
    assert child.parent_call_sid == sid and child.direction == "outbound-dial"
    assert child.to == "client:arm-1" and child._from == CALLER

    emulator.state.device_hang_up("client:arm-1")
    view = wait_call(emulator, sid, ended)
    dialed = customer.wait_for("/dialed")[0].params
    assert dialed["DialCallStatus"] == "completed"
    assert dialed["DialCallSid"] == child_sid
    assert int(dialed["DialCallDuration"]) >= 0
    assert said(view) == ["Au revoir"]
    legs = [r.params["CallStatus"] for r in customer.wait_for("/leg-status", 4)]
    assert legs == ["queued", "ringing", "in-progress", "completed"]
    assert customer.received("/leg-status")[0].params["ParentCallSid"] == sid


def test_manual_client_rings_until_answered(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    emulator.state.register_client("regulateur", mode="manual")
    customer.twiml("/voice", '<Dial action="/dialed"><Client>regulateur</Client></Dial>')
    sid = emulator.state.place_call(CALLER, number)
    ringing = emulator.state.wait_for(lambda: emulator.state.device("client:regulateur")["ringing"])
    assert ringing[0]["from"] == CALLER
    emulator.state.answer("client:regulateur")
    wait_call(emulator, sid, lambda v: v["bridged_with"] is not None)
    emulator.state.hang_up(sid)
    dialed = customer.wait_for("/dialed")[0].params
    assert dialed["DialCallStatus"] == "completed" and dialed["CallStatus"] == "completed"
    assert emulator.state.device("client:regulateur")["connected"] == []


def test_rejected_and_unanswered_clients(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    emulator.state.register_client("busy-agent", mode="manual")
    customer.twiml(
        "/voice", '<Dial action="/dialed" timeout="10"><Client>busy-agent</Client></Dial>'
    )
    sid = emulator.state.place_call(CALLER, number)
    emulator.state.wait_for(lambda: emulator.state.device("client:busy-agent")["ringing"])
    emulator.state.reject("client:busy-agent")
    wait_call(emulator, sid, ended)
    assert customer.wait_for("/dialed")[0].params["DialCallStatus"] == "busy"

    customer.twiml("/voice", '<Dial action="/dialed" timeout="5"><Client>nobody</Client></Dial>')
    sid = emulator.state.place_call(CALLER, "+33199000015")
    wait_call(emulator, sid, ended)
    assert customer.wait_for("/dialed", 2)[1].params["DialCallStatus"] == "no-answer"


def test_dial_number_answered_by_a_silent_callee(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", '<Dial callerId="+33199000015" timeLimit="60">+33145454545</Dial>')
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, lambda v: v["bridged_with"] is not None)
    child = emulator.state.call(view["bridged_with"]["call_sid"])
    assert child["from"] == "+33199000015" and child["to"] == "+33145454545"
    assert child["status"] == "in-progress"
    emulator.state.hang_up(child["call_sid"])
    view = wait_call(emulator, sid, ended)
    assert view["status"] == "completed"


def test_busy_phone_and_parallel_ringing(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    emulator.state.register_device("+33145000001", mode="busy")
    emulator.state.register_device("+33145000002", mode="auto", answer_delay=3)
    customer.twiml(
        "/voice",
        '<Dial action="/dialed"><Number>+33145000001</Number><Number>+33145000002</Number></Dial>',
    )
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, lambda v: v["bridged_with"] is not None)
    assert view["bridged_with"]["party"] == "+33145000002"
    emulator.state.device_hang_up("+33145000002")
    assert customer.wait_for("/dialed")[0].params["DialCallStatus"] == "completed"


def test_whisper_url_runs_on_the_called_party(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    emulator.state.register_client("arm-2")
    customer.twiml("/voice", '<Dial action="/dialed"><Client url="/whisper">arm-2</Client></Dial>')
    customer.twiml(
        "/whisper",
        '<Gather numDigits="1" action="/accept" timeout="60"><Say>Appel ARM</Say></Gather>'
        "<Hangup/>",
    )
    customer.twiml(
        "/accept",
        lambda p: "<Response/>" if p.get("Digits") == "1" else "<Response><Hangup/></Response>",
    )
    sid = emulator.state.place_call(CALLER, number)
    child_sid = emulator.state.wait_for(
        lambda: (emulator.state.device("client:arm-2")["connected"] or [None])[0]
    )["call_sid"]
    assert emulator.state.send_input(child_sid, digits="1")
    wait_call(emulator, sid, lambda v: v["bridged_with"] is not None)
    assert customer.wait_for("/whisper")[0].params["CallSid"] == child_sid
    assert "Appel ARM" in said(emulator.state.call(child_sid))
    emulator.state.hang_up(sid)
    assert customer.wait_for("/dialed")[0].params["DialCallStatus"] == "completed"


def test_rest_call_to_a_manual_client(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    emulator.state.register_client("osnp", mode="manual")
    customer.twiml("/agent-call", "<Say>Appel sortant</Say>")
    call = client.calls.create(
        to="client:osnp",
        from_="+33199000015",
        url=customer.url("/agent-call"),
        timeout=20,
        status_callback=customer.url("/call-status"),
        status_callback_event=["ringing", "answered", "completed"],
    )
    emulator.state.wait_for(lambda: emulator.state.device("client:osnp")["ringing"])
    assert client.calls(call.sid).fetch().status == "ringing"
    emulator.state.answer("client:osnp", call.sid)
    view = wait_call(emulator, call.sid, ended)
    assert said(view) == ["Appel sortant"]
    statuses = [r.params["CallStatus"] for r in customer.wait_for("/call-status", 3)]
    assert statuses == ["ringing", "in-progress", "completed"]


def test_rest_call_that_nobody_answers(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    emulator.state.register_device("+33145000003", mode="no-answer")
    call = client.calls.create(
        to="+33145000003",
        from_="+33199000015",
        url=customer.url("/never"),
        timeout=5,
        status_callback=customer.url("/call-status"),
    )
    wait_call(emulator, call.sid, ended)
    assert client.calls(call.sid).fetch().status == "no-answer"
    assert customer.wait_for("/call-status")[0].params["CallStatus"] == "no-answer"
    assert customer.received("/never") == []


def test_redirecting_a_bridged_child_leg(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    emulator.state.register_client("arm-3")
    customer.twiml("/voice", '<Dial action="/dialed"><Client>arm-3</Client></Dial><Say>x</Say>')
    customer.twiml("/dialed", "<Say>Retour</Say>")
    customer.twiml("/agent-next", '<Say>Note</Say><Pause length="2"/>')
    sid = emulator.state.place_call(CALLER, number)
    child_sid = wait_call(emulator, sid, lambda v: v["bridged_with"] is not None)["bridged_with"][
        "call_sid"
    ]
    client.calls(child_sid).update(url=customer.url("/agent-next"))
    assert said(wait_call(emulator, sid, ended)) == ["Retour"]
    assert said(wait_call(emulator, child_sid, ended)) == ["Note"]
