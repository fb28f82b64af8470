"""Leases that ran out: the call goes back to its exact place, in the database and Redis.

An agent who claims a call holds it under a lease that each heartbeat extends. When the
heartbeats stop (closed tab, crash, lost network), `return_expired_leases` — run every few
seconds by RQ cron (`queues/cron.py`) — takes every lease past its expiry out of Redis
(`CallQueues.expire_leases`, one atomic script: the entry is back at its own score, same
deadline), then writes the return in the database (`lease_expired`, status back to its
`queued_*` value) and tells the listeners (`callflow.service.agent_freed`), which put the
caller back on hold and mark the agent.

Redis is changed before the database here (the store hands out expired leases only by
returning them), so each crash point leaves something that is repaired:
- after the script, before the commit: Redis has the call waiting, the database still has it
  held. Whoever touches the call next aligns Redis with the database, the record: a claim
  that draws it, the agent's heartbeat or `next` (`align_with_record` gives the lease back),
  and without heartbeats that lease runs out again and comes back here;
- after the commit, before the listeners: the call waits in its place; the agent's console
  learns it lost the call at its next heartbeat (409), the caller hears the hold loop again
  when Twilio's `<Dial>` ends.

`align_with_record` makes Redis say what the database (the record) says about one call.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

import redis
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.service import agent_freed, move
from callflow.states import HELD, CallStatus
from runtime.clock import now as clock_now
from runtime.settings import Settings

from .placement import index_call, status_for_queue
from .store import CallQueues, QueueEntry

log = logging.getLogger(__name__)

_WAITING = {CallStatus.QUEUED_ARM, CallStatus.QUEUED_REGULATION, CallStatus.CALLBACK_PENDING}


def status_to_return_to(call: Call) -> CallStatus:
    """The waiting status a held call goes back to: the one it had when it was claimed
    (a callback stays a callback), else the one of its queue."""
    for event in sorted(call.events, key=lambda e: e.id or 0, reverse=True):
        if event.type == "claimed":
            before = (event.data or {}).get("from")
            if before in {s.value for s in _WAITING}:
                return CallStatus(before)
            break
    return status_for_queue(call.queue or "arm")


def align_with_record(store: CallQueues, call: Call, *, lease_seconds: int = 30) -> None:
    """Make the Redis entry of `call` match the committed database record."""
    placed = call.queue is not None and call.enqueued_at is not None and call.deadline is not None
    entry = store.entry(call.id)
    if call.status in _WAITING and placed:
        if entry is not None and entry.agent_id is not None:
            store.release(call_id=call.id, agent_id=entry.agent_id)
        index_call(store, call)
        return
    if call.status in HELD and placed and call.agent_id is not None:
        agent = str(call.agent_id)
        if entry is not None and entry.agent_id == agent:
            return
        if entry is not None:
            store.finish(call_id=call.id)
        assert call.queue is not None and call.enqueued_at is not None
        assert call.deadline is not None
        store.load(
            [
                QueueEntry(
                    call_id=call.id,
                    queue=call.queue,
                    priority=call.priority,
                    enqueued_at=call.enqueued_at,
                    deadline=call.deadline,
                    agent_id=agent,
                    lease_expires_at=clock_now() + timedelta(seconds=lease_seconds),
                )
            ]
        )
        return
    if entry is not None:
        store.finish(call_id=call.id)


def _return_one(session: Session, store: CallQueues, settings: Settings, entry: QueueEntry) -> bool:
    """Write the return of one expired lease; True when the call went back to its place."""
    session.rollback()  # read the latest commits
    call = session.get(Call, entry.call_id, with_for_update=True)
    if call is None:
        store.finish(call_id=entry.call_id)
        return False
    agent = int(entry.agent_id) if entry.agent_id and entry.agent_id.isdigit() else None
    if call.status not in HELD or call.agent_id is None or call.agent_id != agent:
        # The database moved on (released, escalated, ended) before Redis did.
        session.rollback()
        align_with_record(store, call, lease_seconds=settings.lease_seconds)
        return False
    queue = call.queue or entry.queue
    move(
        session,
        call,
        status_to_return_to(call),
        event="lease_expired",
        data={
            "queue": queue,
            "priority": call.priority,
            "agent_id": agent,
            "lease_expired_at": entry.lease_expires_at.isoformat()
            if entry.lease_expires_at
            else None,
            "reason": "heartbeats stopped",
        },
        agent_id=None,
        queue=queue,
    )
    session.commit()
    align_with_record(store, call, lease_seconds=settings.lease_seconds)
    log.warning("call %s: agent %s's lease ran out; back in its place in %s", call.id, agent, queue)
    try:
        agent_freed(session, call, agent_id=agent, reason="lease_expired")
    except Exception:
        session.rollback()
        log.exception("call %s back in its place, but the follow-ups failed", call.id)
    return True


def return_expired_leases(
    session: Session,
    store: CallQueues,
    settings: Settings,
    *,
    now: datetime | None = None,
    limit: int = 100,
) -> list[int]:
    """Return every call whose lease ran out by `now` to its place; their ids."""
    moment = now or clock_now()
    returned: list[int] = []
    while True:
        entries = store.expire_leases(now=moment, limit=limit)
        for entry in entries:
            if _return_one(session, store, settings, entry):
                returned.append(entry.call_id)
        if len(entries) < limit:
            return returned


def expire_leases_job() -> dict[str, Any]:
    """The RQ cron job (`queues/cron.py`)."""
    from runtime.db import db, session

    from .access import call_queues
    from .jobs import _service

    app = _service()
    with app.app_context():
        try:
            returned = return_expired_leases(
                session(), call_queues(), app.extensions["sas_settings"]
            )
        except redis.RedisError as exc:
            log.error("lease expiry skipped: Redis unavailable (%s)", exc)
            returned = []
        finally:
            db.session.remove()
    return {"returned": returned}
