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
from callflow.service import append_event, find_call, record_event
from callflow.states import WAITING, CallStatus
from queues.estimates import estimated_wait_seconds
from queues.placement import Place, place_call
from queues.store import CallQueues
from runtime.clock import now
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
    response = VoiceResponse()
    call = find_call(session, call_sid=call_sid)
    if call is not None and call.status in WAITING:
        if queue_sid and call.twilio_queue_sid != queue_sid:
            call.twilio_queue_sid = queue_sid
        _announce(session, store, settings, call, response)
        if _callback_offer_due(settings, call):
            call.callback_offered = True
            record_event(session, call, type="callback_offered")
            gather = response.gather(
                input="dtmf",
                num_digits=1,
                timeout=5,
                action=twiml.webhook_url(settings, "voice.callback_offer"),
                method="POST",
            )
            gather.say(
                prompts.CALLBACK_OFFER, language=settings.ivr_language, voice=settings.ivr_voice
            )
        session.commit()
    if not response.verbs:
        # nothing said to this caller now: the same document for everyone waiting
        return twiml.fixed(("hold",), lambda: _waiting(settings, VoiceResponse()))
    return twiml.xml(_waiting(settings, response))


def _waiting(settings: Settings, response: VoiceResponse) -> VoiceResponse:
    """What the caller hears until the next hold request: the music, or a pause."""
    if settings.hold_music_url:
        response.play(settings.hold_music_url)
    else:
        response.pause(length=settings.hold_pause_s)
    return response


def _announce(
    session: Session, store: CallQueues, settings: Settings, call: Call, response: VoiceResponse
) -> None:
    """Position and estimated wait, at most every `hold_announce_every_s` seconds: one Redis
    round trip, which both decides and marks the announcement."""
    if call.queue is None:
        return
    moment = now()
    try:
        due = store.announcement(
            call_id=call.id, queue=call.queue, now=moment, every_s=settings.hold_announce_every_s
        )
    except redis.RedisError as exc:
        log.warning("hold loop for call %s without position (Redis: %s)", call.id, exc)
        return
    if due is None:
        return
    estimate = estimated_wait_seconds(position=due.position, answers_ms=due.answers_ms, now=moment)
    twiml.say(
        response, settings, prompts.position(due.position) + " " + prompts.estimated_wait(estimate)
    )
    append_event(
        session,
        call,
        type="position_announced",
        data={"position": due.position, "estimate_s": estimate},
    )


def _callback_offer_due(settings: Settings, call: Call) -> bool:
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
