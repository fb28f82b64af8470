"""The dashboards' tables: each call's handling times, and the targets policy with its history.

`handling_times` is derived data: one row per call, recomputed from the call's timeline
whenever it changes (`dashboards.hooks`) and rebuilt from scratch by `flask reports rebuild`.
`target_policies` is a record: rows are only ever added, each one a whole version of the
policy in force from `effective_from` on.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from runtime.db import UTCDateTime, db


class HandlingTime(db.Model):  # type: ignore[name-defined]
    """One call's stages, in seconds, and their compliance with the targets in force."""

    __tablename__ = "handling_times"

    call_id: Mapped[int] = mapped_column(ForeignKey("calls.id"), primary_key=True)
    call_sid: Mapped[str] = mapped_column(String(64))
    arrived_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    status: Mapped[str] = mapped_column(String(24))
    priority: Mapped[str] = mapped_column(String(2))
    track: Mapped[str | None] = mapped_column(String(16))
    line: Mapped[str | None] = mapped_column(String(16))

    # The contract's stages (seconds; None while not finished or not applicable).
    ivr_s: Mapped[float | None] = mapped_column(Float)
    arm_wait_s: Mapped[float | None] = mapped_column(Float)
    arm_talk_s: Mapped[float | None] = mapped_column(Float)
    regulator_wait_s: Mapped[float | None] = mapped_column(Float)
    regulator_talk_s: Mapped[float | None] = mapped_column(Float)
    time_to_decision_s: Mapped[float | None] = mapped_column(Float)
    total_s: Mapped[float | None] = mapped_column(Float)
    abandoned_after_s: Mapped[float | None] = mapped_column(Float)

    # Compliance, judged against the policy in force when the call entered that queue.
    arm_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    arm_target_s: Mapped[int | None] = mapped_column(Integer)
    arm_met: Mapped[bool | None] = mapped_column(Boolean)
    regulation_entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    regulation_priority: Mapped[str | None] = mapped_column(String(2))
    regulator_target_s: Mapped[int | None] = mapped_column(Integer)
    regulator_met: Mapped[bool | None] = mapped_column(Boolean)

    # The answer (first connection to any agent), for the service level.
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    answer_wait_s: Mapped[float | None] = mapped_column(Float)
    answer_met: Mapped[bool | None] = mapped_column(Boolean)
    #: `long` (>= the short-abandon threshold in a queue), `short` (the others), or None.
    abandon_kind: Mapped[str | None] = mapped_column(String(8))
    abandoned_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    abandoned_queue: Mapped[str | None] = mapped_column(String(16))
    abandon_met: Mapped[bool | None] = mapped_column(Boolean)

    # Regulation.
    escalated_track: Mapped[str | None] = mapped_column(String(16))
    track_changes: Mapped[int] = mapped_column(Integer, default=0)
    decision: Mapped[str | None] = mapped_column(String(16))
    urgency: Mapped[str | None] = mapped_column(String(4))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    snp: Mapped[bool] = mapped_column(Boolean, default=False)
    arm_agent: Mapped[str | None] = mapped_column(String(64))
    regulator_agent: Mapped[str | None] = mapped_column(String(64))

    # Callbacks: delays from the request (callback accepted, or a deferred decision).
    callback_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    callback_attempts: Mapped[int] = mapped_column(Integer, default=0)
    callback_first_attempt_s: Mapped[float | None] = mapped_column(Float)
    callback_connected_s: Mapped[float | None] = mapped_column(Float)

    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    #: The last timeline event this row was computed from (a later one means it is stale).
    last_event_id: Mapped[int] = mapped_column(Integer, default=0)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime())


class TargetPolicy(db.Model):  # type: ignore[name-defined]
    """One version of the targets policy, in force from `effective_from` until the next."""

    __tablename__ = "target_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    changed_by: Mapped[str] = mapped_column(String(64))
    note: Mapped[str | None] = mapped_column(String(500))
    values: Mapped[dict[str, Any]] = mapped_column(JSON)


@event.listens_for(TargetPolicy, "before_update")
@event.listens_for(TargetPolicy, "before_delete")
def _policy_history_is_append_only(_mapper: Any, _connection: Any, target: TargetPolicy) -> None:
    raise PermissionError(f"policy versions are kept as written (version {target.id})")
