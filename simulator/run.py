"""One simulated run: arrivals, callers, agents, then the summary and the reconciliation.

The run drives the service only through the emulator's phones and the staff API. At the end
it reads the calls' final statuses from the database (the record), to prove that every call
that entered is accounted for in exactly one final state.
"""

from __future__ import annotations

import csv
import random
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.states import TERMINAL

from .people import Agent, AgentPlan, CallRecord, Phones, caller_life
from .profile import Profile, arrival_gaps
from .stats import fmt_seconds, fmt_share, percentile, share, table

FINAL = {s.value for s in TERMINAL}


@dataclass(frozen=True)
class SimConfig:
    calls: int
    rate_per_s: float
    arm: int
    amu: int
    liberal: int
    seed: int = 7
    surge: float = 1.0
    #: Simulated durations (patience, talk, wrap-up) are divided by this.
    speed: float = 1.0
    to: str = "+33199000015"
    lease_seconds: float = 30.0
    drain_timeout_s: float = 600.0
    csv_path: Path | None = None


@dataclass
class SimResult:
    records: list[CallRecord]
    statuses: dict[str, str]
    lost: list[CallRecord]
    agent_errors: list[str]
    elapsed_s: float
    summary: dict[str, Any] = field(default_factory=dict)


def run_simulation(
    config: SimConfig,
    *,
    service_url: str,
    emulator_url: str,
    create_agent: Callable[[str, str, str], None],
    session_factory: Callable[[], Session],
    profile: Profile | None = None,
    progress: TextIO | None = sys.stderr,
) -> SimResult:
    profile = profile or Profile()
    rng = random.Random(config.seed)
    phones = Phones(emulator_url)
    started = time.monotonic()

    def clock() -> float:
        return time.monotonic() - started

    plans = _agents(config, create_agent)
    records: list[CallRecord] = []
    by_sid: dict[str, CallRecord] = {}
    stop = threading.Event()
    agents = [
        Agent(
            plan,
            service_url=service_url,
            phones=phones,
            records=by_sid,
            profile=profile,
            rng=random.Random(rng.random()),
            speed=config.speed,
            lease_seconds=config.lease_seconds,
            stop=stop,
            clock=clock,
        )
        for plan in plans
    ]
    for agent in agents:
        agent.start()
    # The shift is staffed before the first call: logins (a deliberately slow password hash)
    # do not compete with the first callers.
    for agent in agents:
        agent.ready.wait(timeout=120)
    started = time.monotonic()  # the run's clock starts with the first call
    callers: list[threading.Thread] = []
    gaps = arrival_gaps(rng, rate_per_s=config.rate_per_s * config.surge, calls=config.calls)
    sid_lock = threading.Lock()
    for index, gap in enumerate(gaps):
        time.sleep(gap)
        record = CallRecord(
            index=index,
            caller="+336" + f"{rng.randrange(10**8):08d}",
            menu_choice=profile.menu_choice(rng),
            patience_s=profile.patience.draw(rng),
        )
        records.append(record)

        def life(record: CallRecord = record) -> None:
            caller_life(
                record,
                phones,
                to=config.to,
                speed=config.speed,
                menu_wait_s=10,
                clock=clock,
                on_sid=lambda sid: _index(by_sid, sid_lock, sid, record),
            )

        thread = threading.Thread(target=life, name=f"caller-{index}", daemon=True)
        thread.start()
        callers.append(thread)
        _progress(progress, records, config.calls)
    deadline = time.monotonic() + config.drain_timeout_s
    for thread in callers:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    stop.set()
    for agent in agents:
        agent.join(timeout=30)
    statuses = _final_statuses(session_factory, records, wait_until=time.monotonic() + 30)
    for record in records:
        record.final_status = statuses.get(record.call_sid or "")
    lost = [r for r in records if r.final_status not in FINAL]
    result = SimResult(
        records=records,
        statuses=statuses,
        lost=lost,
        agent_errors=[f"{a.plan.username}: {e}" for a in agents for e in a.errors],
        elapsed_s=clock(),
    )
    result.summary = summarise(result)
    if progress is not None:
        progress.write("\n")
    if config.csv_path:
        write_csv(config.csv_path, records)
    return result


def _index(by_sid: dict[str, CallRecord], lock: threading.Lock, sid: str, rec: CallRecord) -> None:
    with lock:
        by_sid[sid] = rec


def _agents(config: SimConfig, create_agent: Callable[[str, str, str], None]) -> list[AgentPlan]:
    run = secrets.token_hex(3)
    plans = []
    for role, count in (
        ("arm", config.arm),
        ("regulator_amu", config.amu),
        ("regulator_liberal", config.liberal),
    ):
        for n in range(count):
            username = f"sim-{run}-{role}-{n + 1}"
            password = secrets.token_urlsafe(18)
            create_agent(username, role, password)
            plans.append(AgentPlan(username, password, role))
    return plans


