"""Calling patients back.

An agent who claims a `callback_pending` call triggers an outbound call (`Calls.create`) to
the patient; once the patient answers, the connect document dials the agent. No answer
(busy, no-answer, failed) counts as an attempt: the call leaves Redis and is due again
after `CALLBACK_RETRY_DELAY_S`, in its original place, until `CALLBACK_MAX_ATTEMPTS`
attempts; then it is closed `failed`. Every attempt is a `callback_attempt` event and a
`callback_attempts` row.

A due callback is a `scheduled_callbacks` row (durable). An RQ job scheduled at the due time
puts it back in its queue; the cron job `release_due_callbacks_job` does the same for any row
the scheduled job missed (Redis lost, worker down), so no callback is forgotten.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.service import agent_freed, move, record_event
from callflow.states import HELD, CallStatus
from callflow.telephony.gateway import TwilioUnavailable
from queues.placement import Place, index_call, new_place
from queues.store import CallQueues
from runtime.clock import now
from runtime.settings import Settings

from .access import ApiError
from .claiming import load_call, requeue_in_place
from .models import CallbackAttempt, ScheduledCallback, Staff
from .presence import system_presence
from .telephony import (
    absolute,
    callback_status_path,
    connect_path,
    gateway,
    regulation_settings,
    sas_settings,
)

log = logging.getLogger(__name__)

UNANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})


def attempts_made(session: Session, call_id: int) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(CallbackAttempt)
            .where(CallbackAttempt.call_id == call_id)
        )
        or 0
    )


def place_callback(session: Session, store: CallQueues, staff: Staff, call: Call) -> str:
    """Call the patient back for the agent who just claimed the call. Returns `connected`
    (Twilio is calling) or `gone` (this attempt failed at once; the agent is free)."""
    number = attempts_made(session, call.id) + 1
    settings, mine = sas_settings(), regulation_settings()
    if call.caller is None:
        _record_attempt(session, call, staff, number, leg_sid=None, status="failed")
        _give_up(session, store, call.id, staff.id, reason="no number to call back")
        return "gone"
    call_id, to = call.id, call.caller
    url = absolute(connect_path(call_id, staff.id))
    status_callback = absolute(callback_status_path(call_id))
    session.commit()  # no transaction open across the REST request (nor lazy loads)
    try:
        leg_sid = gateway().place_call(
            to=to,
            from_=settings.public_numbers[0],
            url=url,
            status_callback=status_callback,
            timeout_s=mine.callback_ring_timeout_s,
        )
    except TwilioUnavailable as failure:
        log.error("call %s: callback not placed: %s", call.id, failure)
        requeue_in_place(
            session, store, call.id, staff, reason="connect_failed", detail=str(failure)
        )
        system_presence(session, staff.id, "available")
        session.commit()
        raise ApiError(
            502, "le rappel n'a pas pu être lancé (Twilio); l'appel est revenu à sa place"
        ) from None
    except Exception as failure:  # a refusal (bad number...): an attempt that failed
        log.error("call %s: callback refused by Twilio: %s", call_id, failure)
        call = load_call(session, call_id, for_update=True)
        _record_attempt(session, call, staff, number, leg_sid=None, status="failed")
        session.commit()
        unanswered(session, store, call_id, staff.id)
        return "gone"
    call = load_call(session, call_id, for_update=True)
    _record_attempt(session, call, staff, number, leg_sid=leg_sid, status="placed")
    session.commit()
    return "connected"


def _record_attempt(
    session: Session,
    call: Call,
    staff: Staff,
    number: int,
    *,
    leg_sid: str | None,
    status: str,
) -> CallbackAttempt:
    moment = now()
    attempt = CallbackAttempt(
        call_id=call.id,
        attempt=number,
        staff_id=staff.id,
        leg_sid=leg_sid,
        status=status,
        placed_at=moment,
        ended_at=moment if status == "failed" else None,
    )
    session.add(attempt)
    record_event(
        session,
        call,
        type="callback_attempt",
        actor=staff.username,
        data={"attempt": number, "leg_sid": leg_sid, "result": status, "agent_id": staff.id},
        at=moment,
    )
    return attempt


def leg_status(
    session: Session, store: CallQueues, *, call_id: int, leg_sid: str, status: str
) -> None:
    """A status callback of an outbound callback leg."""
    attempt = session.scalars(
        select(CallbackAttempt).where(
            CallbackAttempt.leg_sid == leg_sid, CallbackAttempt.call_id == call_id
        )
    ).first()
    if attempt is None or attempt.ended_at is not None:
        return  # unknown or already settled: Twilio retries and reorders
    call = load_call(session, call_id, for_update=True)
    moment = now()
    if status in ("in-progress", "answered"):
        if attempt.answered_at is None:
            attempt.answered_at = moment
            attempt.status = "answered"
            record_event(
                session,
                call,
                type="callback_attempt",
                data={"attempt": attempt.attempt, "leg_sid": leg_sid, "result": "answered"},
            )
            session.commit()
        return
    if status != "completed" and status not in UNANSWERED:
        return
    attempt.ended_at = moment
    attempt.status = status
    record_event(
        session,
        call,
        type="callback_attempt",
        data={"attempt": attempt.attempt, "leg_sid": leg_sid, "result": status},
    )
    if attempt.answered_at is None:
        session.commit()
        unanswered(session, store, call.id, attempt.staff_id)
        return
    # The patient talked, then the line ended: as when a caller hangs up on an agent.
    agent = call.agent_id
    if call.status in HELD and agent == attempt.staff_id:
        move(
            session,
            call,
            CallStatus.COMPLETED,
            event="caller_hung_up",
            data={"call_status": status, "agent_id": agent, "leg_sid": leg_sid},
            left_queue=call.queue,
            queue=None,
            agent_id=None,
        )
        session.commit()
        store.finish(call_id=call.id)
        agent_freed(session, call, agent_id=agent, reason="caller_hung_up")
    else:
        session.commit()


def unanswered(session: Session, store: CallQueues, call_id: int, staff_id: int) -> None:
    """The patient did not answer: retry later in the call's place, or give up."""
    session.rollback()
    call = load_call(session, call_id, for_update=True)
    if call.status not in HELD or call.agent_id != staff_id:
        session.rollback()
        return
    mine = regulation_settings()
    if attempts_made(session, call.id) >= mine.callback_max_attempts:
        _give_up(session, store, call.id, staff_id, reason="no answer")
        return
    due = now() + timedelta(seconds=mine.callback_retry_delay_s)
    queue = call.queue or "callback"
    move(
        session,
        call,
        CallStatus.CALLBACK_PENDING,
        event="callback_retry_scheduled",
        data={"queue": queue, "due_at": due.isoformat(), "agent_id": staff_id},
        queue=None,
        agent_id=None,
    )
    session.add(
        ScheduledCallback(call_id=call.id, queue=queue, due_at=due, kind="retry", created_at=now())
    )
    system_presence(session, staff_id, "available")
    session.commit()
    store.finish(call_id=call.id)
    schedule_release(due)


