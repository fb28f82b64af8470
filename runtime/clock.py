"""The one clock of the service: every timestamp comes from `now()`.

Times are UTC and timezone-aware. Tests move time with `set_clock` / `frozen`, never by
patching `datetime`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_source: Callable[[], datetime] | None = None


def now() -> datetime:
    """The current time, UTC, timezone-aware."""
    source = _source
    return source() if source is not None else datetime.now(UTC)


def now_ms() -> int:
    """The current time in integer milliseconds since the epoch (Redis scores use it)."""
    return to_ms(now())


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Replace the clock (tests); `None` restores the system clock."""
    global _source
    with _lock:
        _source = source


class ManualClock:
    """A clock that stands still until moved; for tests and benchmarks."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")
        self._now = start.astimezone(UTC)

    def __call__(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now

    def set(self, moment: datetime) -> None:
        self._now = moment.astimezone(UTC)


@contextmanager
def frozen(start: datetime) -> Iterator[ManualClock]:
    """Run a block under a manual clock, restoring the system clock afterwards."""
    clock = ManualClock(start)
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(None)
