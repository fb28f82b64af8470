"""The hold loop: what a waiting caller hears, the callback offer, and leaving the queue.

Twilio requests the wait URL again each time its document ends; the service answers with a
position announcement (at most every `HOLD_ANNOUNCE_EVERY_S`), then music or a pause. The
order in which callers are served is the Redis order, never Twilio's FIFO.
"""

from __future__ import annotations

import logging

import redis
from flask import Response
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from callflow.models import Call
from callflow.numbers import parse_caller
from callflow.service import HoldState, append_event, find_call, hold_state, record_event
from callflow.states import WAITING, CallStatus
from queues.estimates import estimated_wait_seconds
from queues.placement import Place, place_call
from queues.store import Announcement, CallQueues
from runtime.clock import now
from runtime.db import read_outside_transaction
from runtime.settings import Settings

from . import prompts, twiml

log = logging.getLogger(__name__)


def hold(
    session: Session,
    store: CallQueues,
    settings: Settings,
    *,
    call_sid: str,
    queue_sid: str | None,
) -> Response:
    """Most requests change nothing: the call is read by one statement (outside a
    transaction on PostgreSQL), Redis says no announcement is due, and the caller gets the
    same silent document as everyone waiting. Only an announcement, the callback offer or a
    new Twilio queue loads the call and writes, in one transaction."""
    read_outside_transaction(session)
    seen = hold_state(session, call_sid=call_sid)
    if seen is None or seen.status not in WAITING:
        return _silence(settings)
    due = _announcement_due(store, settings, seen)
    offer = _callback_offer_due(settings, seen)
    moved = bool(queue_sid) and seen.twilio_queue_sid != queue_sid
    if due is None and not offer and not moved:
        return _silence(settings)
    session.commit()  # the read ends: the writes below are one transaction
    call = find_call(session, call_sid=call_sid)
    if call is None or call.status not in WAITING:
        return _silence(settings)  # taken or ended since the read
    response = VoiceResponse()
    if moved:
        call.twilio_queue_sid = queue_sid
    if due is not None:
        _announce(session, settings, call, due, response)
    if offer and not call.callback_offered and call.status == CallStatus.QUEUED_ARM:
        call.callback_offered = True
        record_event(session, call, type="callback_offered")
        gather = response.gather(
            input="dtmf",
            num_digits=1,
            timeout=5,
            action=twiml.webhook_url(settings, "voice.callback_offer"),
            method="POST",
        )
        gather.say(prompts.CALLBACK_OFFER, language=settings.ivr_language, voice=settings.ivr_voice)
    session.commit()
    if not response.verbs:
        return _silence(settings)
    return twiml.xml(_waiting(settings, response))


def _silence(settings: Settings) -> Response:
    """Nothing said to this caller now: the same document for everyone waiting."""
    return twiml.fixed(("hold",), lambda: _waiting(settings, VoiceResponse()))


def _waiting(settings: Settings, response: VoiceResponse) -> VoiceResponse:
    """What the caller hears until the next hold request: the music, or a pause."""
    if settings.hold_music_url:
        response.play(settings.hold_music_url)
    else:
        response.pause(length=settings.hold_pause_s)
    return response


def _announcement_due(
    store: CallQueues, settings: Settings, seen: HoldState
) -> Announcement | None:
    """The place to announce, at most every `hold_announce_every_s` seconds: one Redis
    round trip, which both decides and marks the announcement."""
    if seen.queue is None:
        return None
    try:
        return store.announcement(
            call_id=seen.id, queue=seen.queue, now=now(), every_s=settings.hold_announce_every_s
        )
    except redis.RedisError as exc:
        log.warning("hold loop for call %s without position (Redis: %s)", seen.id, exc)
        return None


def _announce(
    session: Session, settings: Settings, call: Call, due: Announcement, response: VoiceResponse
) -> None:
    """Position and estimated wait said, and written to the call's timeline."""
    estimate = estimated_wait_seconds(position=due.position, answers_ms=due.answers_ms, now=now())
    twiml.say(
        response, settings, prompts.position(due.position) + " " + prompts.estimated_wait(estimate)
    )
    append_event(
        session,
        call,
        type="position_announced",
        data={"position": due.position, "estimate_s": estimate},
    )


def _callback_offer_due(settings: Settings, call: HoldState) -> bool:
    if call.callback_offered or call.status != CallStatus.QUEUED_ARM or call.queue != "arm":
        return False
    if call.priority in ("P0", "P1") or call.enqueued_at is None:
        return False
    if (now() - call.enqueued_at).total_seconds() < settings.callback_offer_after_s:
        return False
    # last: parsing the number costs more than every other check here together
    return parse_caller(call.caller).callable


def callback_choice(
    session: Session, store: CallQueues, settings: Settings, *, call_sid: str, digits: str
) -> Response:
    """The caller answered the callback offer: 1 keeps their place as a callback."""
    call = find_call(session, call_sid=call_sid, for_update=True)
    if call is None or call.status != CallStatus.QUEUED_ARM or digits != "1":
        if call is not None and call.status == CallStatus.QUEUED_ARM:
            record_event(session, call, type="callback_declined", data={"digits": digits})
            session.commit()
        # A <Redirect> here would take the caller out of the Twilio queue; ending the
        # document keeps them waiting, and Twilio requests the wait URL again.
        response = VoiceResponse()
        response.pause(length=1)
        return twiml.xml(response)
    assert call.enqueued_at is not None and call.deadline is not None
    place = Place(call.enqueued_at, call.deadline)
    place_call(
        session,
        store,
        call,
        queue="callback",
        priority=call.priority,
        place=place,
        event="callback_accepted",
        data={"from_queue": "arm"},
    )
    return twiml.hangup(settings, prompts.CALLBACK_ACCEPTED)


def queue_exit(session: Session, settings: Settings, *, call_sid: str, result: str) -> Response:
    """Twilio's `<Enqueue action>`: the caller left the Twilio queue."""
    call = find_call(session, call_sid=call_sid)
    if result in ("hangup", "redirected"):
        return twiml.empty()
    if result == "bridged":  # an agent took the caller from the Twilio queue; they are done
        return twiml.hangup(settings)
    if call is not None and call.status == CallStatus.CALLBACK_PENDING:
        return twiml.hangup(settings, prompts.CALLBACK_ACCEPTED)
    if call is not None and call.status in WAITING:
        # The caller left the Twilio queue but still waits for us: park them again (in the
        # spill queue when theirs is full, so the answer cannot loop).
        return twiml.enqueue(
            settings, queue=call.queue or "arm", text=None, spill=result == "queue-full"
        )
    log.warning("call %s left the Twilio queue with %s", call_sid, result)
    return twiml.safe_path(settings)
