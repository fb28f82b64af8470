"""Twilio's status callbacks and fallback: the end of a call, whenever it comes.

Twilio retries and reorders callbacks: a duplicate or late one changes nothing; a terminal
status for a call we have never seen is recorded, so a late `incoming` is hung up.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Response
from sqlalchemy.orm import Session

from callflow.service import agent_freed, find_call, move, open_call, record_event
from callflow.states import HELD, WAITING, CallStatus, is_terminal
from queues.placement import unindex_call
from queues.store import CallQueues
from runtime.clock import now
from runtime.settings import Settings

from . import twiml
from .lines import line_for

log = logging.getLogger(__name__)

TERMINAL_STATUSES = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
KNOWN_STATUSES = TERMINAL_STATUSES | {"queued", "ringing", "in-progress", "initiated"}


def call_ended(
    session: Session,
    store: CallQueues,
    settings: Settings,
    *,
    call_sid: str,
    call_status: str,
    duration: str | None,
    caller_raw: str | None,
    dialled: str | None,
) -> Response:
    if call_status not in TERMINAL_STATUSES:
        return twiml.empty()
    details: dict[str, Any] = {"call_status": call_status, "duration_s": _int_or_none(duration)}
    call = find_call(session, call_sid=call_sid, for_update=True)
    if call is None:
        final = CallStatus.ABANDONED if call_status == "completed" else CallStatus.FAILED
        call, created = open_call(
            session,
            call_sid=call_sid,
            caller_raw=caller_raw,
            dialled=dialled,
            line=line_for(settings, dialled),
            status=final,
            event="ended_before_arrival",
            data=details,
        )
        if created:
            session.commit()
            return twiml.empty()
        # The incoming webhook created the call meanwhile (Twilio sent both at once): that
        # call ends like any other, below (open_call hands it over locked).
    if is_terminal(call.status):
        return twiml.empty()
    if call.status in WAITING or call.status == CallStatus.IVR:
        waited = (now() - call.enqueued_at).total_seconds() if call.enqueued_at else None
        details["waited_s"] = round(waited, 3) if waited is not None else None
        details["stage"] = call.queue or "ivr"
        move(
            session,
            call,
            CallStatus.ABANDONED,
            event="abandoned",
            data=details,
            left_queue=call.queue,
            queue=None,
        )
        session.commit()
        unindex_call(store, call)
        log.info("call %s abandoned after %s s", call.id, details.get("waited_s"))
    elif call.status in HELD:
        agent = call.agent_id
        move(
            session,
            call,
            CallStatus.COMPLETED,
            event="caller_hung_up",
            data=details | {"agent_id": agent},
            left_queue=call.queue,
            queue=None,
        )
        session.commit()
        unindex_call(store, call)
        agent_freed(session, call, agent_id=agent, reason="caller_hung_up")
    else:
        # callback_pending: the caller's line ended as agreed; the callback stays due.
        record_event(session, call, type="caller_line_ended", data=details)
        session.commit()
    return twiml.empty()


def fallback(
    session: Session,
    settings: Settings,
    *,
    call_sid: str,
    error_code: str | None,
    error_url: str | None,
) -> Response:
    """Twilio could not use our answer: log it, note it on the call, serve the caller."""
    log.error(
        "Twilio fallback for CallSid=%s ErrorCode=%s ErrorUrl=%s", call_sid, error_code, error_url
    )
    try:
        call = find_call(session, call_sid=call_sid)
        if call is not None:
            record_event(
                session,
                call,
                type="twilio_error",
                data={"error_code": error_code, "error_url": error_url},
            )
            session.commit()
    except Exception:
        session.rollback()
        log.exception("could not record the fallback on CallSid=%s", call_sid)
    return twiml.safe_path(settings)


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
