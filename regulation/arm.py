"""The ARM's work on a held call: qualify it, escalate it to a regulator, or close it
without medical regulation.

A P0 escalation is an accompanied transfer (domain.md): the call goes to the front of the
AMU queue (P0 band, deadline now) but the caller is not put on hold: they stay on the line
with the ARM, whose presence stays `busy` and who cannot take another call, until a
regulator takes it; that regulator's connection takes the caller from the ARM's line.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.service import move, record_event
from callflow.states import CallStatus
from queues.leases import align_with_record
from queues.placement import new_place
from queues.store import CallQueues
from runtime.clock import now
from runtime.settings import Settings

from .access import ApiError
from .audit import audit
from .claiming import ensure_dossier, load_call, require_held
from .models import Staff
from .presence import system_presence
from .roles import ATTRIBUTION_DRARM, CLOSING_CODES
from .telephony import hang_up_caller, put_on_hold
from .validation import Closing, Escalation, Qualification


def qualify(session: Session, staff: Staff, call_id: int, body: Qualification) -> Call:
    """Record (or correct) the dossier: location first, patient, reason, priority, notes."""
    call = load_call(session, call_id, for_update=True)
    require_held(call, staff)
    dossier = ensure_dossier(session, call)
    moment = now()
    dossier.priority = body.priority
    dossier.reason = body.reason
    dossier.location = body.location
    dossier.patient = body.patient
    dossier.notes = body.notes
    dossier.qualified_by = staff.id
    dossier.qualified_at = moment
    dossier.updated_at = moment
    record_event(
        session,
        call,
        type="qualified",
        actor=staff.username,
        data={
            "priority": body.priority,
            "reason": body.reason,
            "location": body.location,
            "patient": body.patient,
            "notes": body.notes,
        },
        at=moment,
    )
    audit(
        session,
        staff,
        "qualify",
        call_id=call.id,
        detail={"fields": ["priority", "reason", "location", "patient", "notes"]},
    )
    session.commit()
    return call


def escalate(
    session: Session,
    store: CallQueues,
    settings: Settings,
    staff: Staff,
    call_id: int,
    body: Escalation,
) -> Call:
    """The call waits for a regulator of `track`, its dossier with it."""
    call = load_call(session, call_id, for_update=True)
    require_held(call, staff)
    if call.status != CallStatus.WITH_ARM:
        raise ApiError(409, "seul un appel tenu par un ARM s'escalade")
    accompanied = body.priority == "P0"
    place = new_place(settings, queue=body.track, priority=body.priority)
    dossier = ensure_dossier(session, call)
    dossier.priority = body.priority
    dossier.accompanying_staff_id = staff.id if accompanied else None
    dossier.updated_at = place.enqueued_at
    move(
        session,
        call,
        CallStatus.QUEUED_REGULATION,
        event="escalated",
        actor=staff.username,
        data={
            "track": body.track,
            "queue": body.track,
            "priority": body.priority,
            "deadline": place.deadline.isoformat(),
            "accompanied": accompanied,
            "arm_id": staff.id,
        },
        track=body.track,
        queue=body.track,
        priority=body.priority,
        enqueued_at=place.enqueued_at,
        deadline=place.deadline,
        agent_id=None,
    )
    if accompanied:
        system_presence(session, staff.id, "busy", reason="accompagnement P0", call_id=call.id)
    else:
        system_presence(session, staff.id, "wrap_up", call_id=call.id)
    audit(
        session,
        staff,
        "escalate",
        call_id=call.id,
        detail={"track": body.track, "priority": body.priority},
    )
    session.commit()
    if not store.transfer(
        call_id=call.id,
        agent_id=str(staff.id),
        queue=body.track,
        priority=body.priority,
        enqueued_at=place.enqueued_at,
        deadline=place.deadline,
    ):
        align_with_record(store, call, lease_seconds=settings.lease_seconds)
    if not accompanied and not put_on_hold(session, call, why="escalated"):
        record_event(session, call, type="hold_failed", data={"after": "escalated"})
        session.commit()
    return call


def close_call(
    session: Session, store: CallQueues, staff: Staff, call_id: int, body: Closing
) -> Call:
    """Close without medical regulation, with the Hub code that says why."""
    call = load_call(session, call_id, for_update=True)
    require_held(call, staff)
    if call.status != CallStatus.WITH_ARM:
        raise ApiError(409, "seul un appel tenu par un ARM se clôt sans régulation")
    dossier = ensure_dossier(session, call)
    dossier.closing_code = body.code
    dossier.attribution = ATTRIBUTION_DRARM if body.code.startswith("DR.") else None
    if body.notes:
        dossier.notes = "\n".join(filter(None, [dossier.notes, body.notes]))
    dossier.updated_at = now()
    move(
        session,
        call,
        CallStatus.COMPLETED,
        event="closed",
        actor=staff.username,
        data={"code": body.code, "label": CLOSING_CODES[body.code], "notes": body.notes},
        left_queue=call.queue,
        queue=None,
        agent_id=None,
    )
    system_presence(session, staff.id, "wrap_up", call_id=call.id)
    audit(session, staff, "close", call_id=call.id, detail={"code": body.code})
    session.commit()
    store.finish(call_id=call.id)
    hang_up_caller(session, call)
    return call
