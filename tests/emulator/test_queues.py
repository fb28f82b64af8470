"""`<Enqueue>`, `<Leave>`, `<Dial><Queue>` and the Queue Member REST resource."""

from __future__ import annotations

from twilio.rest import Client

from callflow.telephony.emulator import RunningEmulator

from .helpers import CALLER, Customer, ended, kinds, raw_api, said, schema_properties, wait_call

ENQUEUE = '<Enqueue waitUrl="/wait" action="/after">arm</Enqueue><Say>Suite</Say>'
WAIT = '<Say>Patientez</Say><Pause length="5"/>'


def in_queue(view: dict) -> bool:
    return view["queue"] is not None


def test_wait_url_parameters_each_loop(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", WAIT)
    first = emulator.state.place_call(CALLER, number)
    wait_call(emulator, first, in_queue)
    second = emulator.state.place_call("+33611111111", number)
    view = wait_call(emulator, second, in_queue)
    assert view["queue"]["position"] == 2 and view["queue"]["name"] == "arm"

    def seconds_waits() -> list[dict[str, str]]:
        return [r.params for r in customer.received("/wait") if r.params["CallSid"] == second]

    emulator.state.wait_for(lambda: len(seconds_waits()) >= 3)
    loops = seconds_waits()
    assert [p["QueuePosition"] for p in loops[:3]] == ["2", "2", "2"]
    assert all(p["CurrentQueueSize"] == "2" for p in loops[:3])
    assert all(p["MaxQueueSize"] == "1000" for p in loops)
    times = [int(p["QueueTime"]) for p in loops[:3]]
    assert times[0] <= 1 and times[1] >= 6 and times[2] >= 12
    assert int(loops[2]["AvgQueueTime"]) >= times[2]
    assert loops[0]["QueueSid"].startswith("QU")

    emulator.state.hang_up(first)
    emulator.state.wait_for(
        lambda: any(p["QueuePosition"] == "1" for p in seconds_waits()), timeout=5
    )
    emulator.state.hang_up(second)


def test_leave_requests_the_action_and_continues_there(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", "<Say>Le service ferme</Say><Leave/>")
    customer.twiml("/after", "<Say>Rappelez demain</Say>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    after = customer.wait_for("/after")[0].params
    assert after["QueueResult"] == "leave"
    assert after["QueueSid"].startswith("QU") and "QueueTime" in after
    assert said(view) == ["Le service ferme", "Rappelez demain"]


def test_leave_without_action_goes_to_the_next_verb(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", '<Enqueue waitUrl="/wait">arm</Enqueue><Say>Suite</Say>')
    customer.twiml("/wait", "<Leave/>")
    sid = emulator.state.place_call(CALLER, number)
    assert said(wait_call(emulator, sid, ended)) == ["Suite"]


def test_caller_hangs_up_mid_queue(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", WAIT)
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, in_queue)
    queue_sid = view["queue"]["queue_sid"]
    customer.wait_for("/wait", 2)
    emulator.state.hang_up(sid)
    assert client.queues(queue_sid).members.list() == []
    after = customer.wait_for("/after")[0].params
    assert after["QueueResult"] == "hangup" and after["CallStatus"] == "completed"
    status = customer.wait_for("/status")[0].params
    assert status["CallStatus"] == "completed"
    assert int(status["CallDuration"]) >= 6
    assert "Suite" not in said(emulator.state.call(sid))


def test_rest_dequeue_of_a_given_member(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", WAIT)
    customer.twiml("/connect", '<Say>Un agent vous répond</Say><Pause length="2"/>')
    first = emulator.state.place_call(CALLER, number)
    wait_call(emulator, first, in_queue)
    second = emulator.state.place_call("+33611111111", number)
    queue_sid = wait_call(emulator, second, in_queue)["queue"]["queue_sid"]

    members = client.queues(queue_sid).members.list()
    assert [(m.call_sid, m.position) for m in members] == [(first, 1), (second, 2)]
    member = client.queues(queue_sid).members(second).fetch()
    assert member.position == 2 and member.queue_sid == queue_sid
    listed = raw_api(emulator, "GET", f"/Queues/{queue_sid}/Members.json").json()
    assert schema_properties("api.v2010.account.queue.member") <= set(listed["queue_members"][0])

    dequeued = (
        client.queues(queue_sid).members(second).update(url=customer.url("/connect"), method="POST")
    )
    assert dequeued.call_sid == second
    assert [m.call_sid for m in client.queues(queue_sid).members.list()] == [first]
    view = wait_call(emulator, second, ended)
    assert "Un agent vous répond" in said(view)
    assert "Suite" not in said(view)
    after = [r.params for r in customer.wait_for("/after") if r.params["CallSid"] == second]
    assert after[0]["QueueResult"] == "redirected"
    connect = customer.wait_for("/connect")[0].params
    assert connect["CallSid"] == second and connect["CallStatus"] == "in-progress"
    assert emulator.state.call(first)["queue"]["position"] == 1

    front = client.queues(queue_sid).members("Front").update(url=customer.url("/connect"))
    assert front.call_sid == first
    wait_call(emulator, first, ended)


def test_dial_queue_bridges_the_first_caller(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    emulator.state.configure_number("+33199000099", customer.url("/agent"))
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", WAIT)
    customer.twiml("/after", "<Say>Merci de votre appel</Say>")
    customer.twiml("/agent", '<Dial action="/agent-done"><Queue url="/announce">arm</Queue></Dial>')
    customer.twiml("/announce", "<Say>Vous allez parler à un agent</Say>")
    customer.twiml("/agent-done", "<Say>Fin</Say>")
    caller = emulator.state.place_call(CALLER, number)
    wait_call(emulator, caller, in_queue)
    agent = emulator.state.place_call("+33622222222", "+33199000099")
    view = wait_call(emulator, caller, lambda v: v["bridged_with"] is not None)
    assert view["bridged_with"] == {"call_sid": agent, "party": "+33622222222"}
    announce = customer.wait_for("/announce")[0].params
    assert announce["CallSid"] == caller and announce["DequeingCallSid"] == agent
    agent_view = emulator.state.call(agent)
    assert agent_view["bridged_with"] == {"call_sid": caller, "party": CALLER}

    emulator.state.hang_up(agent)
    caller_view = wait_call(emulator, caller, ended)
    after = customer.wait_for("/after")[0].params
    assert after["QueueResult"] == "bridged"
    assert said(caller_view)[-1] == "Merci de votre appel"
    done = customer.wait_for("/agent-done")[0].params
    assert done["DialCallStatus"] == "completed" and done["DialCallSid"] == caller
    assert done["QueueSid"].startswith("QU") and done["DequeueResult"] == "bridged"


def test_dial_queue_times_out_on_an_empty_queue(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    client.queues.create(friendly_name="arm")
    emulator.state.configure_number("+33199000099", customer.url("/agent"))
    customer.twiml("/agent", '<Dial timeout="5" action="/agent-done"><Queue>arm</Queue></Dial>')
    agent = emulator.state.place_call("+33622222222", "+33199000099")
    wait_call(emulator, agent, ended)
    assert customer.wait_for("/agent-done")[0].params["DialCallStatus"] == "no-answer"


def test_redirect_in_the_wait_document_leaves_the_queue(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", "<Redirect>/elsewhere</Redirect>")
    customer.twiml("/elsewhere", "<Say>Ailleurs</Say>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, ended)
    assert customer.wait_for("/after")[0].params["QueueResult"] == "redirected-from-waiting-url"
    assert said(view) == ["Ailleurs"]


def test_gather_in_the_wait_document_keeps_the_caller_queued(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", '<Gather numDigits="1" action="/wait-key" timeout="60"/>')
    customer.twiml("/wait-key", "<Say>Vous êtes toujours en attente</Say><Leave/>")
    sid = emulator.state.place_call(CALLER, number)
    assert emulator.state.send_input(sid, digits="9")
    key = customer.wait_for("/wait-key")[0].params
    assert key["Digits"] == "9" and key["QueuePosition"] == "1"
    view = wait_call(emulator, sid, ended)
    assert customer.wait_for("/after")[0].params["QueueResult"] == "leave"
    assert "Vous êtes toujours en attente" in said(view)


def test_queue_full(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    client.queues.create(friendly_name="arm", max_size=1)
    customer.twiml("/voice", ENQUEUE)
    customer.twiml("/wait", WAIT)
    first = emulator.state.place_call(CALLER, number)
    wait_call(emulator, first, in_queue)
    second = emulator.state.place_call("+33611111111", number)
    wait_call(emulator, second, ended)
    full = [r.params for r in customer.wait_for("/after") if r.params["CallSid"] == second]
    assert full[0]["QueueResult"] == "queue-full" and "QueueSid" not in full[0]
    emulator.state.hang_up(first)


def test_default_hold_music(emulator: RunningEmulator, customer: Customer, number: str) -> None:
    customer.twiml("/voice", "<Enqueue>arm</Enqueue>")
    sid = emulator.state.place_call(CALLER, number)
    view = wait_call(emulator, sid, lambda v: kinds(v).count("play") >= 2)
    assert view["transcript"][-1]["url"] == "twilio:default-hold-music"
    emulator.state.hang_up(sid)
