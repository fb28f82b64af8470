"""The live snapshot of `GET /api/queues` and of each stream event (contract, "Live snapshot
and stream").

Built from counters, never from a scan: the queue store's per-priority counts and oldest
entry (`CallQueues.snapshot`, one script), its bounded `overdue_in` ranges for breaches (one
script), the rolling-window `ZCOUNT`s of `dashboards.live`, and one grouped query over the
staff. Its cost does not grow with the number of waiting calls.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from callflow.models import iso
from queues.store import QUEUES, CallQueues, QueueEntry

from . import room
from .live import WINDOWS, LiveStats
from .refresh import rebuild_live

#: Queues whose callers are on hold (a callback is not a caller on hold: no breach there).
HOLD_QUEUES = ("arm", "amu", "liberal")
#: Breaches listed per queue, most urgent first (service order): bounded, whatever the load.
BREACHES_PER_QUEUE = 100


def _breach(entry: QueueEntry, moment: datetime) -> dict[str, Any]:
    return {
        "call_id": entry.call_id,
        "priority": entry.priority,
        "queue": entry.queue,
        "waited_s": round(max((moment - entry.enqueued_at).total_seconds(), 0.0), 1),
        "target_s": round((entry.deadline - entry.enqueued_at).total_seconds()),
    }


def build_snapshot(
    *, session: Session, store: CallQueues, stats: LiveStats, moment: datetime
) -> dict[str, Any]:
    """The contract's object, at `moment`. Raises `redis.RedisError` when Redis is down."""
    queues: dict[str, Any] = {}
    for name, state in store.snapshot().items():
        oldest = state.oldest_enqueued_at
        queues[name] = {
            "waiting": dict(state.waiting),
            "oldest_wait_s": (
                round(max((moment - oldest).total_seconds(), 0.0), 1) if oldest else None
            ),
        }
    overdue = store.overdue_in(HOLD_QUEUES, now=moment, limit=BREACHES_PER_QUEUE)
    breaches = [_breach(entry, moment) for queue in HOLD_QUEUES for entry in overdue[queue]]
    # P0s first (a P0 waiting at all), then the longest past their target.
    breaches.sort(key=lambda b: (b["priority"] != "P0", -(b["waited_s"] - b["target_s"])))

    indexed, windows = stats.windows(now=moment)
    if not indexed:
        # Redis came back empty (or was never filled): refill from the database's last day.
        rebuild_live(session, stats)
        _, windows = stats.windows(now=moment)
    return {
        "at": iso(moment),
        "queues": {name: queues[name] for name in QUEUES},
        "agents": room.agents_by_role(session),
        "service_level": {
            name: {
                "answered": windows[name].service_level,
                "with_abandoned": windows[name].service_level_with_abandoned,
            }
            for name in WINDOWS
        },
        "abandonment_rate": {name: windows[name].abandonment_rate for name in WINDOWS},
        "calls_per_hour": windows["1h"].arrived,
        "breaches": breaches,
        "surge": room.surge_declared(session),
    }
