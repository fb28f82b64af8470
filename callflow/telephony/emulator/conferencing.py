"""Conferences: `<Dial><Conference>`, participants, hold, kick, and the end of a conference.

From Twilio's Conference page (https://www.twilio.com/docs/voice/twiml/conference) and the
Conference and Participant resources
(https://www.twilio.com/docs/voice/api/conference-resource,
https://www.twilio.com/docs/voice/api/conference-participant-resource), point by point:
- a conference is found by friendly name among those not completed, or created (`init`); it
  starts (`in-progress`) when a participant with `startConferenceOnEnter` (default true) joins;
  before that, participants hear the `waitUrl` (`waitMethod`, POST; default hold music; an empty
  `waitUrl` means silence), whose TwiML may use Play, Say, Pause and Redirect;
- it ends (`completed`) when a participant with `endConferenceOnExit` leaves
  (`participant-with-end-conference-on-exit-left` / `-kicked`), when the last participant leaves
  (`last-participant-left` / `-kicked`), or through the REST API (`conference-ended-via-api`);
  everyone still in it is taken out;
- a participant taken out (conference ended, or kicked with a REST DELETE) goes on with its
  `<Dial>` action (`DialCallStatus=answered`) or the next verb; a participant created through the
  REST API has no TwiML after the conference, so its call ends;
- a participant on hold (REST `Hold=true`) hears the `HoldUrl` TwiML (`HoldMethod`, GET) or the
  default hold music until taken off hold; `Muted` is recorded;
- `statusCallback` / `statusCallbackEvent` (`start end join leave mute hold`; `start end` when
  only the URL is given) post `StatusCallbackEvent` = `conference-start`, `conference-end`,
  `participant-join`, `participant-leave`, `participant-mute` / `-unmute`, `participant-hold` /
  `-unhold`, with `ConferenceSid`, `FriendlyName`, `CallSid`, `Muted`, `Hold`, `Coaching`,
  `EndConferenceOnExit`, `StartConferenceOnEnter`, `SequenceNumber`, `Timestamp`, and
  `ReasonConferenceEnded`, `CallSidEndingConference` on the end. They are sent in order, off the
  call threads, and nothing waits for their answers.

Not emulated: `beep`, `record`, `coach`, announcements (`AnnounceUrl`), `region` choice.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

from .flow import HOLD, ApplicationError, CallEnded, DialResult
from .ids import API_VERSION, new_sid, rfc2822
from .models import DEFAULT_MAX_PARTICIPANTS, Conference, DocumentRequest, Participant
from .registry import Registry
from .twiml import Document, attr_bool, attr_int, attr_list, attr_method, text_of
from .verbs_media import perform
from .verbs_queue import DEFAULT_HOLD_MUSIC, MIN_WAIT_LOOP_SECONDS

if TYPE_CHECKING:
    from .engine import Executor

Event = tuple[str, Participant | None]

_EVENT_NAMES = {
    "start": "conference-start",
    "end": "conference-end",
    "join": "participant-join",
    "leave": "participant-leave",
    "mute": "participant-mute",
    "unmute": "participant-unmute",
    "hold": "participant-hold",
    "unhold": "participant-unhold",
}
_SUBSCRIPTION = {"unmute": "mute", "unhold": "hold"}


class _Kicked(Exception):
    pass


class _ModeChanged(Exception):
    pass


def create_conference(registry: Registry, name: str) -> Conference:
    """A new conference in `init` (lock held)."""
    now = registry.now()
    conference = Conference(new_sid("CF"), name, now, now)
    registry.conferences[conference.sid] = conference
    return conference


def find_or_create(registry: Registry, name: str) -> Conference:
    return registry.active_conference(name) or create_conference(registry, name)


def dial_conference(ex: Executor, noun: ET.Element, document: Document) -> DialResult:
    registry, leg = ex.registry, ex.leg
    name = text_of(noun)
    wait_ref = noun.get("waitUrl")
    silent = wait_ref is not None and not wait_ref.strip()
    wait_request = (
        DocumentRequest(
            document.resolve(wait_ref), attr_method(noun, "waitMethod"), purpose="conference-wait"
        )
        if wait_ref and wait_ref.strip()
        else None
    )
    events: list[Event] = []
    with registry.lock:
        conference = find_or_create(registry, name)
        _subscribe(conference, noun, document)
        present = [p for p in conference.participants.values() if p.present]
        if len(present) >= conference.max_participants:
            registry.note(leg, "conference-full", name=name)
            return DialResult("failed")
        now = registry.now()
        participant = conference.participants.get(leg.sid) or Participant(
            leg.sid, conference.sid, None, now, now
        )
        participant.label = noun.get("participantLabel") or participant.label
        participant.muted = attr_bool(noun, "muted", participant.muted)
        participant.start_conference_on_enter = attr_bool(noun, "startConferenceOnEnter", True)
        participant.end_conference_on_exit = attr_bool(noun, "endConferenceOnExit", False)
        participant.present, participant.status = True, "connected"
        participant.date_updated = now
        conference.participants[leg.sid] = participant
        leg.participant = participant
        events.append(("join", participant))
        if participant.start_conference_on_enter and conference.status == "init":
            conference.status = "in-progress"
            events.append(("start", None))
        _wake_everyone(registry, conference)
    emit(registry, conference, events)
    registry.note(leg, "conference", name=name, conference_sid=conference.sid)
    ended = False
    try:
        _stay(ex, conference, participant, wait_request, silent)
    except CallEnded as stop:
        if stop.leg is not leg:
            raise
        ended = True
    finally:
        with registry.lock:
            events = leave(registry, conference, participant)
        emit(registry, conference, events)
        registry.note(leg, "conference-left", name=name)
    return DialResult("answered", bridged=True, ended=ended)


def _subscribe(conference: Conference, noun: ET.Element, document: Document) -> None:
    callback = noun.get("statusCallback")
    if callback and conference.status_callback is None:
        conference.status_callback = document.resolve(callback)
        conference.status_callback_method = attr_method(noun, "statusCallbackMethod")
        conference.status_callback_events = attr_list(noun, "statusCallbackEvent") or frozenset(
            {"start", "end"}
        )
    conference.max_participants = attr_int(noun, "maxParticipants", None) or (
        conference.max_participants or DEFAULT_MAX_PARTICIPANTS
    )


def _mode(conference: Conference, participant: Participant) -> str:
    if conference.status == "init":
        return "waiting"
    return "held" if participant.hold else "talking"


def _stay(
    ex: Executor,
    conference: Conference,
    participant: Participant,
    wait_request: DocumentRequest | None,
    silent_wait: bool,
) -> None:
    """Be in the conference until taken out; what is heard follows the conference's state."""
    registry = ex.registry

    def kicked() -> None:
        if participant.removed:
            raise _Kicked()

    ex.interrupts.append(kicked)
    try:
        while True:
            with registry.lock:
                mode = _mode(conference, participant)
                hold_request = (
                    DocumentRequest(participant.hold_url, participant.hold_method, purpose="hold")
                    if participant.hold_url
                    else None
                )

            def changed(mode: str = mode) -> None:
                if _mode(conference, participant) != mode:
                    raise _ModeChanged()

            ex.interrupts.append(changed)
            try:
                if mode == "talking":
                    registry.set_activity(ex.leg, {"state": "conferencing"})
                    ex.wait(lambda: None, None)
                elif mode == "waiting":
                    _hear_loop(ex, wait_request, silent_wait)
                else:
                    _hear_loop(ex, hold_request, False)
            except _ModeChanged:
                pass
            finally:
                ex.interrupts.remove(changed)
                registry.set_activity(ex.leg, None)
    except _Kicked:
        return
    finally:
        ex.interrupts.remove(kicked)


