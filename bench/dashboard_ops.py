"""The supervisors' figures at size: `GET /api/queues` with 10, 1,000 and 10,000 waiting
calls (it must stay flat) and the Redis round trips and SQL statements each request makes,
the after-commit refresh a timeline change costs, and a month's handling-time report over
100,000 calls generated in bulk in the database."""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import redis
from flask import Flask

PREFIX = "benchdash"
WAITING_SIZES = (10, 1_000, 10_000)
SNAPSHOT_REPEATS = 200
MONTH_CALLS = 100_000
REPORT_REPEATS = 3
MONTH_START = datetime(2026, 8, 31, 22, 0, tzinfo=UTC)  # 1 September 2026, Paris
QUEUES = ("arm", "arm", "arm", "callback", "amu", "liberal")
PRIORITIES = ("P0", "P1", "P2", "P2", "P2", "P3", "NR")


def _thousands(n: int) -> str:
    return f"{n:,}".replace(",", " ")


def _stats_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"{min(ms):.2f} | {statistics.median(ms):.2f} | {max(ms):.2f}"


def _timed(action: Callable[[], Any], repeats: int) -> tuple[list[float], Any]:
    durations, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        durations.append(time.perf_counter() - started)
    return durations, result


@contextmanager
def _service(redis_url: str, database_url: str | None) -> Iterator[tuple[Flask, str]]:
    from flask_migrate import upgrade

    from app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        if database_url is None:
            url, label = f"sqlite:///{Path(tmp) / 'dashboards.db'}", "SQLite"
        else:
            from tests.conftest import _drop_everything

            _drop_everything(database_url)
            url, label = database_url, "PostgreSQL"
        app = create_app(
            {
                "DATABASE_URL": url,
                "REDIS_URL": redis_url,
                "SECRET_KEY": "bench",
                "TWILIO_ACCOUNT_SID": "AC" + "3" * 32,
                "TWILIO_AUTH_TOKEN": "bench-token",
            }
        )
        with app.app_context():
            upgrade()
        try:
            yield app, label
        finally:
            from runtime.db import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()


class _CountingConnection(redis.Connection):
    """A Redis connection that counts what it sends: one send per command, or per pipeline,
    is one round trip."""

    sent = 0

    def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        _CountingConnection.sent += 1
        super().send_packed_command(command, check_health)


def _bench_keys(app: Flask) -> None:
    """Point the app's queue store and live figures at the bench's own keys, through a
    client with the service's connection settings that counts its round trips."""
    from dashboards.keys import LiveKeys
    from dashboards.live import LiveStats
    from queues.store import CallQueues

    settings = app.extensions["redis"].connection_pool.connection_kwargs
    pool = redis.ConnectionPool(connection_class=_CountingConnection, **settings)
    client = redis.Redis(connection_pool=pool)
    app.extensions["redis"] = client
    app.extensions["call_queues"] = CallQueues(client, prefix=PREFIX)
    app.extensions["dashboards_live"] = LiveStats(client, keys=LiveKeys(PREFIX))


def _clear_bench_keys(app: Flask) -> None:
    client = app.extensions["redis"]
    for pattern in (f"{PREFIX}:*",):
        keys = list(client.scan_iter(pattern, count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])


#: The room on the books: a SAMU's day shift of ARMs and regulators.
ROOM = {"arm": 10, "regulator_amu": 3, "regulator_liberal": 3}


def _supervisor_headers(app: Flask) -> dict[str, str]:
    """A supervisor's bearer token, with the room's agents on the books beside them."""
    from regulation.auth import create_staff, issue_token
    from regulation.config import RegulationSettings
    from runtime.db import db, session

    settings = RegulationSettings(argon2_time_cost=1, argon2_memory_kib=64)
    with app.app_context():
        for role, count in ROOM.items():
            for n in range(count):
                create_staff(
                    session(),
                    settings,
                    username=f"bench-{role}-{n}",
                    role=role,
                    password="bench-pass",
                )
        staff = create_staff(
            session(), settings, username="bench-sup", role="supervisor", password="bench-pass"
        )
        token = issue_token(session(), settings, staff)
        db.session.commit()
        db.session.remove()
    return {"Authorization": f"Bearer {token}"}


