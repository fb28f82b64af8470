"""The live figures kept in Redis: rolling service level, abandonment and arrivals.

Each call's handling row (`dashboards.models.HandlingTime`) is mirrored into sorted sets of
call ids scored by time (arrival, first answer, abandon; see `dashboards.keys`), by one
idempotent Lua script run whenever the row is recomputed. A rolling window is then a handful
of `ZCOUNT`s: exact to the millisecond, O(log n), and independent of how many calls wait.
The sets hold the last 25 hours; the database is the record, and the sets are rebuilt from
it when Redis comes back empty (no generation marker) or by `flask reports rebuild`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, Protocol

import redis

from .keys import SETS, LiveKeys
from .models import HandlingTime

#: What the live sets need of a handling row.
LIVE_COLUMNS = (
    HandlingTime.call_id,
    HandlingTime.arrived_at,
    HandlingTime.answered_at,
    HandlingTime.answer_wait_s,
    HandlingTime.answer_met,
    HandlingTime.abandon_kind,
    HandlingTime.abandoned_at,
    HandlingTime.abandon_met,
)


class LiveFacts(Protocol):
    """A handling row, or the `LIVE_COLUMNS` of one."""

    @property
    def call_id(self) -> int: ...
    @property
    def arrived_at(self) -> datetime: ...
    @property
    def answered_at(self) -> datetime | None: ...
    @property
    def answer_wait_s(self) -> float | None: ...
    @property
    def answer_met(self) -> bool | None: ...
    @property
    def abandon_kind(self) -> str | None: ...
    @property
    def abandoned_at(self) -> datetime | None: ...
    @property
    def abandon_met(self) -> bool | None: ...


WINDOWS = {"15m": 15 * 60, "1h": 3600, "24h": 24 * 3600}
KEEP_S = 25 * 3600
#: The answer-time histogram: 10 s bins up to 5 minutes, then one bin for the rest.
HISTOGRAM_BIN_S = 10
HISTOGRAM_BINS = 30
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_SCRIPTS = Path(__file__).with_name("scripts")


@cache
def _source(name: str) -> str:
    return (_SCRIPTS / f"{name}.lua").read_text(encoding="utf-8")


def ms(moment: datetime) -> int:
    """Exact integer ms since the epoch (no float rounding)."""
    return (moment - _EPOCH) // _MS


def histogram_bin(wait_s: float) -> int:
    return min(int(wait_s // HISTOGRAM_BIN_S), HISTOGRAM_BINS)


@dataclass(frozen=True)
class WindowCounts:
    """What happened in one rolling window."""

    arrived: int
    answered: int
    answered_within: int
    abandoned: int
    abandoned_within: int
    short_abandoned: int

    @property
    def service_level(self) -> float | None:
        """Asterisk's SL: answered within the target ÷ answered."""
        return self.answered_within / self.answered if self.answered else None

    @property
    def service_level_with_abandoned(self) -> float | None:
        """Asterisk's SL2: (answered within + abandoned within) ÷ (answered + abandoned)."""
        total = self.answered + self.abandoned
        return (self.answered_within + self.abandoned_within) / total if total else None

    @property
    def abandonment_rate(self) -> float | None:
        total = self.answered + self.abandoned
        return self.abandoned / total if total else None


