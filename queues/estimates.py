"""Estimated waits for the hold loop, from recent answers in each queue.

Each answer (a call connected to an agent) is remembered with its time; the estimate for a
caller at position N is N times the mean interval between the last answers, when enough of
them are recent. Without recent answers there is no estimate, and the caller is not given a
made-up one.
"""

from __future__ import annotations

from datetime import datetime

import redis

from runtime.clock import to_ms

from . import keys

KEEP = 20
RECENT_MS = 15 * 60 * 1000


def record_answer(client: redis.Redis, *, queue: str, at: datetime) -> None:
    key = keys.answers(queue)
    pipe = client.pipeline(transaction=True)
    pipe.lpush(key, to_ms(at))
    pipe.ltrim(key, 0, KEEP - 1)
    pipe.pexpire(key, RECENT_MS * 4)
    pipe.execute()


def estimated_wait_seconds(
    client: redis.Redis, *, queue: str, position: int, now: datetime
) -> int | None:
    """Seconds a caller at `position` can expect to wait, or None without recent answers."""
    horizon = to_ms(now) - RECENT_MS
    stamps = [int(s) for s in client.lrange(keys.answers(queue), 0, KEEP - 1)]
    recent = [s for s in stamps if s >= horizon]
    if len(recent) < 2:
        return None
    span_ms = max(recent) - min(recent)
    interval_s = max(span_ms / (len(recent) - 1) / 1000, 1.0)
    return round(position * interval_s)


def announcement_due(client: redis.Redis, *, call_id: int, now: datetime, every_s: int) -> bool:
    """True at most once every `every_s` seconds per call, by the service's clock."""
    key = keys.announced(call_id)
    last = client.get(key)
    if last is not None and to_ms(now) - int(last) < every_s * 1000:
        return False
    client.set(key, to_ms(now), ex=3600)
    return True
