"""`<Dial><Conference>` and the Conference / Participant REST resources."""

from __future__ import annotations

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from callflow.telephony.emulator import RunningEmulator

from .helpers import CALLER, Customer, ended, kinds, raw_api, said, schema_properties, wait_call


def in_conference(view: dict) -> bool:
    return view["conference"] is not None and view["conference"]["status"] == "in-progress"


def test_conference_lifecycle_with_twiml_and_rest_participants(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    customer.twiml(
        "/voice",
        '<Dial action="/left"><Conference statusCallback="/conf-events" '
        'statusCallbackEvent="start end join leave hold mute" endConferenceOnExit="true">'
        "salle-1</Conference></Dial>",
    )
    customer.twiml("/left", "<Say>Conférence terminée</Say>")
    customer.twiml("/hold-music", '<Say>Musique</Say><Pause length="2"/>')
    sid = emulator.state.place_call(CALLER, number)
    wait_call(emulator, sid, in_conference)

    conference = client.conferences.list(friendly_name="salle-1", status="in-progress")[0]
    assert conference.sid.startswith("CF") and conference.status == "in-progress"
    emulator.state.register_client("regulateur")
    created = client.conferences(conference.sid).participants.create(
        from_="+33199000015", to="client:regulateur", label="regul"
    )
    assert created.status == "queued" and created.label == "regul"
    participant_sid = created.call_sid
    wait_call(emulator, participant_sid, in_conference)
    body = raw_api(emulator, "GET", f"/Conferences/{conference.sid}/Participants.json").json()
    assert schema_properties("api.v2010.account.conference.participant") <= set(
        body["participants"][0]
    )
    assert {p["status"] for p in body["participants"]} == {"connected"}
    fetched = raw_api(emulator, "GET", f"/Conferences/{conference.sid}.json").json()
    assert schema_properties("api.v2010.account.conference") <= set(fetched)
    participants = client.conferences(conference.sid).participants.list()
    assert sorted(p.call_sid for p in participants) == sorted([sid, participant_sid])
    device = emulator.state.device("client:regulateur")
    assert device["connected"][0]["other_party"] == [CALLER]

    updated = (
        client.conferences(conference.sid)
        .participants("regul")
        .update(hold=True, hold_url=customer.url("/hold-music"), muted=True)
    )
    assert updated.hold is True and updated.muted is True
    customer.wait_for("/hold-music")
    held = client.conferences(conference.sid).participants.list(hold=True)
    assert [p.call_sid for p in held] == [participant_sid]
    client.conferences(conference.sid).participants(participant_sid).update(hold=False)

    emulator.state.hang_up(sid)
    left = customer.wait_for("/left")[0].params
    assert left["DialCallStatus"] == "answered"
    done = client.conferences(conference.sid).fetch()
    assert done.status == "completed"
    assert done.reason_conference_ended == "participant-with-end-conference-on-exit-left"
    assert done.call_sid_ending_conference == sid
    wait_call(emulator, participant_sid, ended)
    events = [r.params["StatusCallbackEvent"] for r in customer.wait_for("/conf-events", 9)]
    assert events == [
        "participant-join",
        "conference-start",
        "participant-join",
        "participant-hold",
        "participant-mute",
        "participant-unhold",
        "participant-leave",
        "conference-end",
        "participant-leave",
    ]


def test_waiting_until_a_moderator_starts_the_conference(
    emulator: RunningEmulator, customer: Customer, number: str
) -> None:
    emulator.state.configure_number("+33199000099", customer.url("/moderator"))
    customer.twiml(
        "/voice",
        '<Dial><Conference startConferenceOnEnter="false" waitUrl="/conf-wait">'
        "salle-2</Conference></Dial><Say>Après</Say>",
    )
    customer.twiml("/conf-wait", '<Say>En attente</Say><Pause length="3"/>')
    customer.twiml(
        "/moderator", '<Dial><Conference endConferenceOnExit="true">salle-2</Conference></Dial>'
    )
    sid = emulator.state.place_call(CALLER, number)
    wait_call(emulator, sid, lambda v: "En attente" in said(v))
    assert emulator.state.call(sid)["conference"]["status"] == "init"
    moderator = emulator.state.place_call("+33622222222", "+33199000099")
    wait_call(emulator, sid, in_conference)
    emulator.state.hang_up(moderator)
    view = wait_call(emulator, sid, ended)
    assert said(view)[-1] == "Après"


def test_kick_and_end_through_the_api(
    emulator: RunningEmulator, customer: Customer, number: str, client: Client
) -> None:
    customer.twiml("/voice", "<Dial><Conference>salle-3</Conference></Dial><Say>Dehors</Say>")
    first = emulator.state.place_call(CALLER, number)
    second = emulator.state.place_call("+33611111111", number)
    wait_call(emulator, first, in_conference)
    wait_call(emulator, second, in_conference)
    conference_sid = emulator.state.call(first)["conference"]["conference_sid"]
    client.conferences(conference_sid).participants(first).delete()
    assert said(wait_call(emulator, first, ended)) == ["Dehors"]
    assert client.conferences(conference_sid).fetch().status == "in-progress"
    client.conferences(conference_sid).update(status="completed")
    assert said(wait_call(emulator, second, ended)) == ["Dehors"]
    ended_conference = client.conferences(conference_sid).fetch()
    assert ended_conference.reason_conference_ended == "conference-ended-via-api"
    with pytest.raises(TwilioRestException) as raised:
        client.conferences(conference_sid).participants(first).fetch()
    assert raised.value.code == 20404


def test_rest_participant_by_friendly_name_on_a_new_conference(
    emulator: RunningEmulator, customer: Customer, client: Client
) -> None:
    created = client.conferences("transfert-42").participants.create(
        from_="+33199000015", to="+33145454545", end_conference_on_exit=True
    )
    assert created.conference_sid.startswith("CF")
    view = wait_call(emulator, created.call_sid, in_conference)
    assert view["conference"]["name"] == "transfert-42"
    client.calls(created.call_sid).update(status="completed")
    assert client.conferences(created.conference_sid).fetch().status == "completed"
    assert "conference-left" in kinds(emulator.state.call(created.call_sid))