def _give_up(
    session: Session, store: CallQueues, call_id: int, staff_id: int, *, reason: str
) -> None:
    call = load_call(session, call_id, for_update=True)
    if call.status in HELD and call.agent_id == staff_id:
        move(
            session,
            call,
            CallStatus.FAILED,
            event="callback_gave_up",
            data={"attempts": attempts_made(session, call.id), "reason": reason},
            left_queue=call.queue,
            queue=None,
            agent_id=None,
        )
    system_presence(session, staff_id, "available")
    session.commit()
    store.finish(call_id=call.id)


def schedule_release(due: datetime) -> None:
    """An RQ job at `due` that puts due callbacks back in their queues (best effort: the
    cron pass catches anything it misses)."""
    from flask import current_app

    try:
        from .jobs import schedule_at

        schedule_at(current_app, due)
    except Exception:
        log.exception("could not schedule the callback release job; the cron pass will do it")


def release_due_callbacks(
    session: Session, store: CallQueues, settings: Settings, *, at: datetime | None = None
) -> list[int]:
    """Put every callback due by `at` back in its queue; the calls released."""
    moment = at or now()
    due = list(
        session.scalars(
            select(ScheduledCallback)
            .where(ScheduledCallback.done_at.is_(None), ScheduledCallback.due_at <= moment)
            .order_by(ScheduledCallback.due_at, ScheduledCallback.id)
            .limit(200)
        )
    )
    released: list[int] = []
    for scheduled in due:
        session.rollback()
        row = session.get(ScheduledCallback, scheduled.id, with_for_update=True)
        if row is None or row.done_at is not None:
            continue
        call = session.get(Call, row.call_id, with_for_update=True)
        row.done_at = moment
        if call is None or call.status != CallStatus.CALLBACK_PENDING or call.queue is not None:
            session.commit()
            continue
        if row.kind == "retry" and call.enqueued_at is not None and call.deadline is not None:
            place = Place(call.enqueued_at, call.deadline)
        else:
            place = new_place(settings, queue=row.queue, priority=call.priority)
        call.queue = row.queue
        call.enqueued_at = place.enqueued_at
        call.deadline = place.deadline
        record_event(
            session,
            call,
            type="callback_due",
            data={
                "queue": row.queue,
                "priority": call.priority,
                "kind": row.kind,
                "deadline": place.deadline.isoformat(),
            },
        )
        session.commit()
        index_call(store, call)
        released.append(call.id)
    session.rollback()
    return released
