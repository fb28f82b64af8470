"""The surge switch ("afflux massif"): while declared, regulators of either track may take
the other track's calls. Declared and lifted by supervisors; every change is a row, the
latest is in force, so the state survives restarts."""

from __future__ import annotations

from typing import Any

from sqlalchemy import false, func, select
from sqlalchemy.orm import Session

from callflow.models import iso
from runtime.clock import now

from .models import Staff, SurgeChange


def current_surge(session: Session) -> SurgeChange | None:
    return session.scalars(
        select(SurgeChange).order_by(SurgeChange.at.desc(), SurgeChange.id.desc()).limit(1)
    ).first()


#: Built once: every live snapshot asks.
_LATEST_ACTIVE = (
    select(SurgeChange.active).order_by(SurgeChange.at.desc(), SurgeChange.id.desc()).limit(1)
)


#: The same, as a column other queries can carry (false when no surge was ever declared).
LATEST_ACTIVE_COLUMN = func.coalesce(_LATEST_ACTIVE.scalar_subquery(), false())


def surge_active(session: Session) -> bool:
    """Is a surge declared now? (The live snapshot's `surge`.)"""
    return bool(session.scalar(_LATEST_ACTIVE))


def declare_surge(session: Session, staff: Staff, *, active: bool, note: str | None) -> SurgeChange:
    change = SurgeChange(active=active, at=now(), staff_id=staff.id, note=note)
    session.add(change)
    return change


def surge_json(session: Session) -> dict[str, Any]:
    latest = current_surge(session)
    if latest is None:
        return {"active": False, "since": None, "by": None, "note": None}
    by = session.get(Staff, latest.staff_id)
    return {
        "active": latest.active,
        "since": iso(latest.at),
        "by": by.username if by else None,
        "note": latest.note,
    }
