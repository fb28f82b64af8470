"""What happens on the line once an agent claimed a call: the state the connect documents
(`ivr/connect.py`) answer from, the answer itself (the agent picked up), and the end of the
agent's `<Dial>` (no answer: the caller goes back to their place).

The documents are answered from the call's record, never from the URL alone: Twilio retries
and reorders, and a request may come after the call has moved on.
"""

from __future__ import annotations

import logging
from datetime import datetime
from enum import StrEnum

import redis
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.service import find_call, record_event
from callflow.states import HELD, TERMINAL, WAITING, CallStatus
from queues.access import call_queues
from queues.store import CallQueues
from runtime.clock import now

from .claiming import requeue_in_place
from .models import Staff
from .presence import system_presence
from .telephony import live_callback

log = logging.getLogger(__name__)


class LineAction(StrEnum):
    DIAL_AGENT = "dial_agent"  # dial the holding agent's softphone
    HOLD = "hold"  # wait in the Twilio queue of the call's queue
    CALL_BACK_LATER = "call_back_later"  # a callback leg: "we will call you back", hang up
    HANG_UP = "hang_up"


def line_action(call: Call | None, *, agent_id: int | None = None) -> LineAction:
    """What the caller's line should do now, from the record."""
    if call is None or call.status in TERMINAL:
        return LineAction.HANG_UP
    if call.status in HELD:
        if agent_id is None or call.agent_id == agent_id:
            return LineAction.DIAL_AGENT if agent_id is not None else LineAction.HOLD
        return LineAction.HOLD
    if call.status in WAITING:
        return LineAction.HOLD
    if call.status == CallStatus.CALLBACK_PENDING:
        return LineAction.CALL_BACK_LATER
    return LineAction.HOLD


def is_callback_leg(call: Call, call_sid: str) -> bool:
    return bool(call_sid) and call_sid != call.call_sid


def agent_answered(session: Session, *, call_id: int, agent_id: int) -> bool:
    """The agent picked up their softphone: the caller is answered. False when the call is
    no longer this agent's (the document then declines the bridge)."""
    call = session.get(Call, call_id, with_for_update=True)
    if call is None or call.status not in HELD or call.agent_id != agent_id:
        session.rollback()
        return False
    moment = now()
    if call.answered_at is None:
        call.answered_at = moment
    staff = session.get(Staff, agent_id)
    record_event(
        session,
        call,
        type="connected",
        actor=staff.username if staff else None,
        data={"agent_id": agent_id, "role": staff.role if staff else None, "queue": call.queue},
        at=moment,
    )
    session.commit()
    _remember_answer(call, moment)
    return True


def _remember_answer(call: Call, moment: datetime) -> None:
    """Feed the hold loop's wait estimates (best effort: the answer itself is committed)."""
    if call.queue is None:
        return
    try:
        call_queues().record_answer(queue=call.queue, at=moment)
    except redis.RedisError as exc:
        log.warning("answer of call %s not counted for estimates: %s", call.id, exc)


def dial_ended(
    session: Session,
    store: CallQueues,
    *,
    call_id: int,
    agent_id: int,
    dial_status: str,
    call_sid: str,
) -> LineAction:
    """The `<Dial>` to the agent ended. Not answered: the call goes back to its place and
    the agent is paused. Answered and over while the agent still holds the call: the caller
    waits on hold until the agent escalates, closes or releases it."""
    call = session.get(Call, call_id)
    if call is None:
        return LineAction.HANG_UP
    callback_leg = is_callback_leg(call, call_sid)
    if dial_status == "canceled":
        # The caller hung up while the agent's phone rang: their status callback ends the
        # call (abandoned or completed); the agent missed nothing.
        return LineAction.HANG_UP
    if call.status in HELD and call.agent_id == agent_id and dial_status != "completed":
        staff = session.get(Staff, agent_id)
        if staff is not None:
            if callback_leg:
                attempt = live_callback(session, call)
                if attempt is not None:
                    attempt.ended_at = now()
                    attempt.status = "agent_no_answer"
            requeue_in_place(session, store, call.id, staff, reason="agent_no_answer")
            system_presence(session, agent_id, "paused", reason="appel non décroché")
            session.commit()
            log.warning("call %s: agent %s did not answer (%s)", call.id, agent_id, dial_status)
        session.refresh(call)
    elif callback_leg and call.status in HELD and call.agent_id == agent_id:
        return LineAction.HOLD
    # A patient we called back and could not connect is not left in a queue: the call is
    # `callback_pending` again, and `line_action` says we will call them back later.
    return line_action(call)


def call_for_line(session: Session, *, call_id: int) -> Call | None:
    return session.get(Call, call_id)


def call_by_sid(session: Session, call_sid: str) -> Call | None:
    return find_call(session, call_sid=call_sid)
