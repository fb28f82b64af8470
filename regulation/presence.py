"""Presence: what each person is doing now, and every change as a timestamped event.

A person sets `available`, `paused` (with a reason) or `offline`; the system sets `busy`
(holding a call) and `wrap_up` (after escalating, closing or deciding, until the person
sets `available`). Staff who never set their presence are `offline`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callflow.models import Call, iso
from runtime.clock import now

from .models import PresenceEvent, Staff
from .roles import ROLES

PERSON_STATUSES = ("available", "paused", "offline")
SYSTEM_STATUSES = ("busy", "wrap_up")
STATUSES = ("available", "busy", "wrap_up", "paused", "offline")


def set_presence(
    session: Session,
    staff: Staff,
    status: str,
    *,
    reason: str | None = None,
    call_id: int | None = None,
    source: str = "agent",
) -> bool:
    """Change the presence (the caller commits); False when nothing changed."""
    if status not in STATUSES:
        raise ValueError(f"unknown presence {status!r}")
    if (
        staff.presence == status
        and staff.presence_reason == reason
        and (staff.presence_call_id == call_id)
    ):
        return False
    moment = now()
    session.add(
        PresenceEvent(
            staff_id=staff.id,
            role=staff.role,
            status=status,
            previous=staff.presence,
            reason=reason,
            call_id=call_id,
            source=source,
            at=moment,
        )
    )
    staff.presence = status
    staff.presence_reason = reason
    staff.presence_call_id = call_id
    staff.presence_since = moment
    return True


def system_presence(
    session: Session,
    staff_id: int | None,
    status: str,
    *,
    reason: str | None = None,
    call_id: int | None = None,
) -> None:
    """The system moves an agent (busy, wrap_up, paused after a missed call...)."""
    if staff_id is None:
        return
    staff = session.get(Staff, staff_id)
    if staff is not None:
        set_presence(session, staff, status, reason=reason, call_id=call_id, source="system")


def agent_json(staff: Staff, *, held_call_id: int | None = None) -> dict[str, Any]:
    return {
        "id": staff.id,
        "username": staff.username,
        "display_name": staff.display_name,
        "role": staff.role,
        "active": staff.active,
        "status": staff.presence,
        "reason": staff.presence_reason,
        "since": iso(staff.presence_since),
        "call_id": held_call_id if held_call_id is not None else staff.presence_call_id,
        "client_identity": client_identity(staff.id),
    }


def client_identity(staff_id: int) -> str:
    """The agent's Twilio client identity (`<Dial><Client>`)."""
    return f"agent_{staff_id}"


def agents_by_role(session: Session) -> dict[str, dict[str, int]]:
    """Active staff counted by role and presence (for the live snapshot)."""
    counts = {role: dict.fromkeys(STATUSES, 0) for role in ROLES}
    rows = session.execute(
        select(Staff.role, Staff.presence, func.count())
        .where(Staff.active.is_(True))
        .group_by(Staff.role, Staff.presence)
    )
    for role, presence, count in rows:
        if role in counts and presence in counts[role]:
            counts[role][presence] = int(count)
    return counts


def presence_history(session: Session, *, staff_id: int, limit: int = 50) -> list[dict[str, Any]]:
    rows = session.scalars(
        select(PresenceEvent)
        .where(PresenceEvent.staff_id == staff_id)
        .order_by(PresenceEvent.at.desc(), PresenceEvent.id.desc())
        .limit(limit)
    )
    return [
        {
            "status": r.status,
            "previous": r.previous,
            "reason": r.reason,
            "call_id": r.call_id,
            "source": r.source,
            "at": iso(r.at),
        }
        for r in rows
    ]


def held_call(session: Session, staff_id: int) -> Call | None:
    """The call the database says this agent holds."""
    from callflow.states import HELD

    return session.scalars(
        select(Call).where(Call.agent_id == staff_id, Call.status.in_([s.value for s in HELD]))
    ).first()
