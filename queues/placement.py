"""Putting a call in a queue: the database record first, then the Redis index.

The database is the record; Redis is the fast index rebuilt from it. A call is committed as
waiting before it is indexed, so a crash or a Redis outage in between leaves a call the
sweep (`queues.reconcile`) puts back in its place, never a call that is lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import redis
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.service import move
from callflow.states import CallStatus
from runtime.clock import now, truncate_ms
from runtime.settings import Settings

from .policy import REGULATION_QUEUES, deadline_for
from .store import CallQueues

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Place:
    """Where a call stands in a queue: when it entered and its deadline."""

    enqueued_at: datetime
    deadline: datetime


QUEUED_STATUSES = frozenset(
    {CallStatus.QUEUED_ARM, CallStatus.QUEUED_REGULATION, CallStatus.CALLBACK_PENDING}
)


def new_place(settings: Settings, *, queue: str, priority: str) -> Place:
    moment = truncate_ms(now())
    return Place(moment, deadline_for(settings, queue=queue, priority=priority, enqueued_at=moment))


def status_for_queue(queue: str) -> CallStatus:
    if queue in REGULATION_QUEUES:
        return CallStatus.QUEUED_REGULATION
    if queue == "callback":
        return CallStatus.CALLBACK_PENDING
    return CallStatus.QUEUED_ARM


def place_call(
    session: Session,
    store: CallQueues,
    call: Call,
    *,
    queue: str,
    priority: str,
    place: Place,
    event: str = "queued",
    actor: str | None = None,
    data: dict[str, Any] | None = None,
    **changes: Any,
) -> bool:
    """Record the call as waiting in `queue` at `place`, commit, then index it in Redis.

    Returns whether Redis has it now; when not, the sweep indexes it once Redis is back.
    """
    already_waiting = call.status in QUEUED_STATUSES
    details = {"queue": queue, "priority": priority, "deadline": place.deadline.isoformat()}
    details.update(data or {})
    move(
        session,
        call,
        status_for_queue(queue),
        event=event,
        actor=actor,
        data=details,
        queue=queue,
        priority=priority,
        enqueued_at=place.enqueued_at,
        deadline=place.deadline,
        agent_id=None,
        **changes,
    )
    # Read before the commit expires the record: indexing then needs no second query.
    call_id = call.id
    session.commit()
    return _index_place(
        store, call_id, queue=queue, priority=priority, place=place, moving=already_waiting
    )


def index_call(store: CallQueues, call: Call, *, moving: bool = False) -> bool:
    """Put a waiting call's committed place into Redis (idempotent). A call already waiting
    elsewhere in Redis (a callback accepted from the ARM queue) moves there atomically."""
    if call.queue is None or call.enqueued_at is None or call.deadline is None:
        return False
    place = Place(call.enqueued_at, call.deadline)
    return _index_place(
        store, call.id, queue=call.queue, priority=call.priority, place=place, moving=moving
    )


def _index_place(
    store: CallQueues, call_id: int, *, queue: str, priority: str, place: Place, moving: bool
) -> bool:
    try:
        moved = moving and store.move(
            call_id=call_id,
            queue=queue,
            priority=priority,
            enqueued_at=place.enqueued_at,
            deadline=place.deadline,
        )
        if not moved:
            store.enqueue(
                call_id=call_id,
                queue=queue,
                priority=priority,
                enqueued_at=place.enqueued_at,
                deadline=place.deadline,
            )
    except redis.RedisError as exc:
        log.error("call %s committed as waiting but not indexed (Redis: %s)", call_id, exc)
        return False
    return True


def unindex_call(store: CallQueues, call: Call) -> None:
    """Drop a call that left the system from Redis; the sweep retries if Redis is down."""
    try:
        store.finish(call_id=call.id)
    except redis.RedisError as exc:
        log.error("call %s ended but still indexed (Redis: %s)", call.id, exc)
