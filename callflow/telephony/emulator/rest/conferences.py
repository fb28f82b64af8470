"""The Conference and Participant resources
(https://www.twilio.com/docs/voice/api/conference-resource,
https://www.twilio.com/docs/voice/api/conference-participant-resource).

- Conferences: list (newest first; filters `FriendlyName`, `Status`, `DateCreated`,
  `DateCreated<`, `DateCreated>`, `DateUpdated…` on the `YYYY-MM-DD` date), fetch, update
  (`Status=completed` ends it for everyone: `conference-ended-via-api`).
- Participants: list (filters `Muted`, `Hold`, `Coaching`), fetch by CallSid or label, create,
  update (`Hold`, `HoldUrl`, `HoldMethod` GET by default, `Muted`, `EndConferenceOnExit`),
  delete (kick). Create takes `From`, `To` and the conference by SID or by friendly name (a
  conference of that name is created when none is running); it makes an outbound call
  (`Timeout`, `StatusCallback`, `StatusCallbackEvent`, `StatusCallbackMethod` as for Calls),
  answers `201` with the participant `queued`, and the callee joins the conference when it
  answers, with `StartConferenceOnEnter`, `EndConferenceOnExit`, `Muted`, `Label`, `WaitUrl`,
  `WaitMethod`, `ConferenceStatusCallback`, `ConferenceStatusCallbackEvent`,
  `ConferenceStatusCallbackMethod`. Its call ends when it leaves the conference.

`AnnounceUrl`, `Beep`, `Coaching`, recording and region parameters are accepted and ignored.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, request

from .. import conferencing
from ..ids import is_dialable, looks_like_sid, new_sid
from ..models import CallLeg, Conference, DocumentRequest, Participant
from ..state import EmulatorState
from . import forms
from .calls import CALL_EVENTS
from .errors import ApiError, bad_parameter, not_found
from .representations import conference_json, page, participant_json

CONFERENCE_EVENTS = frozenset({"start", "end", "join", "leave", "mute", "hold"})


def register(blueprint: Blueprint, state: EmulatorState) -> None:
    def find_conference(sid: str) -> Conference:
        conference = state.conferences.get(sid)
        if conference is None:
            raise not_found(request.path)
        return conference

    def find_participant(conference: Conference, key: str) -> Participant:
        found = conference.participants.get(key)
        if found is None:
            found = next((p for p in conference.participants.values() if p.label == key), None)
        if found is None:
            raise not_found(request.path)
        return found

    @blueprint.get("/Conferences.json")
    def list_conferences(account_sid: str) -> dict[str, Any]:
        filters = {
            k: v for k, v in request.args.items() if k not in ("PageSize", "Page", "PageToken")
        }
        with state.lock:
            chosen = [c for c in state.conferences.values() if _matches(c, filters)]
            chosen.sort(key=lambda c: c.date_created, reverse=True)
            items = [conference_json(state, c) for c in chosen]
        return page(items, key="conferences", path=request.path, args=request.args, filters=filters)

    @blueprint.get("/Conferences/<sid>.json")
    def fetch_conference(account_sid: str, sid: str) -> dict[str, Any]:
        with state.lock:
            return conference_json(state, find_conference(sid))

    @blueprint.post("/Conferences/<sid>.json")
    def update_conference(account_sid: str, sid: str) -> dict[str, Any]:
        status = forms.value("Status")
        if status is not None and status != "completed":
            raise bad_parameter("Status", "must be completed")
        with state.lock:
            conference = find_conference(sid)
            events = []
            if status == "completed":
                events = conferencing.end_conference(
                    state, conference, "conference-ended-via-api", None
                )
            body = conference_json(state, conference)
        conferencing.emit(state, conference, events)
        return body

    @blueprint.get("/Conferences/<conference_sid>/Participants.json")
    def list_participants(account_sid: str, conference_sid: str) -> dict[str, Any]:
        filters = {k: v for k, v in request.args.items() if k in ("Muted", "Hold", "Coaching")}
        with state.lock:
            conference = find_conference(conference_sid)
            items = [
                participant_json(state, p)
                for p in conference.participants.values()
                if _participant_matches(p, filters)
            ]
        return page(
            items, key="participants", path=request.path, args=request.args, filters=filters
        )

    @blueprint.get("/Conferences/<conference_sid>/Participants/<key>.json")
    def fetch_participant(account_sid: str, conference_sid: str, key: str) -> dict[str, Any]:
        with state.lock:
            return participant_json(state, find_participant(find_conference(conference_sid), key))

    @blueprint.post("/Conferences/<conference_sid>/Participants/<key>.json")
    def update_participant(account_sid: str, conference_sid: str, key: str) -> dict[str, Any]:
        hold, muted = forms.flag("Hold"), forms.flag("Muted")
        end_on_exit = forms.flag("EndConferenceOnExit")
        hold_url = forms.url("HoldUrl")
        hold_method = forms.method("HoldMethod", "GET") if forms.value("HoldMethod") else None
        with state.lock:
            conference = find_conference(conference_sid)
            participant = find_participant(conference, key)
            events = conferencing.update_participant(
                state,
                participant,
                hold=hold,
                hold_url=hold_url,
                hold_method=hold_method,
                muted=muted,
                end_conference_on_exit=end_on_exit,
            )
            body = participant_json(state, participant)
        conferencing.emit(state, conference, events)
        return body

    @blueprint.delete("/Conferences/<conference_sid>/Participants/<key>.json")
    def delete_participant(account_sid: str, conference_sid: str, key: str) -> tuple[str, int]:
        with state.lock:
            conference = find_conference(conference_sid)
            conferencing.kick(state, conference, find_participant(conference, key))
        return "", 204

    @blueprint.post("/Conferences/<conference_sid>/Participants.json")
    def create_participant(account_sid: str, conference_sid: str) -> tuple[dict[str, Any], int]:
        to, from_ = forms.value("To"), forms.value("From")
        if to is None:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if from_ is None:
            raise ApiError(400, 21213, "No 'From' number is specified")
        if not is_dialable(to):
            raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        with state.lock:
            if looks_like_sid(conference_sid, "CF"):
                conference = find_conference(conference_sid)
                if conference.status == "completed":
                    raise not_found(request.path)
            else:
                conference = conferencing.find_or_create(state, conference_sid)
            leg = _participant_leg(state, conference, to, from_)
            now = state.now()
            participant = Participant(
                leg.sid,
                conference.sid,
                forms.value("Label"),
                now,
                now,
                muted=bool(forms.flag("Muted")),
                start_conference_on_enter=forms.flag("StartConferenceOnEnter") is not False,
                end_conference_on_exit=bool(forms.flag("EndConferenceOnExit")),
            )
            conference.participants[leg.sid] = participant
            leg.participant = participant
            body = participant_json(state, participant)
        state.launch(leg)
        return body, 201


def _participant_leg(state: EmulatorState, conference: Conference, to: str, from_: str) -> CallLeg:
    """The outbound call of a REST-created participant: its TwiML joins the conference."""
    dial = ET.Element("Dial")
    noun = ET.SubElement(dial, "Conference")
    noun.text = conference.friendly_name
    attributes = {
        "startConferenceOnEnter": "false"
        if forms.flag("StartConferenceOnEnter") is False
        else "true",
        "endConferenceOnExit": "true" if forms.flag("EndConferenceOnExit") else "false",
        "muted": "true" if forms.flag("Muted") else "false",
        "waitUrl": forms.url("WaitUrl"),
        "waitMethod": forms.method("WaitMethod"),
        "participantLabel": forms.value("Label"),
        "statusCallback": forms.url("ConferenceStatusCallback"),
        "statusCallbackMethod": forms.method("ConferenceStatusCallbackMethod"),
        "statusCallbackEvent": " ".join(
            sorted(forms.words("ConferenceStatusCallbackEvent") & CONFERENCE_EVENTS)
        )
        or None,
    }
    for name, value in attributes.items():
        if value is not None:
            noun.set(name, value)
    response = ET.Element("Response")
    response.append(dial)
    callback = forms.url("StatusCallback")
    now = state.now()
    return CallLeg(
        sid=new_sid("CA"),
        account_sid=state.account_sid,
        direction="outbound-api",
        from_=forms.value("CallerId") or from_,
        to=to,
        date_created=now,
        date_updated=now,
        created_offset=state.offset(),
        initial=DocumentRequest(None, twiml=ET.tostring(response, encoding="unicode")),
        status_callback=callback,
        status_callback_method=forms.method("StatusCallbackMethod"),
        status_callback_events=(forms.words("StatusCallbackEvent") & CALL_EVENTS)
        or frozenset({"completed"}),
        ring_timeout=forms.integer("Timeout", 60, 5, 600),
    )


def _matches(conference: Conference, filters: dict[str, str]) -> bool:
    for name, wanted in filters.items():
        if name == "FriendlyName" and conference.friendly_name != wanted:
            return False
        if name == "Status" and conference.status != wanted:
            return False
        for field, moment in (
            ("DateCreated", conference.date_created),
            ("DateUpdated", conference.date_updated),
        ):
            day = moment.date().isoformat()
            if name == field and day != wanted:
                return False
            if name == field + "<" and day > wanted:
                return False
            if name == field + ">" and day < wanted:
                return False
    return True


def _participant_matches(participant: Participant, filters: dict[str, str]) -> bool:
    actual = {"Muted": participant.muted, "Hold": participant.hold, "Coaching": False}
    return all(actual[name] == (wanted.lower() == "true") for name, wanted in filters.items())
