"""The audit log of medical data: every read or change of a call's dossier by a person
(who, what, when, from where). Written in the same transaction as the change it records;
reads are committed on their own. Rows are never updated or deleted."""

from __future__ import annotations

from typing import Any

from flask import has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from runtime.clock import now

from .models import AuditEntry, Staff


def audit(
    session: Session,
    staff: Staff,
    action: str,
    *,
    call_id: int | None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        at=now(),
        staff_id=staff.id,
        username=staff.username,
        role=staff.role,
        action=action,
        call_id=call_id,
        address=(request.remote_addr if has_request_context() else None),
        detail=detail or {},
    )
    session.add(entry)
    return entry


def audit_entries(
    session: Session,
    *,
    call_id: int | None = None,
    staff_id: int | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
    if call_id is not None:
        query = query.where(AuditEntry.call_id == call_id)
    if staff_id is not None:
        query = query.where(AuditEntry.staff_id == staff_id)
    return list(session.scalars(query.limit(limit)))