def _hear_loop(ex: Executor, request: DocumentRequest | None, silent: bool) -> None:
    """Wait or hold music, again and again, until interrupted."""
    registry = ex.registry
    if silent:
        ex.wait(lambda: None, None)
    current = request
    while True:
        started = registry.offset()
        if current is None:
            perform(ex, "play", registry.play_seconds, {"url": DEFAULT_HOLD_MUSIC})
        else:
            try:
                result = ex.execute(ex.fetch(current, fallback=False), HOLD)
            except ApplicationError as error:
                registry.note(ex.leg, "error", detail=f"hold/wait TwiML failed: {error.detail}")
                ex.wait(lambda: None, None)
                return
            current = result.request if result is not None else request
        spent = registry.offset() - started
        if spent < MIN_WAIT_LOOP_SECONDS:
            ex.sleep(MIN_WAIT_LOOP_SECONDS - spent)


def _wake_everyone(registry: Registry, conference: Conference) -> None:
    for participant in conference.participants.values():
        leg = registry.legs.get(participant.call_sid)
        if leg is not None:
            registry.signal(leg)


def leave(registry: Registry, conference: Conference, participant: Participant) -> list[Event]:
    """Take a participant out; end the conference when that is the rule (lock held)."""
    if conference.participants.get(participant.call_sid) is not participant:
        return []
    del conference.participants[participant.call_sid]
    was_present = participant.present
    participant.present, participant.status = False, "complete"
    participant.date_updated = registry.now()
    leg = registry.legs.get(participant.call_sid)
    if leg is not None and leg.participant is participant:
        leg.participant = None
    events: list[Event] = [("leave", participant)] if was_present else []
    if conference.status == "completed" or not was_present:
        return events
    if participant.end_conference_on_exit:
        how = "kicked" if participant.kicked else "left"
        reason = f"participant-with-end-conference-on-exit-{how}"
        events += end_conference(registry, conference, reason, participant.call_sid)
    elif not any(p.present for p in conference.participants.values()):
        reason = "last-participant-kicked" if participant.kicked else "last-participant-left"
        events += end_conference(registry, conference, reason, participant.call_sid)
    return events