# -- GET /api/queues ----------------------------------------------------------------------------


def _fill_queues(app: Flask, size: int, now: datetime, rng: random.Random) -> None:
    from dashboards.models import HandlingTime
    from queues.store import QueueEntry

    store = app.extensions["call_queues"]
    store.clear_all()
    entries = []
    for call_id in range(1, size + 1):
        entered = now - timedelta(seconds=rng.uniform(0, 1800))
        priority = rng.choice(PRIORITIES)
        target = 0 if priority == "P0" else rng.choice((30, 60, 120, 1200))
        entries.append(
            QueueEntry(
                call_id=call_id,
                queue=rng.choice(QUEUES),
                priority=priority,
                enqueued_at=entered,
                deadline=entered + timedelta(seconds=target),
            )
        )
    store.load(entries)
    # A day of answers and abandons in the live sets: their size is not the waiting calls'.
    stats = app.extensions["dashboards_live"]
    rows = []
    for call_id in range(1, 20_001):
        arrived = now - timedelta(seconds=rng.uniform(0, 86_000))
        answered = rng.random() < 0.85
        rows.append(
            HandlingTime(
                call_id=call_id,
                arrived_at=arrived,
                answered_at=arrived + timedelta(seconds=20) if answered else None,
                answer_wait_s=rng.uniform(1, 120) if answered else None,
                answer_met=rng.random() < 0.9,
                abandon_kind=None if answered else "long",
                abandoned_at=None if answered else arrived + timedelta(seconds=40),
                abandon_met=True,
            )
        )
    stats.rebuild(rows, now=now)


def bench_snapshot(app: Flask) -> list[str]:
    from sqlalchemy import event

    from runtime.clock import now
    from runtime.db import db

    rng = random.Random(5)
    headers = _supervisor_headers(app)
    client = app.test_client()
    with app.app_context():
        engine = db.engine
    lines = []
    for size in WAITING_SIZES:
        _fill_queues(app, size, now(), rng)
        first = client.get("/api/queues", headers=headers)
        if first.status_code != 200:
            raise RuntimeError(f"/api/queues answered {first.status_code}: {first.get_data()!r}")
        body = first.get_json()
        waiting = sum(sum(q["waiting"].values()) for q in body["queues"].values())
        if waiting != size:
            raise RuntimeError(f"snapshot counts {waiting} waiting calls, not {size}")
        statements = 0

        def count_statement(*_: Any) -> None:
            nonlocal statements
            statements += 1

        sent = _CountingConnection.sent
        event.listen(engine, "before_cursor_execute", count_statement)
        try:
            durations, _ = _timed(
                lambda: client.get("/api/queues", headers=headers), SNAPSHOT_REPEATS
            )
        finally:
            event.remove(engine, "before_cursor_execute", count_statement)
        trips = (_CountingConnection.sent - sent) / SNAPSHOT_REPEATS
        lines.append(
            f"| {_thousands(size)} | {len(body['breaches'])} | {trips:g} "
            f"| {statements / SNAPSHOT_REPEATS:g} | {_stats_ms(durations)} |"
        )
    return lines


# -- the after-commit refresh -------------------------------------------------------------------


def bench_refresh(app: Flask) -> tuple[str, str]:
    """What a timeline change costs its producer: one event committed, with the dashboards'
    commit hooks (row recomputed and upserted in the producer's transaction, mirrored live,
    change published) and without them."""
    from callflow.models import Call
    from callflow.service import move, open_call, record_event
    from callflow.states import CallStatus
    from runtime.db import db, session

    with app.app_context():
        call, _ = open_call(
            session(),
            call_sid="CA" + "f" * 32,
            caller_raw="+33612345678",
            dialled=None,
            line="public",
        )
        record_event(session(), call, type="menu_choice", data={"priority": "P2"})
        move(
            session(),
            call,
            CallStatus.QUEUED_ARM,
            event="queued",
            data={"queue": "arm", "priority": "P2"},
            queue="arm",
            priority="P2",
        )
        for n in range(8):
            record_event(session(), call, type="position_announced", data={"position": n})
        db.session.commit()
        call_id = call.id

        def commit_one_event() -> None:
            found = session().get(Call, call_id)
            assert found is not None
            record_event(session(), found, type="qualified", data={"priority": "P2"})
            db.session.commit()

        with_hooks, _ = _timed(commit_one_event, 300)
        marker = app.extensions.pop("dashboards")  # the hooks act only when it is there
        try:
            without, _ = _timed(commit_one_event, 300)
        finally:
            app.extensions["dashboards"] = marker
        db.session.remove()
    return _stats_ms(with_hooks), _stats_ms(without)


