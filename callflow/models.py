"""The call record and its append-only timeline."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, event
from sqlalchemy.orm import Mapped, mapped_column, relationship

from runtime.db import UTCDateTime, db

from .states import CallStatus


class Call(db.Model):  # type: ignore[name-defined]
    """One telephone call to the SAS, from arrival to its final status."""

    __tablename__ = "calls"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    #: `public` (the SAS number, with the menu) or `pro` (health professionals' line).
    line: Mapped[str] = mapped_column(String(16), default="public")
    dialled: Mapped[str | None] = mapped_column(String(32))
    #: E.164, or None when withheld or invalid (`caller_flag` says which).
    caller: Mapped[str | None] = mapped_column(String(32), index=True)
    caller_flag: Mapped[str | None] = mapped_column(String(16))
    caller_display: Mapped[str | None] = mapped_column(String(32))
    caller_kind: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(24), default=CallStatus.IVR.value, index=True)
    priority: Mapped[str] = mapped_column(String(2), default="NR")
    track: Mapped[str | None] = mapped_column(String(16))
    #: The Redis queue the call waits in or was claimed from (`arm`, `callback`, `amu`,
    #: `liberal`), None when in none. With `enqueued_at` and `deadline` it is the truth the
    #: Redis index is rebuilt from.
    queue: Mapped[str | None] = mapped_column(String(16))
    enqueued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deadline: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The queue the call was in when it ended (abandoned, closed): reports and redials.
    left_queue: Mapped[str | None] = mapped_column(String(16))
    #: The Twilio queue the caller is parked in (`QueueSid` from the wait URL).
    twilio_queue_sid: Mapped[str | None] = mapped_column(String(64))
    menu_attempts: Mapped[int] = mapped_column(default=0)
    callback_offered: Mapped[bool] = mapped_column(default=False)
    repeat_caller: Mapped[bool] = mapped_column(default=False)
    #: The last earlier call from the same number within the repeat window.
    previous_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    #: The abandoned call whose place this one took back (redial within the window).
    resumes_call_id: Mapped[int | None] = mapped_column(ForeignKey("calls.id"))
    #: The agent (staff id) holding the call, when it is with an ARM or regulator.
    agent_id: Mapped[int | None] = mapped_column(index=True)
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    events: Mapped[list[CallEvent]] = relationship(
        back_populates="call", order_by="CallEvent.id", lazy="select"
    )

    __table_args__ = (
        Index("ix_calls_caller_arrived", "caller", "arrived_at"),
        Index("ix_calls_status_queue", "status", "queue"),
    )

    def __repr__(self) -> str:
        return f"<Call {self.id} {self.call_sid} {self.status} {self.priority}>"


class CallEvent(db.Model):  # type: ignore[name-defined]
    """One step of a call's timeline. Rows are only ever added."""

    __tablename__ = "call_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), index=True)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    call: Mapped[Call] = relationship(back_populates="events")

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "at": iso(self.at),
            "actor": self.actor,
            "data": self.data or {},
        }


def iso(moment: datetime | None) -> str | None:
    """ISO-8601 UTC with a `Z`, or None."""
    if moment is None:
        return None
    return moment.isoformat().replace("+00:00", "Z")


@event.listens_for(CallEvent, "before_update")
@event.listens_for(CallEvent, "before_delete")
def _timeline_is_append_only(_mapper: Any, _connection: Any, target: CallEvent) -> None:
    raise PermissionError(f"call events are append-only (event {target.id})")
