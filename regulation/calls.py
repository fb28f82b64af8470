"""Reading a call as staff: who may read which call, and the call with its dossier,
decisions, repeat-caller history and timeline. Every read by a person is audited.

Access (contract): supervisors and admins read any call; agents read the calls they hold or
held (claimed, accompanied, called back), and the calls waiting in the queues their role
serves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call, iso
from callflow.service import call_json, caller_history
from callflow.states import HELD, WAITING, CallStatus
from queues.policy import target_seconds
from runtime.settings import Settings

from .audit import audit
from .models import CallbackAttempt, Decision, Dossier, Staff
from .roles import OVERSEERS, queues_for
from .surge import surge_active


def has_held(session: Session, staff: Staff, call: Call) -> bool:
    for event in call.events:
        data = event.data or {}
        if event.type in ("claimed", "connected") and data.get("agent_id") == staff.id:
            return True
    dossier = session.get(Dossier, call.id)
    return bool(dossier and dossier.accompanying_staff_id == staff.id)


def can_read(session: Session, staff: Staff, call: Call) -> bool:
    if staff.role in OVERSEERS:
        return True
    if call.status in HELD and call.agent_id == staff.id:
        return True
    waiting = call.status in WAITING or (
        call.status == CallStatus.CALLBACK_PENDING and call.queue is not None
    )
    if waiting and call.queue in queues_for(staff.role, surge=surge_active(session)):
        return True
    return has_held(session, staff, call)


def dossier_json(dossier: Dossier | None) -> dict[str, Any] | None:
    if dossier is None:
        return None
    return {
        "priority": dossier.priority,
        "reason": dossier.reason,
        "location": dossier.location,
        "patient": dossier.patient,
        "notes": dossier.notes,
        "qualified_by": dossier.qualified_by,
        "qualified_at": iso(dossier.qualified_at),
        "attribution": dossier.attribution,
        "closing_code": dossier.closing_code,
        "accompanying_staff_id": dossier.accompanying_staff_id,
    }


def call_body(session: Session, call: Call) -> dict[str, Any]:
    """The call as a call-changing route answers it: the contract's fields and the dossier."""
    body = call_json(call)
    body["agent_id"] = call.agent_id
    body["dossier"] = dossier_json(session.get(Dossier, call.id))
    return body


def call_detail(session: Session, settings: Settings, call: Call) -> dict[str, Any]:
    body = call_json(call, timeline=True)
    body["agent_id"] = call.agent_id
    body["dossier"] = dossier_json(session.get(Dossier, call.id))
    body["target_s"] = (
        target_seconds(settings, queue=call.queue, priority=call.priority) if call.queue else None
    )
    body["decisions"] = [
        {
            "outcome": d.outcome,
            "urgency": d.urgency,
            "notes": d.notes,
            "resource": d.resource,
            "orientation": d.orientation,
            "attribution": d.attribution,
            "callback_at": iso(d.callback_at),
            "regulator_id": d.staff_id,
            "at": iso(d.at),
        }
        for d in session.scalars(
            select(Decision).where(Decision.call_id == call.id).order_by(Decision.id)
        )
    ]
    body["callback_attempts"] = [
        {
            "attempt": a.attempt,
            "status": a.status,
            "placed_at": iso(a.placed_at),
            "answered_at": iso(a.answered_at),
            "ended_at": iso(a.ended_at),
        }
        for a in session.scalars(
            select(CallbackAttempt)
            .where(CallbackAttempt.call_id == call.id)
            .order_by(CallbackAttempt.id)
        )
    ]
    window = timedelta(hours=settings.repeat_caller_window_h)
    earlier = caller_history(session, call, window=window)
    dossiers = (
        {
            d.call_id: d
            for d in session.scalars(
                select(Dossier).where(Dossier.call_id.in_([c.id for c in earlier]))
            )
        }
        if earlier
        else {}
    )
    body["history"] = [
        {
            "id": c.id,
            "arrived_at": iso(c.arrived_at),
            "status": c.status,
            "priority": c.priority,
            "track": c.track,
            "reason": dossiers[c.id].reason if c.id in dossiers else None,
        }
        for c in earlier[:20]
    ]
    return body


def read_call(session: Session, settings: Settings, staff: Staff, call: Call) -> dict[str, Any]:
    """The call with everything about it; the read is written to the audit log."""
    body = call_detail(session, settings, call)
    audit(session, staff, "read", call_id=call.id)
    session.commit()
    return body
