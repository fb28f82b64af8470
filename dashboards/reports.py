"""The handling-time report and the monthly ARS indicators, from the stored rows.

Reports read `handling_times` (one row per call, kept current by `dashboards.refresh`), never
the timelines: a month of calls is one indexed range read. Figures (also in
`docs/dashboards.md`):

- `received`: calls that arrived in the range; `answered`: calls connected to an agent at
  least once; `answered_within_60s`: those whose answer wait (the stage wait of the first
  family that answered) was 60 s or less.
- `abandoned`: calls that hung up while waiting in a queue after the short-abandon threshold
  (15 s) or more; `short_abandoned`: every other abandoned call (under 15 s in a queue, or
  in the IVR before any queue). Disjoint.
- `service_level.answered` = answered within target ÷ answered; `with_abandoned` =
  (answered within + abandoned within target) ÷ (answered + abandoned), as Asterisk's SL
  and SL2. "Within target" is the stage's `met` (the policy in force when the call entered
  that queue).
- Percentiles interpolate linearly between closest ranks, as PostgreSQL's `percentile_cont`.
"""

from __future__ import annotations

import csv
import io
import logging
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from callflow.models import iso

from .handling import MET_STAGES, STAGES
from .models import HandlingTime
from .timeline import DECISION_TYPES

log = logging.getLogger(__name__)

PARIS = ZoneInfo("Europe/Paris")
PRIORITIES = ("P0", "P1", "P2", "P3", "NR")
TRACKS = ("amu", "liberal")
CSV_COLUMNS = ("id", "call_sid", "priority", "track", "status", *STAGES)
ANSWER_WITHIN_S = 60

_H = HandlingTime
_COLUMNS = (
    _H.call_id,
    _H.call_sid,
    _H.arrived_at,
    _H.status,
    _H.priority,
    _H.track,
    *(getattr(_H, stage) for stage in STAGES),
    _H.arm_met,
    _H.regulator_met,
    _H.answered_at,
    _H.answer_wait_s,
    _H.answer_met,
    _H.abandon_kind,
    _H.abandon_met,
    _H.escalated_track,
    _H.decision,
    _H.snp,
    _H.arm_agent,
    _H.regulator_agent,
    _H.callback_requested_at,
    _H.callback_attempts,
    _H.callback_first_attempt_s,
    _H.callback_connected_s,
)


#: Where the stages, and the facts a `Tally` reads, sit in a loaded row.
_KEYS = [column.key for column in _COLUMNS]
_STAGE_AT = _KEYS.index(STAGES[0])
_FACTS_AT = _KEYS.index("arm_met")
assert _KEYS[:6] == ["call_id", "call_sid", "arrived_at", "status", "priority", "track"]
assert _KEYS[_FACTS_AT + 9] == "snp"


