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


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)


def to_ms(moment: datetime) -> int:
    """Exact integer milliseconds (float `timestamp() * 1000` can land one ms short)."""
    if moment.tzinfo is None:
        raise ValueError("to_ms needs a timezone-aware datetime")
    return (moment - EPOCH) // _MS


def from_ms(ms: int) -> datetime:
    return EPOCH + timedelta(milliseconds=ms)


def truncate_ms(moment: datetime) -> datetime:
    """The moment without its sub-millisecond part: what Redis scores can hold exactly."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


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