def end_conference(
    registry: Registry, conference: Conference, reason: str, call_sid: str | None
) -> list[Event]:
    """Complete the conference and take everyone out (lock held)."""
    if conference.status == "completed":
        return []
    conference.status = "completed"
    conference.reason_conference_ended = reason
    conference.call_sid_ending_conference = call_sid
    conference.date_updated = registry.now()
    for participant in list(conference.participants.values()):
        participant.removed = True
        leg = registry.legs.get(participant.call_sid)
        if leg is None:
            continue
        if not participant.present:
            del conference.participants[participant.call_sid]
            registry.end_leg(leg, "canceled")
        registry.signal(leg)
    return [("end", None)]


def kick(registry: Registry, conference: Conference, participant: Participant) -> None:
    """REST DELETE of a participant (lock held): its executor takes it out, or, when its call
    has not joined yet, the call is canceled."""
    participant.kicked = True
    participant.removed = True
    leg = registry.legs.get(participant.call_sid)
    if not participant.present:
        conference.participants.pop(participant.call_sid, None)
        if leg is not None:
            registry.end_leg(leg, "canceled")
    elif leg is not None:
        registry.signal(leg)


def update_participant(
    registry: Registry,
    participant: Participant,
    *,
    hold: bool | None,
    hold_url: str | None,
    hold_method: str | None,
    muted: bool | None,
    end_conference_on_exit: bool | None,
) -> list[Event]:
    """REST update of a participant (lock held)."""
    events: list[Event] = []
    if hold_url is not None:
        participant.hold_url = hold_url or None
    if hold_method is not None:
        participant.hold_method = hold_method
    if hold is not None and hold != participant.hold:
        participant.hold = hold
        events.append(("hold" if hold else "unhold", participant))
    if muted is not None and muted != participant.muted:
        participant.muted = muted
        events.append(("mute" if muted else "unmute", participant))
    if end_conference_on_exit is not None:
        participant.end_conference_on_exit = end_conference_on_exit
    participant.date_updated = registry.now()
    leg = registry.legs.get(participant.call_sid)
    if leg is not None:
        registry.signal(leg)
    return events


def emit(registry: Registry, conference: Conference, events: list[Event]) -> None:
    """Post the conference's status callbacks for these events, in order, off-thread."""
    with registry.lock:
        url = conference.status_callback
        if not url:
            return
        for kind, participant in events:
            if _SUBSCRIPTION.get(kind, kind) not in conference.status_callback_events:
                continue
            params = {
                "AccountSid": registry.account_sid,
                "ApiVersion": API_VERSION,
                "ConferenceSid": conference.sid,
                "FriendlyName": conference.friendly_name,
                "StatusCallbackEvent": _EVENT_NAMES[kind],
                "SequenceNumber": str(conference.callback_sequence),
                "Timestamp": rfc2822(registry.now()) or "",
            }
            conference.callback_sequence += 1
            if participant is not None:
                params.update(
                    {
                        "CallSid": participant.call_sid,
                        "Muted": _flag(participant.muted),
                        "Hold": _flag(participant.hold),
                        "Coaching": "false",
                        "EndConferenceOnExit": _flag(participant.end_conference_on_exit),
                        "StartConferenceOnEnter": _flag(participant.start_conference_on_enter),
                    }
                )
                if participant.label:
                    params["ParticipantLabel"] = participant.label
            if kind == "end":
                params["ReasonConferenceEnded"] = conference.reason_conference_ended or ""
                params["CallSidEndingConference"] = conference.call_sid_ending_conference or ""
            registry.post_async(url, conference.status_callback_method, params, "conference")


def _flag(value: bool) -> str:
    return "true" if value else "false"
