"""The official `twilio` client against the emulator's REST API: resources, shapes, errors."""

from __future__ import annotations

import re

import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from callflow.telephony.emulator import RunningEmulator
from callflow.telephony.emulator.client import twilio_client_for

from .helpers import CALLER, Customer, ended, kinds, raw_api, schema_properties, wait_call

RFC2822 = re.compile(r"^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$")
SID = re.compile(r"^[A-Z]{2}[0-9a-f]{32}$")
raw = raw_api


def test_create_fetch_and_hang_up_a_call(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    customer.twiml("/outbound", '<Pause length="600"/>')
    call = client.calls.create(
        to="+33600000001",
        from_="+33199000015",
        url=customer.url("/outbound"),
        status_callback=customer.url("/status"),
        status_callback_event=["initiated", "ringing", "answered", "completed"],
    )
    assert SID.match(call.sid) and call.sid.startswith("CA")
    assert call.status == "queued"
    assert call.direction == "outbound-api"
    wait_call(emulator, call.sid, lambda v: v["status"] == "in-progress")
    fetched = client.calls(call.sid).fetch()
    assert fetched.status == "in-progress"
    assert fetched.start_time is not None
    assert fetched.to == "+33600000001"
    voice = customer.wait_for("/outbound")[0]
    assert voice.params["CallStatus"] == "in-progress"
    assert voice.params["Direction"] == "outbound-api"

    updated = client.calls(call.sid).update(status="completed")
    assert updated.status == "completed"
    statuses = [r.params["CallStatus"] for r in customer.wait_for("/status", 4)]
    assert statuses == ["queued", "ringing", "in-progress", "completed"]
    final = customer.received("/status")[-1].params
    assert final["CallbackSource"] == "call-progress-events"
    assert final["SequenceNumber"] == "3"
    assert int(final["CallDuration"]) >= 0


def test_call_json_has_every_property_of_the_schema(
    emulator: RunningEmulator, customer: Customer
) -> None:
    customer.twiml("/outbound", "<Say>Bonjour</Say>")
    response = raw(
        emulator,
        "POST",
        "/Calls.json",
        data={"To": "+33600000001", "From": "+33199000015", "Url": customer.url("/outbound")},
    )
    assert response.status_code == 201
    body = response.json()
    assert schema_properties("api.v2010.account.call") <= set(body)
    assert RFC2822.match(body["date_created"])
    assert body["duration"] is None and body["end_time"] is None
    assert body["uri"] == (f"/2010-04-01/Accounts/{emulator.account_sid}/Calls/{body['sid']}.json")
    view = wait_call(emulator, body["sid"], ended)
    assert kinds(view)[-1] == "say"
    fetched = raw(emulator, "GET", f"/Calls/{body['sid']}.json").json()
    assert fetched["status"] == "completed"
    assert RFC2822.match(fetched["end_time"])
    assert fetched["duration"] is not None


def test_create_with_inline_twiml(emulator: RunningEmulator, client: Client) -> None:
    call = client.calls.create(
        to="+33600000001", from_="+33199000015", twiml="<Response><Say>Hi</Say></Response>"
    )
    view = wait_call(emulator, call.sid, ended)
    assert [e["text"] for e in view["transcript"] if e["kind"] == "say"] == ["Hi"]


def test_redirecting_an_in_progress_call(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    customer.twiml("/outbound", '<Pause length="600"/>')
    customer.twiml("/next", "<Say>Transferred</Say>")
    call = client.calls.create(to="+33600000001", from_=CALLER, url=customer.url("/outbound"))
    wait_call(emulator, call.sid, lambda v: (v["activity"] or {}).get("state") == "pause")
    client.calls(call.sid).update(url=customer.url("/next"), method="POST")
    view = wait_call(emulator, call.sid, ended)
    assert "Transferred" in [e.get("text") for e in view["transcript"]]
    assert customer.received("/next")[0].params["CallStatus"] == "in-progress"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"From": "+33199000015", "Url": "http://example.invalid/x"}, 21201),
        ({"To": "+33600000001", "Url": "http://example.invalid/x"}, 21213),
        ({"To": "+33600000001", "From": "+33199000015"}, 21205),
        ({"To": "+33600000001", "From": "+33199000015", "Url": "not a url"}, 21205),
        ({"To": "0600000001", "From": "+33199000015", "Url": "http://e.invalid/x"}, 21211),
    ],
)
def test_call_creation_errors(
    emulator: RunningEmulator, client: Client, data: dict[str, str], code: int
) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls.create(
            to=data.get("To"),
            from_=data.get("From"),
            url=data.get("Url"),
        )
    assert raised.value.code == code
    assert raised.value.status == 400


