"""The regulation tables: staff and their tokens, presence history, the surge switch, each
call's dossier (qualification) and decisions, callbacks, and the audit log.

History tables (`presence_events`, `surge_changes`, `audit_log`, `decisions`,
`callback_attempts` once ended) only ever get rows added; the audit log refuses any update
or delete at the ORM level.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db import UTCDateTime, db


class Staff(db.Model):  # type: ignore[name-defined]
    """A person who works in the room: their account, role and current presence."""

    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str | None] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(32), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Bumped when the password changes or the account is disabled: old sessions end.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    #: `available`, `paused`, `offline` (set by the person); `busy`, `wrap_up` (the system).
    presence: Mapped[str] = mapped_column(String(16), default="offline", index=True)
    presence_reason: Mapped[str | None] = mapped_column(String(200))
    presence_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    presence_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __repr__(self) -> str:
        return f"<Staff {self.id} {self.username} {self.role}>"


class ApiToken(db.Model):  # type: ignore[name-defined]
    """A bearer token; only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PresenceEvent(db.Model):  # type: ignore[name-defined]
    """One change of an agent's presence (the dashboards read these)."""

    __tablename__ = "presence_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    role: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(200))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    #: `agent` (the person) or `system`.
    source: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class SurgeChange(db.Model):  # type: ignore[name-defined]
    """A supervisor declaring or lifting a surge; the latest row is in force."""

    __tablename__ = "surge_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    active: Mapped[bool] = mapped_column(Boolean)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    note: Mapped[str | None] = mapped_column(String(500))


class Dossier(db.Model):  # type: ignore[name-defined]
    """The dossier de régulation médicale of a call: what the ARM recorded, who regulates."""

    __tablename__ = "dossiers"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    priority: Mapped[str | None] = mapped_column(String(2))
    reason: Mapped[str | None] = mapped_column(Text)
    location: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    patient: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    notes: Mapped[str | None] = mapped_column(Text)
    qualified_by: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    qualified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: HubSante.attribution of the regulation (or `DR.DREG.DRARM` / a closing code).
    attribution: Mapped[str | None] = mapped_column(String(32))
    closing_code: Mapped[str | None] = mapped_column(String(32))
    #: The ARM who stays on the line with a P0 caller until a regulator takes the call.
    accompanying_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Decision(db.Model):  # type: ignore[name-defined]
    """A regulator's decision (HubSante.typeDecision) and care level (niveauSoin)."""

    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    outcome: Mapped[str] = mapped_column(String(16))
    urgency: Mapped[str] = mapped_column(String(4))
    notes: Mapped[str] = mapped_column(Text)
    resource: Mapped[str | None] = mapped_column(String(64))
    orientation: Mapped[str | None] = mapped_column(String(64))
    attribution: Mapped[str | None] = mapped_column(String(32))
    callback_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ScheduledCallback(db.Model):  # type: ignore[name-defined]
    """A callback due at a time: the call goes back to `queue` then (durable; the cron job
    picks up any row an RQ scheduled job missed)."""

    __tablename__ = "scheduled_callbacks"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    queue: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    #: `retry` keeps the call's place; `decision` gives it a new one at the due time.
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_scheduled_callbacks_pending", "done_at", "due_at"),)


class CallbackAttempt(db.Model):  # type: ignore[name-defined]
    """One outbound call to a patient (`Calls.create`) and how it went."""

    __tablename__ = "callback_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    attempt: Mapped[int] = mapped_column(Integer)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    leg_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: `placed`, `answered`, then the leg's final status (or `failed` when never placed).
    status: Mapped[str] = mapped_column(String(16))
    placed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditEntry(db.Model):  # type: ignore[name-defined]
    """Who read or changed a call's medical data, what and when. Rows are only ever added."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"), index=True)
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    def as_json(self) -> dict[str, Any]:
        from callflow.models import iso

        return {
            "id": self.id,
            "at": iso(self.at),
            "staff_id": self.staff_id,
            "username": self.username,
            "role": self.role,
            "action": self.action,
            "call_id": self.call_id,
            "address": self.address,
            "detail": self.detail or {},
        }


@event.listens_for(AuditEntry, "before_update")
@event.listens_for(AuditEntry, "before_delete")
def _audit_is_append_only(_mapper: Any, _connection: Any, target: AuditEntry) -> None:
    raise PermissionError(f"the audit log is append-only (entry {target.id})")
