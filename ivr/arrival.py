"""A call arrives: open its record, play the menu, and place it in the right queue.

Twilio retries webhooks: every step here is idempotent on the CallSid.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import redis
from flask import Response
from sqlalchemy import select
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from callflow.models import Call
from callflow.numbers import mask
from callflow.service import (
    find_call,
    find_resumable,
    move,
    open_call,
    record_event,
)
from callflow.states import HELD, WAITING, CallStatus, is_terminal
from queues.placement import Place, new_place, place_call
from queues.store import CallQueues
from runtime.clock import now
from runtime.settings import Settings

from . import prompts, twiml
from .lines import PRO, PUBLIC, line_for
from .menu import PRIORITY, Choice, MenuInput, interpret, pro_track

log = logging.getLogger(__name__)


def arrive(
    session: Session,
    store: CallQueues,
    settings: Settings,
    *,
    call_sid: str,
    caller_raw: str | None,
    dialled: str | None,
) -> Response:
    line = line_for(settings, dialled)
    call, created = open_call(
        session,
        call_sid=call_sid,
        caller_raw=caller_raw,
        dialled=dialled,
        line=line,
        history_window=timedelta(hours=settings.repeat_caller_window_h),
    )
    if not created:
        return _answered_then_released(session, settings, call)
    log.info("call %s arrived on %s line from %s", call.id, line, mask(call.caller))
    session.commit()
    if line == PUBLIC and overflow_due(store, settings):
        move(
            session,
            call,
            CallStatus.OVERFLOWED,
            event="overflowed",
            data={"to": settings.overflow_number},
        )
        session.commit()
        response = VoiceResponse()
        twiml.say(response, settings, prompts.OVERFLOW)
        response.dial(settings.overflow_number)
        return twiml.xml(response)
    return menu(settings, line=line, repeat=False)


def _answered_then_released(session: Session, settings: Settings, call: Call) -> Response:
    """Answer for a call we already know, then end the transaction that locked it (the
    answer is read first: after the commit the record would be read again)."""
    response = answer_existing(settings, call)
    session.commit()
    return response


def answer_existing(settings: Settings, call: Call) -> Response:
    """A retried or late `incoming` for a call we already know: never a second entry."""
    if is_terminal(call.status) or call.status == CallStatus.CALLBACK_PENDING:
        return twiml.hangup(settings)
    if call.status == CallStatus.IVR:
        return menu(settings, line=call.line, repeat=call.menu_attempts > 0)
    if call.status in WAITING or call.status in HELD:
        return twiml.enqueue(settings, queue=call.queue or "arm", text=None)
    return twiml.safe_path(settings)


def menu(settings: Settings, *, line: str, repeat: bool) -> Response:
    """The menu of `line` (its greeting the first time, "again" on a repeat): the same for
    every caller, so built once (`twiml.fixed`)."""
    return twiml.fixed(("menu", line, repeat), lambda: _menu(settings, line=line, repeat=repeat))


def _menu(settings: Settings, *, line: str, repeat: bool) -> VoiceResponse:
    response = VoiceResponse()
    gather = response.gather(
        input="dtmf speech",
        num_digits=1,
        timeout=settings.menu_timeout_s,
        action=twiml.webhook_url(settings, "voice.menu"),
        method="POST",
        language=settings.ivr_language,
        hints=", ".join(settings.vital_keywords),
        action_on_empty_result=True,
    )
    if repeat:
        gather.say(prompts.MENU_AGAIN, language=settings.ivr_language, voice=settings.ivr_voice)
    elif line == PUBLIC:
        gather.say(prompts.GREETING, language=settings.ivr_language, voice=settings.ivr_voice)
    gather.say(
        prompts.PRO_MENU if line == PRO else prompts.MENU,
        language=settings.ivr_language,
        voice=settings.ivr_voice,
    )
    # Should the Gather end without reaching its action, the caller still goes on.
    response.redirect(twiml.webhook_url(settings, "voice.menu"), method="POST")
    return response


def choose(
    session: Session,
    store: CallQueues,
    settings: Settings,
    *,
    call_sid: str,
    caller_raw: str | None,
    dialled: str | None,
    entry: MenuInput,
) -> Response:
    call = find_call(session, call_sid=call_sid, for_update=True)
    if call is None:
        # The incoming webhook was lost: open the call here rather than drop the caller.
        line = line_for(settings, dialled)
        call, _ = open_call(
            session, call_sid=call_sid, caller_raw=caller_raw, dialled=dialled, line=line
        )
    if call.status != CallStatus.IVR:
        return _answered_then_released(session, settings, call)
    if call.line == PRO:
        return _choose_track(session, store, settings, call, entry)
    choice = interpret(entry, settings.vital_keywords)
    if choice is Choice.INVALID and call.menu_attempts == 0:
        call.menu_attempts = 1
        record_event(session, call, type="menu_repeated", data={"digits": entry.digits})
        session.commit()
        return menu(settings, line=call.line, repeat=True)
    priority = PRIORITY[choice]
    # Looked up before this step's events are added, so that no flush goes out before the
    # commit: the events and the move then reach the database in one go.
    earlier = _resumable(session, settings, call)
    record_event(
        session,
        call,
        type="menu_choice",
        data={
            "choice": choice.value,
            "digits": entry.digits,
            "speech": bool(entry.speech),
            "priority": priority,
        },
    )
    fresh = new_place(settings, queue="arm", priority=priority)
    place = _regain_place(session, call, earlier, fresh) if earlier is not None else fresh
    place_call(session, store, call, queue="arm", priority=priority, place=place)
    text = prompts.QUEUED_URGENT if priority in ("P0", "P1") else prompts.QUEUED
    return twiml.enqueue(settings, queue="arm", text=text)


def _choose_track(
    session: Session, store: CallQueues, settings: Settings, call: Call, entry: MenuInput
) -> Response:
    track = pro_track(entry)
    if track is None and call.menu_attempts == 0:
        call.menu_attempts = 1
        record_event(session, call, type="menu_repeated", data={"digits": entry.digits})
        session.commit()
        return menu(settings, line=PRO, repeat=True)
    # A professional who picks nothing is presumed to need the urgent regulator.
    track = track or "amu"
    record_event(session, call, type="menu_choice", data={"track": track, "digits": entry.digits})
    place = new_place(settings, queue=track, priority="P1")
    place_call(session, store, call, queue=track, priority="P1", place=place, track=track)
    return twiml.enqueue(settings, queue=track, text=prompts.QUEUED_PRO)


def _resumable(session: Session, settings: Settings, call: Call) -> Call | None:
    """The ARM call this caller hung up in lately, whose place nobody has taken back yet."""
    earlier = find_resumable(session, call, window=timedelta(seconds=settings.redial_window_s))
    if earlier is None or earlier.left_queue != "arm":
        return None
    already_taken = session.scalars(
        select(Call.id).where(Call.resumes_call_id == earlier.id, Call.id != call.id)
    ).first()
    return None if already_taken is not None else earlier


def _regain_place(session: Session, call: Call, earlier: Call, fresh: Place) -> Place:
    """A caller who hung up while waiting and dials again soon takes back their place
    (their first enqueue time, and the earlier of the two deadlines)."""
    assert earlier.enqueued_at is not None and earlier.deadline is not None
    call.resumes_call_id = earlier.id
    record_event(
        session,
        call,
        type="place_regained",
        data={"resumes_call_id": earlier.id, "enqueued_at": earlier.enqueued_at.isoformat()},
    )
    return Place(earlier.enqueued_at, min(earlier.deadline, fresh.deadline))


def overflow_due(store: CallQueues, settings: Settings) -> bool:
    """The oldest ARM wait has passed the limit and a partner centre is configured."""
    if not settings.overflow_number:
        return False
    try:
        oldest = store.snapshot()["arm"].oldest_enqueued_at
    except redis.RedisError:
        return False
    if oldest is None:
        return False
    return (now() - oldest).total_seconds() > settings.overflow_after_s
