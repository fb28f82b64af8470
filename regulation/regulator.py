"""The regulator's work: the regulation queue with its dossiers, the decision, and handing
a call to the other track in place (same enqueue time and deadline)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call, iso
from callflow.service import move, record_event
from callflow.states import CallStatus
from queues.leases import align_with_record
from queues.policy import target_seconds
from queues.store import CallQueues
from runtime.clock import now
from runtime.settings import Settings

from .access import ApiError
from .audit import audit
from .claiming import ensure_dossier, load_call, require_held
from .models import Decision, Dossier, ScheduledCallback, Staff
from .presence import system_presence
from .roles import OVERSEERS, attribution_for, queues_for
from .surge import surge_active
from .telephony import hang_up_caller, put_on_hold
from .validation import DecisionBody, bad


def decide(
    session: Session,
    store: CallQueues,
    staff: Staff,
    call_id: int,
    body: DecisionBody,
) -> tuple[Call, datetime | None]:
    """Record the decision and close the call (or defer it to a callback at a time).
    Returns the call and the callback time, if any."""
    call = load_call(session, call_id, for_update=True)
    require_held(call, staff)
    if call.status != CallStatus.WITH_REGULATOR:
        raise ApiError(409, "seul un appel tenu par un régulateur reçoit une décision")
    moment = now()
    if body.callback_at is not None and body.callback_at <= moment:
        raise bad("callback_at", "le rappel doit être dans le futur")
    dossier = ensure_dossier(session, call)
    attribution = dossier.attribution or attribution_for(staff.role, call.queue or "")
    dossier.attribution = attribution
    dossier.updated_at = moment
    session.add(
        Decision(
            call_id=call.id,
            staff_id=staff.id,
            outcome=body.outcome,
            urgency=body.urgency,
            notes=body.notes,
            resource=body.resource,
            orientation=body.orientation,
            attribution=attribution,
            callback_at=body.callback_at,
            at=moment,
        )
    )
    data: dict[str, Any] = {
        "outcome": body.outcome,
        "urgency": body.urgency,
        "resource": body.resource,
        "orientation": body.orientation,
        "notes": body.notes,
        "attribution": attribution,
        "callback_at": iso(body.callback_at),
        "regulator_id": staff.id,
    }
    if body.snp:
        record_event(
            session, call, type="snp_requested", actor=staff.username, data={"within_h": 48}
        )
    queue = call.queue
    if body.callback_at is not None:
        move(
            session,
            call,
            CallStatus.CALLBACK_PENDING,
            event="decision",
            actor=staff.username,
            data=data,
            left_queue=queue,
            queue=None,
            agent_id=None,
        )
        session.add(
            ScheduledCallback(
                call_id=call.id,
                queue=call.track if call.track in ("amu", "liberal") else (queue or "liberal"),
                due_at=body.callback_at,
                kind="decision",
                created_at=moment,
            )
        )
    else:
        move(
            session,
            call,
            CallStatus.COMPLETED,
            event="decision",
            actor=staff.username,
            data=data,
            left_queue=queue,
            queue=None,
            agent_id=None,
        )
    system_presence(session, staff.id, "wrap_up", call_id=call.id)
    audit(
        session,
        staff,
        "decide",
        call_id=call.id,
        detail={"outcome": body.outcome, "urgency": body.urgency},
    )
    session.commit()
    store.finish(call_id=call.id)
    hang_up_caller(session, call)
    return call, body.callback_at


def change_track(
    session: Session,
    store: CallQueues,
    settings: Settings,
    staff: Staff,
    call_id: int,
    *,
    track: str,
    notes: str | None,
) -> Call:
    """Hand the held call to the other track's regulators, keeping its place."""
    call = load_call(session, call_id, for_update=True)
    require_held(call, staff)
    if call.status != CallStatus.WITH_REGULATOR:
        raise ApiError(409, "seul un appel tenu par un régulateur change de filière")
    if call.queue == track:
        raise bad("track", "l'appel est déjà dans cette filière")
    assert call.enqueued_at is not None and call.deadline is not None
    from_track = call.queue
    move(
        session,
        call,
        CallStatus.QUEUED_REGULATION,
        event="track_changed",
        actor=staff.username,
        data={
            "from_track": from_track,
            "track": track,
            "queue": track,
            "priority": call.priority,
            "notes": notes,
            "regulator_id": staff.id,
        },
        track=track,
        queue=track,
        agent_id=None,
    )
    system_presence(session, staff.id, "wrap_up", call_id=call.id)
    audit(session, staff, "change_track", call_id=call.id, detail={"track": track})
    session.commit()
    if not store.transfer(
        call_id=call.id,
        agent_id=str(staff.id),
        queue=track,
        priority=call.priority,
        enqueued_at=call.enqueued_at,
        deadline=call.deadline,
    ):
        align_with_record(store, call, lease_seconds=settings.lease_seconds)
    if not put_on_hold(session, call, why="transferred"):
        record_event(session, call, type="hold_failed", data={"after": "track_changed"})
        session.commit()
    return call


def visible_queues(session: Session, staff: Staff) -> tuple[str, ...]:
    if staff.role in OVERSEERS:
        return ("arm", "callback", "amu", "liberal")
    return queues_for(staff.role, surge=surge_active(session))


def queue_view(
    session: Session, store: CallQueues, settings: Settings, staff: Staff, queue: str
) -> dict[str, Any]:
    """The waiting calls of `queue` in the order they will be served, with their dossiers."""
    if queue not in ("arm", "callback", "amu", "liberal"):
        raise ApiError(404, f"aucune file {queue}")
    if queue not in visible_queues(session, staff):
        raise ApiError(403, "cette file n'est pas servie par votre rôle")
    entries = store.ordered(queue, limit=200)
    ids = [e.call_id for e in entries]
    calls = {c.id: c for c in session.scalars(select(Call).where(Call.id.in_(ids)))} if ids else {}
    dossiers = (
        {d.call_id: d for d in session.scalars(select(Dossier).where(Dossier.call_id.in_(ids)))}
        if ids
        else {}
    )
    moment = now()
    rows = []
    for position, entry in enumerate(entries, start=1):
        call = calls.get(entry.call_id)
        dossier = dossiers.get(entry.call_id)
        target = target_seconds(settings, queue=queue, priority=entry.priority)
        rows.append(
            {
                "position": position,
                "call_id": entry.call_id,
                "priority": entry.priority,
                "status": call.status if call else None,
                "caller": call.caller if call else None,
                "caller_display": call.caller_display if call else None,
                "repeat_caller": call.repeat_caller if call else False,
                "enqueued_at": iso(entry.enqueued_at),
                "deadline": iso(entry.deadline),
                "wait_s": round((moment - entry.enqueued_at).total_seconds(), 1),
                "target_s": target,
                "overdue": entry.deadline <= moment,
                "reason": dossier.reason if dossier else None,
                "location": dossier.location if dossier else None,
                "patient": dossier.patient if dossier else None,
                "accompanied": bool(dossier and dossier.accompanying_staff_id),
            }
        )
    audit(session, staff, "list_queue", call_id=None, detail={"queue": queue, "call_ids": ids})
    session.commit()
    return {"queue": queue, "at": iso(moment), "calls": rows}