# -- a month's report ---------------------------------------------------------------------------


def _month_rows(rng: random.Random) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(calls row, handling_times row) for a month of calls."""
    span = 30 * 86_400
    for n in range(1_000_001, 1_000_001 + MONTH_CALLS):
        arrived = MONTH_START + timedelta(seconds=rng.uniform(0, span))
        priority = rng.choice(PRIORITIES)
        ivr = rng.uniform(3, 20)
        fate = rng.random()
        sid = f"CABENCH{n:025d}"
        call = {
            "id": n,
            "call_sid": sid,
            "line": "public",
            "status": "completed",
            "priority": priority,
            "menu_attempts": 0,
            "callback_offered": False,
            "repeat_caller": False,
            "arrived_at": arrived,
            "updated_at": arrived,
        }
        row: dict[str, Any] = {
            "call_id": n,
            "call_sid": sid,
            "arrived_at": arrived,
            "status": "completed",
            "priority": priority,
            "track": None,
            "line": "public",
            "ivr_s": round(ivr, 3),
            "track_changes": 0,
            "snp": False,
            "callback_attempts": 0,
            "last_event_id": n * 6,
            "computed_at": arrived,
            "arm_entered_at": arrived + timedelta(seconds=ivr),
            "arm_target_s": 60,
        }
        if fate < 0.08:
            waited = rng.uniform(1, 200)
            call["status"] = row["status"] = "abandoned"
            row.update(
                abandoned_after_s=round(waited, 3),
                abandon_kind="long" if waited >= 15 else "short",
                abandon_met=waited <= 60,
                abandoned_at=arrived + timedelta(seconds=ivr + waited),
                total_s=round(ivr + waited, 3),
            )
        else:
            wait = rng.expovariate(1 / 25)
            talk = rng.uniform(30, 240)
            answered = arrived + timedelta(seconds=ivr + wait)
            row.update(
                arm_wait_s=round(wait, 3),
                arm_met=wait <= 60,
                answered_at=answered,
                answer_wait_s=round(wait, 3),
                answer_met=wait <= 60,
                arm_talk_s=round(talk, 3),
                arm_agent=str(rng.randint(1, 40)),
            )
            total = ivr + wait + talk
            if fate < 0.6:
                track = "amu" if rng.random() < 0.4 else "liberal"
                reg_wait = rng.expovariate(1 / 300)
                reg_talk = rng.uniform(60, 600)
                total += reg_wait + reg_talk
                row.update(
                    track=track,
                    escalated_track=track,
                    regulator_wait_s=round(reg_wait, 3),
                    regulator_talk_s=round(reg_talk, 3),
                    regulation_priority=priority,
                    regulation_entered_at=answered + timedelta(seconds=talk),
                    regulator_target_s=1200,
                    regulator_met=reg_wait <= 1200,
                    regulator_agent=str(rng.randint(41, 60)),
                    decision=rng.choice(("CONSEIL", "PMT", "INTER", "ORIENT", "PASPLUS")),
                    time_to_decision_s=round(total, 3),
                    snp=rng.random() < 0.1,
                )
                call["track"] = track
            row["total_s"] = round(total, 3)
            row["ended_at"] = arrived + timedelta(seconds=total)
        yield call, row


def _fill_month(app: Flask) -> float:
    from sqlalchemy import insert

    from callflow.models import Call
    from dashboards.models import HandlingTime
    from runtime.db import db

    rng = random.Random(11)
    started = time.perf_counter()
    with app.app_context():
        calls, rows = [], []
        for call, row in _month_rows(rng):
            calls.append(call)
            rows.append(row)
            if len(calls) == 5_000:
                db.session.execute(insert(Call), calls)
                db.session.execute(insert(HandlingTime), rows)
                db.session.commit()
                calls, rows = [], []
        if calls:
            db.session.execute(insert(Call), calls)
            db.session.execute(insert(HandlingTime), rows)
            db.session.commit()
        db.session.remove()
    return time.perf_counter() - started


def bench_month(app: Flask) -> list[str]:
    from dashboards.reports import ars_indicators, handling_report, load_rows, report_csv
    from runtime.db import session

    filled = _fill_month(app)
    start, end = MONTH_START, MONTH_START + timedelta(days=30)
    lines = [
        f"- generating {_thousands(MONTH_CALLS)} calls and their rows in bulk: {filled:.1f} s",
        "",
    ]
    lines += ["| step | min ms | median ms | max ms |", "| --- | ---: | ---: | ---: |"]
    with app.app_context():
        db_session = session()

        def full() -> int:
            report = handling_report(db_session, start=start, end=end)
            return len(json.dumps(report))

        def summary_only() -> dict[str, Any]:
            return handling_report(db_session, start=start, end=end, include_calls=False)

        def csv_all() -> int:
            return sum(len(part) for part in report_csv(load_rows(db_session, start, end)))

        def ars() -> dict[str, Any]:
            return ars_indicators(db_session, month="2026-09", start=start, end=end)

        size = 0
        for label, action in (
            ("load the month's rows", lambda: len(load_rows(db_session, start, end))),
            ("report, JSON with every call (built + serialised)", full),
            ("report without the call list (summary and breakdowns)", summary_only),
            ("CSV, one row per call", csv_all),
            ("ARS monthly indicators", ars),
        ):
            durations, result = _timed(action, REPORT_REPEATS)
            if label.startswith("report, JSON"):
                size = int(result)
            lines.append(f"| {label} | {_stats_ms(durations)} |")
        received = ars()["calls_received"]
        db_session.close()
    if received != MONTH_CALLS:
        raise RuntimeError(f"the month counts {received} calls, not {MONTH_CALLS}")
    lines += [
        "",
        f"- JSON report size: {size / 1e6:.1f} MB for {_thousands(received)} calls",
    ]
    return lines


def run(redis_url: str, database_url: str | None = None) -> str:
    """The markdown section of `docs/benchmarks.md`."""
    with _service(redis_url, database_url) as (app, label):
        _bench_keys(app)
        _clear_bench_keys(app)
        try:
            snapshot = bench_snapshot(app)
            refresh = bench_refresh(app)
        finally:
            _clear_bench_keys(app)
        month = bench_month(app)
    lines = [
        "## Supervisors' dashboards",
        "",
        f"Database: {label}. `GET /api/queues` through the Flask test client (bearer token",
        "check included), the queue store filled with N waiting calls spread over the four",
        "queues and all priorities (many past their deadline: breaches listed, at most 100 per",
        "queue), the live sets holding a day of 20 000 calls, and 16 agents on the books",
        f"(10 ARMs, 3 AMU and 3 libéral regulators); {SNAPSHOT_REPEATS} requests per size.",
        "The cost must not grow with N: counters, bounded ranges and `ZCOUNT`s only.",
        "Redis round trips and SQL statements are counted over the same requests, per request",
        "(the token check's query included; the pool's liveness ping, BEGIN and ROLLBACK are",
        "not statements, and on PostgreSQL the snapshot sends neither).",
        "",
        "| waiting calls | breaches listed | Redis round trips | SQL statements "
        "| min ms | median ms | max ms |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        *snapshot,
        "",
        "What the dashboards' commit hooks (`dashboards.refresh`) cost a producer: committing",
        "one more timeline event of one call, 300 times with the hooks (its timeline growing",
        "from 12 to 312 events), then 300 times without:",
        "",
        "| commit of one event | min ms | median ms | max ms |",
        "| --- | ---: | ---: | ---: |",
        f"| with the hooks (row recomputed and upserted in the same transaction, mirrored in "
        f"Redis, change published) | {refresh[0]} |",
        f"| without them | {refresh[1]} |",
        "",
        f"A month's handling-time report over {_thousands(MONTH_CALLS)} calls (rows generated",
        f"directly in the database), {REPORT_REPEATS} runs each:",
        "",
        *month,
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    from runtime.embedded_redis import EmbeddedRedis

    server = EmbeddedRedis().start()
    try:
        print(run(server.url))
    finally:
        server.stop()