class LiveStats:
    """The live sets in one Redis. Constructing it does no I/O; every method may raise
    `redis.RedisError`."""

    def __init__(self, client: redis.Redis, *, keys: LiveKeys | None = None) -> None:
        self._client = client
        self.keys = keys or LiveKeys()
        self._record = client.register_script(_source("record"))
        self._windows = client.register_script(_source("windows"))
        self._series = client.register_script(_source("series"))

    # -- writing ---------------------------------------------------------------------------

    def _record_args(
        self, row: LiveFacts, now: datetime, *, publish: bool
    ) -> tuple[list[str], list[Any]]:
        hour = ms(row.answered_at) // 3_600_000 if row.answered_at is not None else 0
        answer_bin = ""
        if row.answered_at is not None and row.answer_wait_s is not None:
            answer_bin = str(histogram_bin(row.answer_wait_s))
        kind = row.abandon_kind if row.abandoned_at is not None else None
        args: list[Any] = [
            row.call_id,
            ms(row.arrived_at),
            ms(row.answered_at) if row.answered_at is not None else "",
            "1" if row.answer_met else "0",
            answer_bin,
            kind or "",
            ms(row.abandoned_at) if row.abandoned_at is not None else "",
            "1" if row.abandon_met else "0",
            ms(now) - KEEP_S * 1000,
            KEEP_S,
            self.keys.channel if publish else "",
        ]
        return [*self.keys.sets, self.keys.answer_times(hour)], args

    def record(self, rows: Iterable[LiveFacts], *, now: datetime, publish: bool = False) -> bool:
        """Mirror these rows; True when any live figure changed. With `publish`, the live
        stream is told of a change (even with no rows: presence, surge), in the same round
        trip as the last row."""
        batch = list(rows)
        if not batch:
            if publish:
                self.publish_change()
            return False
        calls = [self._record_args(row, now, publish=False) for row in batch]
        if publish:
            calls[-1] = self._record_args(batch[-1], now, publish=True)
        if len(calls) == 1:
            keys, args = calls[0]
            return bool(int(self._record(keys=keys, args=args)))
        pipe = self._client.pipeline(transaction=False)
        for keys, args in calls:
            self._record(keys=keys, args=args, client=pipe)
        return any(int(r) for r in pipe.execute())

    def publish_change(self) -> None:
        self._client.publish(self.keys.channel, "changed")

    def clear(self, *, now: datetime) -> None:
        """Drop every live set and histogram of the kept period, and the generation marker."""
        hour = ms(now) // 3_600_000
        hours = [self.keys.answer_times(h) for h in range(hour - KEEP_S // 3600 - 1, hour + 2)]
        self._client.delete(*self.keys.sets, *hours, self.keys.generation)

    def rebuild(self, rows: Iterable[LiveFacts], *, now: datetime) -> int:
        """Replace the live sets by these rows (the database's last 25 h)."""
        self.clear(now=now)
        batch: list[LiveFacts] = []
        total = 0
        for row in rows:
            batch.append(row)
            if len(batch) >= 500:
                self.record(batch, now=now)
                total += len(batch)
                batch = []
        self.record(batch, now=now)
        total += len(batch)
        self._client.set(self.keys.generation, secrets.token_hex(8))
        return total

    # -- reading ---------------------------------------------------------------------------

    def windows(self, *, now: datetime) -> tuple[bool, dict[str, WindowCounts]]:
        """(generation present, counts per window), in one round trip."""
        reply = self._windows(
            keys=[*self.keys.sets, self.keys.generation],
            args=[ms(now), *(seconds * 1000 for seconds in WINDOWS.values())],
        )
        generation, flat = reply
        result = {}
        for i, name in enumerate(WINDOWS):
            values = [int(v) for v in flat[i * len(SETS) : (i + 1) * len(SETS)]]
            result[name] = WindowCounts(*values)
        return generation is not None, result

    def series(self, *, start: datetime, bin_s: int, bins: int) -> list[tuple[int, int]]:
        """(arrivals, answers) per bin from `start`."""
        flat = self._series(
            keys=[self.keys.set("arrivals"), self.keys.set("answered")],
            args=[ms(start), bin_s * 1000, bins],
        )
        return [(int(flat[i]), int(flat[i + 1])) for i in range(0, len(flat), 2)]

    def answer_times(self, *, now: datetime, hours: int) -> list[int]:
        """The histogram of answer times over the last `hours` whole UTC hours (this one
        included): HISTOGRAM_BINS bins of HISTOGRAM_BIN_S seconds, then the rest."""
        last = ms(now) // 3_600_000
        pipe = self._client.pipeline(transaction=False)
        for hour in range(last - hours + 1, last + 1):
            pipe.hgetall(self.keys.answer_times(hour))
        counts = [0] * (HISTOGRAM_BINS + 1)
        for found in pipe.execute():
            for field, value in found.items():
                index = int(field)
                if 0 <= index <= HISTOGRAM_BINS:
                    counts[index] += int(value)
        return counts
