"""The live snapshot of `GET /api/queues` and of each stream event (contract, "Live snapshot
and stream").

Built from counters, never from a scan: the queue store's per-priority counts, oldest
entry and bounded ranges of overdue calls for the breaches (`CallQueues.snapshot`, one
script), the rolling-window `ZCOUNT`s of `dashboards.live` (one script), one grouped query
over the staff carrying the latest surge switch. Two Redis round trips and one query,
whatever the number of waiting calls.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from callflow.models import iso
from queues.store import QUEUES, CallQueues, QueueSnapshot

from . import room
from .live import WINDOWS, LiveStats
from .refresh import rebuild_live

#: Queues whose callers are on hold (a callback is not a caller on hold: no breach there).
HOLD_QUEUES = ("arm", "amu", "liberal")
#: Breaches listed per queue, most urgent first (service order): bounded, whatever the load.
BREACHES_PER_QUEUE = 100
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def _breaches(states: dict[str, QueueSnapshot], moment: datetime) -> list[dict[str, Any]]:
    """The overdue calls of the hold queues: P0s first (a P0 waiting at all), then the
    longest past their target."""
    now_us = (moment - _EPOCH) // _US
    ranked = []
    for queue in HOLD_QUEUES:
        for call in states[queue].overdue:
            # Whole µs and ms divided once give the same floats as datetime arithmetic
            # (both are the correctly rounded quotient), without two datetimes per breach.
            waited = round(max((now_us - call.enqueued_ms * 1000) / 1_000_000, 0.0), 1)
            target = round((call.deadline_ms - call.enqueued_ms) / 1000)
            breach = {
                "call_id": call.call_id,
                "priority": call.priority,
                "queue": queue,
                "waited_s": waited,
                "target_s": target,
            }
            ranked.append(((call.priority != "P0", target - waited), breach))
    ranked.sort(key=lambda item: item[0])
    return [breach for _, breach in ranked]


def build_snapshot(
    *, session: Session, store: CallQueues, stats: LiveStats, moment: datetime
) -> dict[str, Any]:
    """The contract's object, at `moment`. Raises `redis.RedisError` when Redis is down."""
    states = store.snapshot(overdue_in=HOLD_QUEUES, now=moment, limit=BREACHES_PER_QUEUE)
    queues: dict[str, Any] = {}
    for name, state in states.items():
        oldest = state.oldest_enqueued_at
        queues[name] = {
            "waiting": dict(state.waiting),
            "oldest_wait_s": (
                round(max((moment - oldest).total_seconds(), 0.0), 1) if oldest else None
            ),
        }
    indexed, windows = stats.windows(now=moment)
    if not indexed:
        # Redis came back empty (or was never filled): refill from the database's last day.
        rebuild_live(session, stats)
        _, windows = stats.windows(now=moment)
    agents, surge = room.room_state(session)
    return {
        "at": iso(moment),
        "queues": {name: queues[name] for name in QUEUES},
        "agents": agents,
        "service_level": {
            name: {
                "answered": windows[name].service_level,
                "with_abandoned": windows[name].service_level_with_abandoned,
            }
            for name in WINDOWS
        },
        "abandonment_rate": {name: windows[name].abandonment_rate for name in WINDOWS},
        "calls_per_hour": windows["1h"].arrived,
        "breaches": _breaches(states, moment),
        "surge": surge,
    }