class RangeError(ValueError):
    """A refused `from` / `to` / `month`: `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# -- ranges -----------------------------------------------------------------------------------


def _bound(raw: str, field: str) -> datetime:
    text = raw.strip()
    # An unencoded `+` in a query string arrives as a space: "…T10:00:00 01:00".
    if len(text) > 10 and text[-6] == " " and text[-3] == ":":
        text = text[:-6] + "+" + text[-5:]
    if len(text) == 10:
        try:
            day = date.fromisoformat(text)
        except ValueError:
            raise RangeError(field, f"{field}: not a date (YYYY-MM-DD)") from None
        return datetime.combine(day, time(0), tzinfo=PARIS)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise RangeError(field, f"{field}: not an ISO-8601 date-time") from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise RangeError(field, f"{field}: a date-time needs an offset (Z or ±hh:mm)")
    return moment


def parse_range(
    raw_from: str | None, raw_to: str | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """`from` inclusive, `to` exclusive; by default the last 24 hours."""
    end = _bound(raw_to, "to") if raw_to else now
    start = _bound(raw_from, "from") if raw_from else end - timedelta(hours=24)
    if end <= start:
        raise RangeError("to", "to must come after from")
    if end - start > timedelta(days=400):
        raise RangeError("from", "a report covers at most 400 days")
    return start, end


def month_range(raw: str | None, *, now: datetime) -> tuple[str, datetime, datetime]:
    """A calendar month in Europe/Paris (`YYYY-MM`, by default the current one)."""
    if raw:
        try:
            first = datetime.strptime(raw.strip(), "%Y-%m").date()
        except ValueError:
            raise RangeError("month", "month: expected YYYY-MM") from None
    else:
        first = now.astimezone(PARIS).date().replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        first.strftime("%Y-%m"),
        datetime.combine(first, time(0), tzinfo=PARIS),
        datetime.combine(following, time(0), tzinfo=PARIS),
    )


# -- arithmetic -------------------------------------------------------------------------------


def percentile_cont(ordered: Sequence[float], fraction: float) -> float | None:
    """PostgreSQL's `percentile_cont`: linear interpolation between the closest ranks of
    sorted values (None for none)."""
    if not ordered:
        return None
    rank = fraction * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    value = ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
    return round(value, 3)


def _ratio(numerator: int, denominator: int) -> float | None:
    return numerator / denominator if denominator else None


class Tally:
    """The summary figures of a set of calls, added one call at a time (one pass)."""

    __slots__ = (
        "abandoned",
        "abandoned_within",
        "answered",
        "answered_within",
        "answered_within_60s",
        "decisions",
        "escalated",
        "met",
        "received",
        "short_abandoned",
        "snp",
        "values",
    )

    def __init__(self) -> None:
        self.received = self.answered = self.answered_within = self.answered_within_60s = 0
        self.abandoned = self.abandoned_within = self.short_abandoned = self.snp = 0
        self.escalated = dict.fromkeys(TRACKS, 0)
        self.decisions = dict.fromkeys(DECISION_TYPES, 0)
        #: per compliance stage: [met, judged]
        self.met = {stage: [0, 0] for stage in MET_STAGES}
        self.values: list[list[float]] = [[] for _ in STAGES]

    def add(self, r: Row[Any]) -> None:
        # Positional reads: a month is 100 000 rows, attribute lookups add up.
        (
            arm_met,
            regulator_met,
            answered_at,
            answer_wait_s,
            answer_met,
            abandon_kind,
            abandon_met,
            escalated_track,
            decision,
            snp,
        ) = r[_FACTS_AT : _FACTS_AT + 10]
        self.received += 1
        if answered_at is not None:
            self.answered += 1
            if answer_met:
                self.answered_within += 1
            if answer_wait_s is not None and answer_wait_s <= ANSWER_WITHIN_S:
                self.answered_within_60s += 1
        if abandon_kind == "long":
            self.abandoned += 1
            if abandon_met:
                self.abandoned_within += 1
        elif abandon_kind == "short":
            self.short_abandoned += 1
        if escalated_track in self.escalated:
            self.escalated[escalated_track] += 1
        if decision:
            self.decisions[decision] = self.decisions.get(decision, 0) + 1
        if snp:
            self.snp += 1
        if arm_met is not None:
            counts = self.met["arm_wait_s"]
            counts[1] += 1
            counts[0] += arm_met is True
        if regulator_met is not None:
            counts = self.met["regulator_wait_s"]
            counts[1] += 1
            counts[0] += regulator_met is True
        values = self.values
        for i, value in enumerate(r[_STAGE_AT : _STAGE_AT + len(STAGES)]):
            if value is not None:
                values[i].append(value)

    def merge(self, other: Tally) -> None:
        self.received += other.received
        self.answered += other.answered
        self.answered_within += other.answered_within
        self.answered_within_60s += other.answered_within_60s
        self.abandoned += other.abandoned
        self.abandoned_within += other.abandoned_within
        self.short_abandoned += other.short_abandoned
        self.snp += other.snp
        for track, count in other.escalated.items():
            self.escalated[track] += count
        for code, count in other.decisions.items():
            self.decisions[code] = self.decisions.get(code, 0) + count
        for stage, (met, judged) in other.met.items():
            self.met[stage][0] += met
            self.met[stage][1] += judged
        for mine, theirs in zip(self.values, other.values, strict=True):
            mine.extend(theirs)

    def figures(self) -> dict[str, Any]:
        for found in self.values:
            found.sort()
        decided = sum(self.decisions.values())
        long_and_answered = self.answered + self.abandoned
        return {
            "received": self.received,
            "answered": self.answered,
            "answered_within_60s": self.answered_within_60s,
            "abandoned": self.abandoned,
            "short_abandoned": self.short_abandoned,
            "escalated": dict(self.escalated),
            "decisions": dict(self.decisions),
            "snp_oriented": self.snp,
            "snp_share": _ratio(self.snp, decided),
            "service_level": {
                "answered": _ratio(self.answered_within, self.answered),
                "with_abandoned": _ratio(
                    self.answered_within + self.abandoned_within, long_and_answered
                ),
            },
            "met": {stage: _ratio(*self.met[stage]) for stage in MET_STAGES},
            "median_s": {
                stage: percentile_cont(self.values[i], 0.5) for i, stage in enumerate(STAGES)
            },
            "p90_s": {
                stage: percentile_cont(self.values[i], 0.9) for i, stage in enumerate(STAGES)
            },
        }


def summarize(rows: Iterable[Row[Any]]) -> dict[str, Any]:
    """The summary figures of a set of calls."""
    tally = Tally()
    for r in rows:
        tally.add(r)
    return tally.figures()


def _breakdowns(rows: Sequence[Row[Any]]) -> dict[str, Any]:
    """The summary and the by-day, by-hour (Europe/Paris), by-priority and by-track groups, in
    one pass over the rows."""
    summary = Tally()
    groups: dict[str, dict[Any, Tally]] = {
        "day": defaultdict(Tally),
        "hour": defaultdict(Tally),
        "priority": defaultdict(Tally),
        "track": defaultdict(Tally),
    }
    # Each call is added once, to its cell (UTC hour of arrival, priority, track); the cells
    # are then merged into the groups. Offsets change on the hour, so a UTC hour has one Paris
    # day and hour.
    cells: dict[tuple[datetime, str, str | None], Tally] = defaultdict(Tally)
    for r in rows:
        hour_start = r.arrived_at.replace(minute=0, second=0, microsecond=0)
        cells[(hour_start, r.priority, r.track)].add(r)
    by_utc_hour: dict[datetime, Tally] = defaultdict(Tally)
    for (hour_start, priority, track), cell in cells.items():
        by_utc_hour[hour_start].merge(cell)
        groups["priority"][priority].merge(cell)
        groups["track"][track].merge(cell)
    for hour_start, cell in by_utc_hour.items():
        paris = hour_start.astimezone(PARIS)
        summary.merge(cell)
        groups["day"][paris.date().isoformat()].merge(cell)
        groups["hour"][paris.hour].merge(cell)

    def listed(name: str) -> list[dict[str, Any]]:
        found = groups[name]
        ordered = sorted(found, key=lambda k: (k is None, k if k is not None else ""))
        return [{name: key, **found[key].figures()} for key in ordered]

    return {
        "summary": summary.figures(),
        "by_day": listed("day"),
        "by_hour": listed("hour"),
        "by_priority": listed("priority"),
        "by_track": listed("track"),
    }


def _by_agent(rows: Sequence[Row[Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    parts: dict[str, dict[str, list[Row[Any]]]] = defaultdict(lambda: {"arm": [], "reg": []})
    for r in rows:
        if r.arm_agent:
            parts[r.arm_agent]["arm"].append(r)
        if r.regulator_agent:
            parts[r.regulator_agent]["reg"].append(r)
    result = []
    for agent in sorted(parts, key=lambda a: (names.get(a, a), a)):
        as_arm, as_regulator = parts[agent]["arm"], parts[agent]["reg"]
        arm_talk = sorted(r.arm_talk_s for r in as_arm if r.arm_talk_s is not None)
        reg_talk = sorted(
            r.regulator_talk_s for r in as_regulator if r.regulator_talk_s is not None
        )
        decisions = dict.fromkeys(DECISION_TYPES, 0)
        for r in as_regulator:
            if r.decision:
                decisions[r.decision] = decisions.get(r.decision, 0) + 1
        result.append(
            {
                "agent": agent,
                "name": names.get(agent, agent),
                "calls": len({r.call_id for r in as_arm} | {r.call_id for r in as_regulator}),
                "arm_calls": len(as_arm),
                "regulator_calls": len(as_regulator),
                "escalated": sum(1 for r in as_arm if r.escalated_track),
                "decisions": decisions,
                "median_s": {
                    "arm_talk_s": percentile_cont(arm_talk, 0.5),
                    "regulator_talk_s": percentile_cont(reg_talk, 0.5),
                },
                "p90_s": {
                    "arm_talk_s": percentile_cont(arm_talk, 0.9),
                    "regulator_talk_s": percentile_cont(reg_talk, 0.9),
                },
            }
        )
    return result


def _agent_names(session: Session, rows: Sequence[Row[Any]]) -> dict[str, str]:
    """Display names of the agents in the rows (from the staff table, when it exists)."""
    ids = {a for r in rows for a in (r.arm_agent, r.regulator_agent) if a and a.isdigit()}
    if not ids:
        return {}
    from regulation.models import Staff

    try:
        found = session.execute(
            select(Staff.id, Staff.display_name, Staff.username).where(
                Staff.id.in_([int(i) for i in ids])
            )
        )
        return {str(i): display or username for i, display, username in found}
    except SQLAlchemyError as exc:
        session.rollback()
        log.warning("agents shown by id: staff names unreadable (%s)", type(exc).__name__)
        return {}


# -- the report -------------------------------------------------------------------------------


def load_rows(session: Session, start: datetime, end: datetime) -> list[Row[Any]]:
    query = (
        select(*_COLUMNS)
        .where(_H.arrived_at >= start, _H.arrived_at < end)
        .order_by(_H.arrived_at, _H.call_id)
    )
    return list(session.execute(query))


def call_json(row: Row[Any]) -> dict[str, Any]:
    met: dict[str, bool] = {}
    if row.arm_met is not None:
        met["arm_wait_s"] = bool(row.arm_met)
    if row.regulator_met is not None:
        met["regulator_wait_s"] = bool(row.regulator_met)
    callback = None
    if row.callback_requested_at is not None:
        callback = {
            "requested_at": iso(row.callback_requested_at),
            "attempts": row.callback_attempts,
            "first_attempt_s": row.callback_first_attempt_s,
            "connected_s": row.callback_connected_s,
        }
    return {
        "id": row.call_id,
        "call_sid": row.call_sid,
        "arrived_at": iso(row.arrived_at),
        "priority": row.priority,
        "track": row.track,
        "status": row.status,
        "stages": {stage: getattr(row, stage) for stage in STAGES},
        "met": met,
        "callback": callback,
    }


def handling_report(
    session: Session, *, start: datetime, end: datetime, include_calls: bool = True
) -> dict[str, Any]:
    """The contract's report object over calls that arrived in [start, end)."""
    rows = load_rows(session, start, end)
    return {
        "from": iso(start),
        "to": iso(end),
        "calls": [call_json(r) for r in rows] if include_calls else [],
        **_breakdowns(rows),
        "by_agent": _by_agent(rows, _agent_names(session, rows)),
    }


def report_csv(rows: Sequence[Row[Any]]) -> Iterator[str]:
    """One CSV row per call: id, call_sid, priority, track, status, then the stages (s)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for count, row in enumerate(rows, start=1):
        writer.writerow(
            [
                row.call_id,
                row.call_sid,
                row.priority,
                row.track or "",
                row.status,
                *("" if getattr(row, s) is None else getattr(row, s) for s in STAGES),
            ]
        )
        if count % 1000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def ars_indicators(
    session: Session, *, month: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """The monthly indicators a SAS sends its ARS."""
    rows = load_rows(session, start, end)
    summary = summarize(rows)
    return {
        "month": month,
        "from": iso(start),
        "to": iso(end),
        "calls_received": summary["received"],
        "answered": summary["answered"],
        "answered_within_60s": summary["answered_within_60s"],
        "abandoned": summary["abandoned"],
        "short_abandoned": summary["short_abandoned"],
        "escalated": summary["escalated"],
        "decisions": summary["decisions"],
        "snp_oriented": summary["snp_oriented"],
        "snp_share": summary["snp_share"],
        "service_level": summary["service_level"],
        "median_s": summary["median_s"],
        "p90_s": summary["p90_s"],
    }
