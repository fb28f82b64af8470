"""Plain functions over the call record: open a call, move it, write its timeline.

They take the session and never commit: the caller (a flow) owns the transaction, so a
status change and its event land together or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from runtime.clock import now

from .models import Call, CallEvent, iso
from .numbers import parse_caller
from .states import CallStatus, check_move


class CallNotFound(LookupError):
    pass


#: Told, after the commit, when a call leaves its agent without the agent acting: the caller
#: hung up (`caller_hung_up`) or the agent's lease ran out (`lease_expired`).
#: `regulation` registers the follow-ups (presence, putting the caller back on hold).
AgentFreedListener = Callable[[Session, "Call", int, str], None]
_agent_freed_listeners: list[AgentFreedListener] = []


def on_agent_freed(listener: AgentFreedListener) -> None:
    if listener not in _agent_freed_listeners:
        _agent_freed_listeners.append(listener)


def agent_freed(session: Session, call: Call, *, agent_id: int | None, reason: str) -> None:
    """Tell the listeners that `agent_id` no longer holds `call` (call after committing)."""
    if agent_id is None:
        return
    for listener in list(_agent_freed_listeners):
        listener(session, call, agent_id, reason)


def get_call(session: Session, *, call_id: int, for_update: bool = False) -> Call:
    query = select(Call).where(Call.id == call_id)
    if for_update:
        query = query.with_for_update()
    call = session.scalars(query).first()
    if call is None:
        raise CallNotFound(call_id)
    return call


def find_call(session: Session, *, call_sid: str, for_update: bool = False) -> Call | None:
    query = select(Call).where(Call.call_sid == call_sid)
    if for_update:
        query = query.with_for_update()
    return session.scalars(query).first()


def record_event(
    session: Session,
    call: Call,
    *,
    type: str,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> CallEvent:
    """Append one event to the call's timeline."""
    moment = at or now()
    entry = CallEvent(call=call, type=type, at=moment, actor=actor, data=data or {})
    session.add(entry)
    call.updated_at = moment
    return entry


def move(
    session: Session,
    call: Call,
    to: CallStatus,
    *,
    event: str,
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> Call:
    """Move the call to `to` (legal moves only), apply `changes`, and write the event."""
    target = check_move(call.status, to)
    moment = now()
    previous = call.status
    call.status = target.value
    for name, value in changes.items():
        if not hasattr(Call, name):
            raise AttributeError(f"Call has no field {name}")
        setattr(call, name, value)
    if (
        target
        in (CallStatus.COMPLETED, CallStatus.ABANDONED, CallStatus.OVERFLOWED, CallStatus.FAILED)
        and call.ended_at is None
    ):
        call.ended_at = moment
    payload = {"from": previous, "to": target.value}
    payload.update(data or {})
    record_event(session, call, type=event, actor=actor, data=payload, at=moment)
    return call


def open_call(
    session: Session,
    *,
    call_sid: str,
    caller_raw: str | None,
    dialled: str | None,
    line: str,
    status: CallStatus = CallStatus.IVR,
    event: str = "arrived",
    data: dict[str, Any] | None = None,
) -> tuple[Call, bool]:
    """The call with this CallSid, created if new. Returns (call, created).

    Twilio retries webhooks: a second request for the same CallSid finds the first call,
    even when both race (the unique CallSid decides; the loser reads the winner's row).
    """
    existing = find_call(session, call_sid=call_sid, for_update=True)
    if existing is not None:
        return existing, False
    number = parse_caller(caller_raw)
    moment = now()
    call = Call(
        call_sid=call_sid,
        line=line,
        dialled=dialled,
        caller=number.e164,
        caller_flag=number.flag.value if number.flag else None,
        caller_display=number.display,
        caller_kind=number.kind.value if number.kind else None,
        status=status.value,
        priority="NR",
        arrived_at=moment,
        updated_at=moment,
    )
    savepoint = session.begin_nested()
    try:
        session.add(call)
        session.flush()
    except IntegrityError:
        savepoint.rollback()
        winner = find_call(session, call_sid=call_sid, for_update=True)
        if winner is None:
            raise
        return winner, False
    savepoint.commit()
    if status in (CallStatus.COMPLETED, CallStatus.ABANDONED, CallStatus.FAILED):
        call.ended_at = moment
    details = {"line": line, "caller_flag": call.caller_flag}
    details.update(data or {})
    record_event(session, call, type=event, data=details, at=moment)
    return call, True


def link_caller_history(session: Session, call: Call, *, window: timedelta) -> Call | None:
    """Link the call to the last one from the same number within `window`; flag repeats."""
    if call.caller is None:
        return None
    since = call.arrived_at - window
    previous = session.scalars(
        select(Call)
        .where(Call.caller == call.caller, Call.id != call.id, Call.arrived_at >= since)
        .order_by(Call.arrived_at.desc(), Call.id.desc())
        .limit(1)
    ).first()
    if previous is None:
        return None
    call.previous_call_id = previous.id
    call.repeat_caller = True
    record_event(session, call, type="repeat_caller", data={"previous_call_id": previous.id})
    return previous


def caller_history(session: Session, call: Call, *, window: timedelta) -> list[Call]:
    """Earlier calls from the same number within `window`, newest first."""
    if call.caller is None:
        return []
    since = call.arrived_at - window
    return list(
        session.scalars(
            select(Call)
            .where(Call.caller == call.caller, Call.id != call.id, Call.arrived_at >= since)
            .order_by(Call.arrived_at.desc())
        )
    )


def find_resumable(session: Session, call: Call, *, window: timedelta) -> Call | None:
    """An abandoned call from the same number that hung up while waiting within `window`.

    The new call takes back that call's place (enqueue time and deadline).
    """
    if call.caller is None:
        return None
    since = call.arrived_at - window
    return session.scalars(
        select(Call)
        .where(
            Call.caller == call.caller,
            Call.id != call.id,
            Call.status == CallStatus.ABANDONED.value,
            Call.ended_at >= since,
            Call.enqueued_at.is_not(None),
            Call.deadline.is_not(None),
        )
        .order_by(Call.ended_at.desc())
        .limit(1)
    ).first()


def call_json(call: Call, *, timeline: bool = False) -> dict[str, Any]:
    """The call as the staff API shows it."""
    body: dict[str, Any] = {
        "id": call.id,
        "call_sid": call.call_sid,
        "line": call.line,
        "caller": call.caller,
        "caller_display": call.caller_display,
        "caller_flag": call.caller_flag,
        "caller_kind": call.caller_kind,
        "status": call.status,
        "priority": call.priority,
        "track": call.track,
        "queue": call.queue,
        "repeat_caller": call.repeat_caller,
        "previous_call_id": call.previous_call_id,
        "resumes_call_id": call.resumes_call_id,
        "arrived_at": iso(call.arrived_at),
        "enqueued_at": iso(call.enqueued_at),
        "deadline": iso(call.deadline),
        "answered_at": iso(call.answered_at),
        "ended_at": iso(call.ended_at),
    }
    if timeline:
        body["timeline"] = [e.as_json() for e in sorted(call.events, key=lambda e: (e.at, e.id))]
    return body
