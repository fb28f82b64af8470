"""Estimated waits for the hold loop, from recent answers in each queue.

The store remembers when agents answered each queue's calls (`CallQueues.record_answer`)
and hands them over with a caller's announcement; the estimate for a caller at position N is
N times the mean interval between the answers of the last quarter of an hour, when there are
at least two. Without them there is no estimate, and the caller is not given a made-up one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from runtime.clock import to_ms

RECENT_MS = 15 * 60 * 1000


def estimated_wait_seconds(
    *, position: int, answers_ms: Sequence[int], now: datetime
) -> int | None:
    """Seconds a caller at `position` can expect to wait, or None without recent answers."""
    horizon = to_ms(now) - RECENT_MS
    recent = [stamp for stamp in answers_ms if stamp >= horizon]
    if len(recent) < 2:
        return None
    span_ms = max(recent) - min(recent)
    interval_s = max(span_ms / (len(recent) - 1) / 1000, 1.0)
    return round(position * interval_s)