def test_error_body_shape(emulator: RunningEmulator) -> None:
    response = raw(emulator, "GET", "/Calls/CA" + "0" * 32 + ".json")
    assert response.status_code == 404
    body = response.json()
    assert body == {
        "code": 20404,
        "message": f"The requested resource {response.request.path_url} was not found",
        "more_info": "https://www.twilio.com/docs/errors/20404",
        "status": 404,
    }


def test_unknown_sid_is_20404(client: Client) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.calls("CA" + "f" * 32).fetch()
    assert (raised.value.code, raised.value.status) == (20404, 404)


def test_wrong_credentials_are_20003(emulator: RunningEmulator) -> None:
    intruder = twilio_client_for(emulator.base_url, emulator.account_sid, "wrong-token")
    try:
        with pytest.raises(TwilioRestException) as raised:
            intruder.queues.create(friendly_name="arm")
        assert (raised.value.code, raised.value.status) == (20003, 401)
        with pytest.raises(TwilioRestException) as raised:
            intruder.calls("CA" + "0" * 32).fetch()
        assert (raised.value.code, raised.value.status) == (20003, 401)
    finally:
        intruder.http_client.session.close()


def test_updating_an_ended_call_is_21220(emulator: RunningEmulator, client: Client) -> None:
    call = client.calls.create(to="+33600000001", from_=CALLER, twiml="<Response/>")
    wait_call(emulator, call.sid, ended)
    with pytest.raises(TwilioRestException) as raised:
        client.calls(call.sid).update(url="http://127.0.0.1:9/next")
    assert (raised.value.code, raised.value.status) == (21220, 400)


def test_canceling_a_ringing_call(emulator: RunningEmulator, client: Client) -> None:
    emulator.state.register_client("agent", mode="manual")
    call = client.calls.create(to="client:agent", from_=CALLER, twiml="<Response/>")
    wait_call(emulator, call.sid, lambda v: v["status"] == "ringing")
    assert client.calls(call.sid).update(status="canceled").status == "canceled"


def test_queues_create_list_fetch(emulator: RunningEmulator, client: Client) -> None:
    created = client.queues.create(friendly_name="arm", max_size=50)
    assert created.sid.startswith("QU") and created.max_size == 50
    assert created.current_size == 0 and created.average_wait_time == 0
    listed = client.queues.list()
    assert [q.friendly_name for q in listed] == ["arm"]
    assert client.queues(created.sid).fetch().friendly_name == "arm"
    body = raw(emulator, "GET", "/Queues.json").json()
    assert schema_properties("api.v2010.account.queue") <= set(body["queues"][0])
    assert body["next_page_uri"] is None and body["page"] == 0
    with pytest.raises(TwilioRestException) as raised:
        client.queues("QU" + "0" * 32).fetch()
    assert raised.value.code == 20404


def test_paging_follows_next_page_uri(client: Client) -> None:
    for index in range(5):
        client.queues.create(friendly_name=f"q{index}")
    names = [q.friendly_name for q in client.queues.list(page_size=2)]
    assert names == [f"q{index}" for index in range(5)]


def test_messages_are_recorded(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    message = client.messages.create(
        to="+33612345678",
        from_="+33199000015",
        body="Le SAMU vous rappelle",
        status_callback=customer.url("/sms-status"),
    )
    assert message.sid.startswith("SM") and message.status == "queued"
    assert message.num_segments == "1"
    sent = requests.get(f"{emulator.base_url}/emulator/messages", timeout=5).json()["messages"]
    assert [(m["to"], m["body"]) for m in sent] == [("+33612345678", "Le SAMU vous rappelle")]
    statuses = [r.params["MessageStatus"] for r in customer.wait_for("/sms-status", 2)]
    assert statuses == ["sent", "delivered"]
    body = raw(
        emulator,
        "POST",
        "/Messages.json",
        data={"To": "+33612345678", "MessagingServiceSid": "MG" + "1" * 32, "Body": "x"},
    ).json()
    assert schema_properties("api.v2010.account.message") <= set(body)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ({"From": "+33199000015", "Body": "x"}, 21604),
        ({"To": "+33612345678", "From": "+33199000015"}, 21602),
        ({"To": "+33612345678", "Body": "x"}, 21603),
    ],
)
def test_message_errors(client: Client, data: dict[str, str], code: int) -> None:
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(
            to=data.get("To"),
            from_=data.get("From"),
            body=data.get("Body"),
        )
    assert (raised.value.code, raised.value.status) == (code, 400)


def test_unknown_route_and_method(emulator: RunningEmulator) -> None:
    assert raw(emulator, "GET", "/Nothing.json").json()["code"] == 20404
    assert raw(emulator, "DELETE", "/Queues.json").json()["code"] == 20004
    other = f"{emulator.base_url}/2010-04-01/Accounts/AC{'1' * 32}/Queues.json"
    response = requests.get(other, auth=(emulator.account_sid, emulator.auth_token), timeout=5)
    assert response.json()["code"] == 20404
