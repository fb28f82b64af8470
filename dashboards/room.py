"""The people in the room, as the regulation part records them: agents by role and presence,
the agents' board, and whether a surge is declared.

Read from the `staff` table (its `presence` column is the current status; every change is
also a `presence_events` row) and the latest `surge_changes` row. One grouped query over the
staff, whose cost follows the number of accounts, never the number of waiting calls; the
live snapshot gets the surge switch from the same statement.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from callflow.models import iso
from regulation.models import Staff
from regulation.surge import LATEST_ACTIVE_COLUMN, surge_active
from runtime.clock import now

#: The roles that take calls, and the statuses of the contract, in display order.
AGENT_ROLES = ("arm", "regulator_amu", "regulator_liberal", "osnp")
STATUSES = ("available", "busy", "wrap_up", "paused", "offline")


#: Built once: every live snapshot (each `GET /api/queues`, each stream event) runs it.
_AGENTS_BY_ROLE = (
    select(Staff.role, Staff.presence, func.count(), LATEST_ACTIVE_COLUMN)
    .where(Staff.active.is_(True), Staff.role.in_(AGENT_ROLES))
    .group_by(Staff.role, Staff.presence)
)


def agents_by_role(session: Session) -> dict[str, dict[str, int]]:
    """Active staff of every agent role, counted by presence (every status present)."""
    return room_state(session)[0]


def room_state(session: Session) -> tuple[dict[str, dict[str, int]], bool]:
    """The agents by role and presence, and whether a surge is declared: one statement
    (a second only when no agent is on the books to carry the surge switch)."""
    counts = {role: dict.fromkeys(STATUSES, 0) for role in AGENT_ROLES}
    surge: bool | None = None
    for role, presence, count, active in session.execute(_AGENTS_BY_ROLE):
        status = presence if presence in STATUSES else "offline"
        counts[role][status] += int(count)
        surge = bool(active)
    return counts, surge_active(session) if surge is None else surge


def agents_board(session: Session, *, at: datetime | None = None) -> list[dict[str, Any]]:
    """Every active agent with their status and for how long, by role then name."""
    moment = at or now()
    board = []
    staff = session.scalars(
        select(Staff)
        .where(Staff.active.is_(True), Staff.role.in_(AGENT_ROLES))
        .order_by(Staff.role, Staff.username)
    )
    for person in staff:
        since = person.presence_since
        board.append(
            {
                "id": person.id,
                "username": person.username,
                "name": person.display_name or person.username,
                "role": person.role,
                "status": person.presence if person.presence in STATUSES else "offline",
                "reason": person.presence_reason,
                "since": iso(since),
                "for_s": round((moment - since).total_seconds()) if since else None,
                "call_id": person.presence_call_id,
            }
        )
    return board
