"""Redis rebuilt from the database, and drift between the two.

The database is the record and Redis the index. `rebuild` empties the index and loads every
waiting and held call from the database, in the same order (same enqueue times and
deadlines). `drift` only reads and lists differences. `sweep` is the periodic, non-destructive
repair: it rebuilds when Redis came back empty (its generation marker is gone), indexes
committed waiting calls that Redis lacks, drops entries of calls that have ended, and gives
back the lease of a call the database still has held but Redis has waiting (a lease job that
died between Redis and its commit, see queues/leases.py): that lease then runs out again and
the next lease job writes the return.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.states import HELD, WAITING, CallStatus
from runtime.clock import now, to_ms

from .leases import align_with_record
from .store import CallQueues, QueueEntry

log = logging.getLogger(__name__)

QUEUED = {s.value for s in WAITING | {CallStatus.CALLBACK_PENDING}}
INDEXED = WAITING | HELD | {CallStatus.CALLBACK_PENDING}


def expected_entries(session: Session, *, lease_seconds: int) -> list[QueueEntry]:
    """Every entry the Redis index should hold, from the database."""
    calls = session.scalars(
        select(Call)
        .where(Call.status.in_([s.value for s in INDEXED]), Call.queue.is_not(None))
        .order_by(Call.id)
    )
    lease_until = now() + timedelta(seconds=lease_seconds)
    entries = []
    for call in calls:
        if call.enqueued_at is None or call.deadline is None or call.queue is None:
            continue
        held = call.status in HELD and call.agent_id is not None
        entries.append(
            QueueEntry(
                call_id=call.id,
                queue=call.queue,
                priority=call.priority,
                enqueued_at=call.enqueued_at,
                deadline=call.deadline,
                agent_id=str(call.agent_id) if held else None,
                lease_expires_at=lease_until if held else None,
            )
        )
    return entries


def rebuild(session: Session, store: CallQueues, *, lease_seconds: int) -> int:
    """Replace the whole index by the database's truth; returns the entries loaded."""
    entries = expected_entries(session, lease_seconds=lease_seconds)
    store.clear_all()
    store.load(entries)
    store.ensure_generation()
    log.warning("queues rebuilt from the database: %d entries", len(entries))
    return len(entries)


def _place(entry: QueueEntry) -> tuple[str, str, int, int, str | None]:
    return (
        entry.queue,
        entry.priority,
        to_ms(entry.enqueued_at),
        to_ms(entry.deadline),
        entry.agent_id,
    )


def drift(session: Session, store: CallQueues, *, lease_seconds: int) -> list[str]:
    """One line per difference between the database and Redis; empty when none."""
    expected = {e.call_id: e for e in expected_entries(session, lease_seconds=lease_seconds)}
    actual = {e.call_id: e for e in store.dump()}
    lines = []
    if store.generation() is None:
        lines.append("redis: no generation marker (restarted empty or never initialised)")
    for call_id in sorted(expected.keys() - actual.keys()):
        e = expected[call_id]
        lines.append(f"call {call_id}: in database ({e.queue} {e.priority}), missing in redis")
    for call_id in sorted(actual.keys() - expected.keys()):
        e = actual[call_id]
        lines.append(f"call {call_id}: in redis ({e.queue} {e.priority}), not waiting in database")
    for call_id in sorted(expected.keys() & actual.keys()):
        want, have = _place(expected[call_id]), _place(actual[call_id])
        if want != have:
            lines.append(f"call {call_id}: database {want} != redis {have}")
    return lines


@dataclass
class SweepResult:
    rebuilt: bool = False
    indexed: list[int] = field(default_factory=list)
    dropped: list[int] = field(default_factory=list)
    leased: list[int] = field(default_factory=list)


def sweep(session: Session, store: CallQueues, *, lease_seconds: int) -> SweepResult:
    result = SweepResult()
    if store.generation() is None:
        rebuild(session, store, lease_seconds=lease_seconds)
        result.rebuilt = True
        return result
    expected = {e.call_id: e for e in expected_entries(session, lease_seconds=lease_seconds)}
    dumped = {e.call_id: e for e in store.dump()}
    actual = set(dumped)
    session.rollback()  # see the latest commits below, not this transaction's snapshot
    for call_id in sorted(expected.keys() - actual):
        call = session.get(Call, call_id)
        if call is None or call.status not in QUEUED:
            continue
        entry = expected[call_id]
        if store.enqueue(
            call_id=call_id,
            queue=entry.queue,
            priority=entry.priority,
            enqueued_at=entry.enqueued_at,
            deadline=entry.deadline,
        ):
            result.indexed.append(call_id)
    for call_id in sorted(actual - expected.keys()):
        call = session.get(Call, call_id)
        if call is None or call.status not in {s.value for s in INDEXED}:
            store.finish(call_id=call_id)
            result.dropped.append(call_id)
    for call_id in sorted(expected.keys() & actual):
        if expected[call_id].agent_id is None or dumped[call_id].agent_id is not None:
            continue
        call = session.get(Call, call_id)
        now_in_redis = store.entry(call_id)
        if call is None or call.status not in HELD or now_in_redis is None:
            continue
        if now_in_redis.agent_id is not None:
            continue
        align_with_record(store, call, lease_seconds=lease_seconds)
        result.leased.append(call_id)
    session.rollback()
    if result.indexed or result.dropped or result.leased:
        log.warning(
            "queue sweep: indexed %s, dropped %s, lease given back %s",
            result.indexed,
            result.dropped,
            result.leased,
        )
    return result