def _final_statuses(
    session_factory: Callable[[], Session], records: list[CallRecord], *, wait_until: float
) -> dict[str, str]:
    """The database's status of each call of the run; waits a little for late callbacks."""
    sids = [r.call_sid for r in records if r.call_sid]
    while True:
        session = session_factory()
        try:
            found: dict[str, str] = {}
            for start in range(0, len(sids), 500):
                chunk = sids[start : start + 500]
                rows = session.execute(
                    select(Call.call_sid, Call.status).where(Call.call_sid.in_(chunk))
                )
                found.update({sid: status for sid, status in rows})
        finally:
            session.close()
        if all(found.get(s) in FINAL for s in sids) or time.monotonic() > wait_until:
            return found
        time.sleep(0.5)


def _progress(out: TextIO | None, records: list[CallRecord], total: int) -> None:
    if out is None:
        return
    done = len(records)
    width = 30
    filled = int(width * done / total) if total else width
    out.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} calls placed")
    out.flush()


def summarise(result: SimResult) -> dict[str, Any]:
    records = [r for r in result.records if r.call_sid]
    answered = [r for r in records if r.arm_answered_at is not None and r.dialled_at is not None]
    arm_waits = [r.arm_answered_at - r.dialled_at for r in answered]  # type: ignore[operator]
    regulated = [r for r in records if r.regulator_answered_at and r.escalated_at]
    regulator_waits = [
        r.regulator_answered_at - r.escalated_at  # type: ignore[operator]
        for r in regulated
    ]
    abandoned = [r for r in records if (r.outcome or "").startswith("abandoned")]
    outcomes = Counter(r.outcome or "none" for r in records)
    statuses = Counter(r.final_status or "missing" for r in records)
    return {
        "offered": len(records),
        "answered_by_arm": len(answered),
        "answered_within_60s": share(sum(1 for w in arm_waits if w <= 60), len(records)),
        "abandoned": share(len(abandoned), len(records)),
        "arm_wait_s": _quantiles(arm_waits),
        "regulator_wait_s": _quantiles(regulator_waits),
        "outcomes": dict(outcomes),
        "final_statuses": dict(statuses),
        "lost": len(result.lost),
        "elapsed_s": result.elapsed_s,
    }


def _quantiles(values: list[float]) -> dict[str, float | None]:
    return {q: percentile(values, v) for q, v in (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))}


def render(result: SimResult) -> str:
    s = result.summary
    waits = s["arm_wait_s"]
    rows = [
        ("calls offered", str(s["offered"])),
        ("answered by an ARM", str(s["answered_by_arm"])),
        ("answered by an ARM within 60 s", fmt_share(s["answered_within_60s"])),
        ("abandoned", fmt_share(s["abandoned"])),
        (
            "wait for an ARM p50 / p90 / p99 (s)",
            " / ".join(fmt_seconds(waits[k]) for k in ("p50", "p90", "p99")),
        ),
        (
            "wait for a regulator p50 / p90 / p99 (s)",
            " / ".join(fmt_seconds(s["regulator_wait_s"][k]) for k in ("p50", "p90", "p99")),
        ),
        ("duration of the run (s)", f"{s['elapsed_s']:.0f}"),
    ]
    parts = [
        table(rows, ("measure", "value")),
        "",
        table(sorted((k, str(v)) for k, v in s["outcomes"].items()), ("outcome", "calls")),
        "",
        table(
            sorted((k, str(v)) for k, v in s["final_statuses"].items()),
            ("final status in the database", "calls"),
        ),
        "",
    ]
    if result.lost:
        parts.append(f"LOST CALLS: {len(result.lost)}")
        for record in result.lost:
            parts.append(
                f"  call #{record.index} {record.call_sid}: status {record.final_status}"
                f" (simulator saw {record.outcome}, error {record.error})"
            )
    else:
        parts.append(f"reconciliation: all {s['offered']} calls are in exactly one final state")
    if result.agent_errors:
        parts.append(f"agent errors ({len(result.agent_errors)}):")
        parts.extend(f"  {e}" for e in result.agent_errors[:20])
    return "\n".join(parts)


def write_csv(path: Path, records: list[CallRecord]) -> None:
    columns = (
        "index",
        "call_sid",
        "call_id",
        "caller",
        "menu_choice",
        "patience_s",
        "dialled_at",
        "arm_answered_at",
        "arm_agent",
        "track",
        "regulator_answered_at",
        "regulator_agent",
        "outcome",
        "hung_up_at",
        "final_status",
        "error",
    )
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for record in records:
            writer.writerow([getattr(record, c) for c in columns])
