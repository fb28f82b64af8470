"""Taking calls: claim the best waiting call, connect the caller, heartbeat, release.

Order of writes (see `docs/regulation.md`): a claim is the atomic Redis script first (only
one agent can win a call), then the database commit; a crash in between leaves a lease with
no heartbeat, which runs out and returns the call to its place (`queues.leases`). Every
other change commits the database first, then updates Redis; a crash in between leaves a
Redis entry that disagrees with the record, which `align_with_record` repairs the next time
anything touches the call (the claim that draws it, a heartbeat, the lease expiry job).
Twilio is called only after both, so a slow or failing Twilio never holds a lock.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.service import CallNotFound, get_call, move, record_event
from callflow.states import HELD, TERMINAL, CallStatus
from callflow.telephony.gateway import CallGone, TwilioFailure
from queues.leases import align_with_record, status_to_return_to
from queues.store import CallQueues, ClaimRefused
from runtime.clock import now
from runtime.settings import Settings

from .access import ApiError
from .audit import audit
from .models import Dossier, Staff
from .presence import held_call, system_presence
from .roles import Role, attribution_for, queues_for
from .surge import surge_active
from .telephony import absolute, connect_path, gateway, live_leg_sid, put_on_hold

log = logging.getLogger(__name__)

#: Status a claimed call may come from, per the queue it waited in.
CLAIMABLE = {
    "arm": {CallStatus.QUEUED_ARM, CallStatus.CALLBACK_PENDING},
    "callback": {CallStatus.CALLBACK_PENDING, CallStatus.QUEUED_ARM},
    "amu": {CallStatus.QUEUED_REGULATION, CallStatus.CALLBACK_PENDING},
    "liberal": {CallStatus.QUEUED_REGULATION, CallStatus.CALLBACK_PENDING},
}
MAX_DB_ID = 2**31 - 1


def load_call(session: Session, call_id: int, *, for_update: bool = False) -> Call:
    """The call, or a 404 JSON refusal."""
    if not 0 < call_id <= MAX_DB_ID:
        raise ApiError(404, f"aucun appel {call_id}")
    try:
        return get_call(session, call_id=call_id, for_update=for_update)
    except CallNotFound:
        raise ApiError(404, f"aucun appel {call_id}") from None


def holds(call: Call, staff: Staff) -> bool:
    return call.status in HELD and call.agent_id == staff.id


def require_held(call: Call, staff: Staff) -> None:
    if not holds(call, staff):
        raise ApiError(409, "vous ne tenez pas cet appel")


def accompanied_call(session: Session, staff: Staff) -> Call | None:
    """A P0 call this ARM escalated and stays on the line with until a regulator takes it."""
    return session.scalars(
        select(Call)
        .join(Dossier, Dossier.call_id == Call.id)
        .where(
            Dossier.accompanying_staff_id == staff.id,
            Call.status == CallStatus.QUEUED_REGULATION.value,
        )
    ).first()


@dataclass
class Claim:
    call: Call
    #: The status the call had before the claim (a `callback_pending` one is called back).
    was: str
    attribution: str | None


def claim_next(
    session: Session, store: CallQueues, settings: Settings, staff: Staff
) -> Claim | None:
    """Claim, atomically in Redis, the best call waiting for this agent's role; None when
    nothing waits. Raises 409 when the agent already holds a call."""
    queues = queues_for(staff.role, surge=surge_active(session))
    if not queues:
        raise ApiError(403, "votre rôle ne prend pas d'appels")
    mine = held_call(session, staff.id)
    if mine is not None:
        align_with_record(store, mine, lease_seconds=settings.lease_seconds)
        raise ApiError(
            409,
            f"vous tenez déjà l'appel {mine.id}",
            extra={"call_id": mine.id, "reason": "holding"},
        )
    accompanied = accompanied_call(session, staff) if staff.role == Role.ARM else None
    if accompanied is not None:
        raise ApiError(
            409,
            "vous accompagnez un appel P0 jusqu'à sa prise par un régulateur",
            extra={"call_id": accompanied.id, "reason": "accompanying"},
        )
    session.rollback()
    for _ in range(10):
        try:
            entry = store.claim(
                queues=queues,
                agent_id=str(staff.id),
                now=now(),
                lease_seconds=settings.lease_seconds,
            )
        except ClaimRefused as refused:
            raise ApiError(
                409,
                f"vous tenez déjà l'appel {refused.call_id}",
                extra={"call_id": refused.call_id, "reason": "holding"},
            ) from None
        if entry is None:
            return None
        call = session.get(Call, entry.call_id, with_for_update=True)
        if call is None:
            store.finish(call_id=entry.call_id)
            session.rollback()
            continue
        if call.status not in CLAIMABLE[entry.queue] or call.queue != entry.queue:
            # The record says otherwise (ended, held, moved): Redis follows the record.
            log.warning("call %s drawn from %s but it is %s", call.id, entry.queue, call.status)
            session.rollback()
            if call.status in TERMINAL:
                store.finish(call_id=call.id)
            else:
                align_with_record(store, call, lease_seconds=settings.lease_seconds)
            continue
        was = call.status
        attribution = attribution_for(staff.role, entry.queue)
        target = CallStatus.WITH_ARM if staff.role == Role.ARM else CallStatus.WITH_REGULATOR
        move(
            session,
            call,
            target,
            event="claimed",
            actor=staff.username,
            data={
                "agent_id": staff.id,
                "role": staff.role,
                "queue": entry.queue,
                "priority": call.priority,
                "attribution": attribution,
                "surge": attribution not in (None, "DRM.MRU.MU", "DRM.MRL.MG"),
            },
            agent_id=staff.id,
            queue=entry.queue,
        )
        if attribution is not None:
            dossier = ensure_dossier(session, call)
            dossier.attribution = attribution
            dossier.updated_at = now()
        system_presence(session, staff.id, "busy", call_id=call.id)
        audit(session, staff, "claim", call_id=call.id, detail={"queue": entry.queue})
        session.commit()
        return Claim(call, was, attribution)
    raise ApiError(503, "les files d'attente ne concordent pas; réessayez")


def ensure_dossier(session: Session, call: Call) -> Dossier:
    dossier = session.get(Dossier, call.id)
    if dossier is None:
        dossier = Dossier(call_id=call.id, updated_at=now())
        session.add(dossier)
    return dossier


def connect_claimed(session: Session, store: CallQueues, staff: Staff, claim: Claim) -> str:
    """Connect the caller to the agent. Returns `connected` (Twilio accepted), `gone` (the
    caller is no longer there: the call was closed as abandoned). Raises 502 after putting
    the call back in its place when Twilio could not be reached."""
    call = claim.call
    if claim.was == CallStatus.CALLBACK_PENDING:
        from .callbacks import place_callback

        return place_callback(session, store, staff, call)
    url = absolute(connect_path(call.id, staff.id))
    # The caller's live leg: the call's own, or the leg of a callback the patient answered
    # (an escalated callback waits for its regulator on that leg).
    leg = live_leg_sid(session, call)
    queue_sid = call.twilio_queue_sid if leg == call.call_sid else None
    call_id = call.id
    # No transaction stays open across a REST request: Twilio calls the service back while
    # it serves it (the dequeued caller's next document), and SQLite writers would wait.
    session.commit()
    try:
        used = gateway().dequeue(call_sid=leg, queue_sid=queue_sid, url=url)
    except CallGone as gone:
        close_gone(session, store, call_id, staff, detail=str(gone))
        return "gone"
    except TwilioFailure as failure:
        log.error("call %s: connecting to agent %s failed: %s", call_id, staff.id, failure)
        requeue_in_place(
            session, store, call_id, staff, reason="connect_failed", detail=str(failure)
        )
        system_presence(session, staff.id, "available")
        session.commit()
        raise ApiError(
            502,
            "la mise en relation avec l'appelant a échoué (Twilio); "
            "l'appel est revenu à sa place dans la file",
        ) from None
    call = load_call(session, call.id, for_update=True)
    record_event(session, call, type="connect_requested", actor=staff.username, data={"via": used})
    call.twilio_queue_sid = None  # the caller has left the Twilio queue
    _hand_over_accompanied(session, call)
    session.commit()
    return "connected"


def _hand_over_accompanied(session: Session, call: Call) -> None:
    """A regulator took a P0 the ARM was accompanying: the ARM goes to wrap-up."""
    dossier = session.get(Dossier, call.id)
    if dossier is None or dossier.accompanying_staff_id is None:
        return
    arm = session.get(Staff, dossier.accompanying_staff_id)
    if arm is not None and arm.presence == "busy" and arm.presence_call_id == call.id:
        record_event(session, call, type="accompanied_handover", data={"arm_id": arm.id})
        system_presence(session, arm.id, "wrap_up", call_id=call.id)


def close_gone(
    session: Session, store: CallQueues, call_id: int, staff: Staff, *, detail: str
) -> None:
    """Twilio no longer knows the caller (20404, completed): abandoned, never requeued."""
    session.rollback()
    call = load_call(session, call_id, for_update=True)
    if holds(call, staff):
        move(
            session,
            call,
            CallStatus.ABANDONED,
            event="abandoned",
            data={"stage": call.queue, "reason": "gone at Twilio", "detail": detail[:200]},
            left_queue=call.queue,
            queue=None,
            agent_id=None,
        )
    system_presence(session, staff.id, "available")
    session.commit()
    store.finish(call_id=call.id)
    log.warning("call %s was gone at Twilio when claimed: closed as abandoned", call.id)


def requeue_in_place(
    session: Session,
    store: CallQueues,
    call_id: int,
    staff: Staff,
    *,
    reason: str,
    detail: str | None = None,
) -> Call | None:
    """The held call goes back to its queue at its own place (same deadline). The caller
    commits the database, then Redis follows; None when this agent no longer held it."""
    session.rollback()
    call = load_call(session, call_id, for_update=True)
    if not holds(call, staff):
        session.rollback()
        return None
    queue = call.queue or "arm"
    data: dict[str, object] = {"agent_id": staff.id, "queue": queue, "reason": reason}
    if detail:
        data["detail"] = detail[:200]
    move(
        session,
        call,
        status_to_return_to(call),
        event="released",
        actor=staff.username,
        data=data,
        agent_id=None,
        queue=queue,
    )
    session.commit()
    if store.release(call_id=call.id, agent_id=str(staff.id)) is None:
        align_with_record(store, call)
    return call


def heartbeat(
    session: Session, store: CallQueues, settings: Settings, staff: Staff, call: Call
) -> None:
    """Extend the agent's lease; 409 when they do not hold the call (any more)."""
    if store.heartbeat(
        call_id=call.id, agent_id=str(staff.id), now=now(), lease_seconds=settings.lease_seconds
    ):
        return
    if holds(call, staff):
        # The record says this agent holds it: Redis lost the lease (restart, or the
        # expiry crashed half-way); give it back, then extend it.
        align_with_record(store, call, lease_seconds=settings.lease_seconds)
        if store.heartbeat(
            call_id=call.id,
            agent_id=str(staff.id),
            now=now(),
            lease_seconds=settings.lease_seconds,
        ):
            return
    raise ApiError(409, "vous ne tenez plus cet appel (bail expiré ou appel terminé)")


def release(session: Session, store: CallQueues, staff: Staff, call_id: int) -> Call:
    """The agent gives the call back: its place in its queue, the caller back on hold."""
    call = load_call(session, call_id)
    require_held(call, staff)
    returned = requeue_in_place(session, store, call_id, staff, reason="released by the agent")
    if returned is None:
        raise ApiError(409, "vous ne tenez pas cet appel")
    system_presence(session, staff.id, "available")
    session.commit()
    put_on_hold(session, returned, why="back")
    return returned
