"""`GET /api/queues`: the live snapshot equals the database's truth after a run of calls
placed through the signed webhooks, answered, escalated, decided and abandoned."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from callflow.models import Call, CallEvent
from dashboards import refresh
from dashboards.models import HandlingTime
from dashboards.snapshot import BREACHES_PER_QUEUE, HOLD_QUEUES
from queues.access import call_queues
from queues.store import QueueEntry
from runtime.clock import frozen, now
from runtime.db import db
from tests.dashboards.helpers import T0, call_id_of, decide, escalate, take
from tests.helpers import new_sid
from tests.ivr.test_incoming import dial, press
from tests.ivr.test_waiting import hang_up

PRIORITY_KEYS = {"1": "P0", "2": "P2", "": "P1"}
CONTRACT_KEYS = {
    "at",
    "queues",
    "agents",
    "service_level",
    "abandonment_rate",
    "calls_per_hour",
    "breaches",
    "surge",
}


def place(twilio, *, digits: str, caller: str) -> str:
    sid = new_sid()
    dial(twilio, sid, caller=caller)
    press(twilio, sid, digits=digits, caller=caller)
    return sid


def truth(app, moment):
    """The figures computed straight from the calls and their timelines."""
    with app.app_context():
        calls = db.session.scalars(select(Call)).all()
        events = db.session.scalars(select(CallEvent).order_by(CallEvent.at, CallEvent.id)).all()
        first_queued, first_connected = {}, {}
        for e in events:
            if e.type in ("queued",) and e.call_id not in first_queued:
                first_queued[e.call_id] = e.at
            if e.type == "connected" and e.call_id not in first_connected:
                first_connected[e.call_id] = e.at
        waiting: dict[str, dict[str, int]] = {
            q: dict.fromkeys(("P0", "P1", "P2", "P3", "NR"), 0)
            for q in ("arm", "callback", "amu", "liberal")
        }
        entries: dict[str, list[datetime]] = {q: [] for q in waiting}
        breaches = set()
        for c in calls:
            if c.status in ("queued_arm", "queued_regulation", "callback_pending"):
                queue, entered, deadline = str(c.queue), c.enqueued_at, c.deadline
                assert entered is not None and deadline is not None
                waiting[queue][c.priority] += 1
                entries[queue].append(entered)
                if queue != "callback" and deadline <= moment:
                    breaches.add((c.id, c.priority, queue))
        oldest = {q: min(found, default=None) for q, found in entries.items()}
        windows = {}
        for name, seconds in (("15m", 900), ("1h", 3600), ("24h", 86400)):
            since = moment - timedelta(seconds=seconds)
            answered = [c for c, at in first_connected.items() if since < at <= moment]
            within = [
                c for c in answered if (first_connected[c] - first_queued[c]).total_seconds() <= 60
            ]
            waits = {
                c.id: (c.ended_at - c.enqueued_at).total_seconds()
                for c in calls
                if c.status == "abandoned"
                and c.enqueued_at is not None
                and c.ended_at is not None
                and since < c.ended_at <= moment
            }
            abandoned = [i for i, waited in waits.items() if waited >= 15]
            abandoned_within = [i for i in abandoned if waits[i] <= 60]
            total = len(answered) + len(abandoned)
            windows[name] = {
                "sl": len(within) / len(answered) if answered else None,
                "sl2": (len(within) + len(abandoned_within)) / total if total else None,
                "abandon": len(abandoned) / total if total else None,
            }
        arrived = sum(1 for c in calls if moment - timedelta(hours=1) < c.arrived_at <= moment)
        db.session.remove()
    return waiting, oldest, breaches, windows, arrived


def test_the_snapshot_is_the_database_truth_after_a_run_of_calls(
    app, twilio, client, staff_headers
):
    staff_headers("arm", "arm-dispo", presence="available")
    staff_headers("arm", "arm-pause", presence="paused")
    staff_headers("regulator_amu", "amu-1", presence="busy")
    staff_headers("osnp", "osnp-1")  # never set: offline
    headers = staff_headers("arm", "arm-lecteur", presence="wrap_up")  # an ARM may read it
    with frozen(T0) as clock:
        # An hour ago: two answered within 60 s, one late, one long abandon.
        early = [place(twilio, digits="2", caller=f"+3361000000{i}") for i in range(4)]
        clock.advance(20)
        take(app, call_id_of(app, early[0]), agent_id=101)
        clock.advance(30)
        take(app, call_id_of(app, early[1]), agent_id=102)
        escalate(app, call_id_of(app, early[0]), track="amu", priority="P1")
        clock.advance(40)  # 90 s
        take(app, call_id_of(app, early[2]), agent_id=103)
        hang_up(twilio, early[3], caller="+336100000003")  # long abandon after 90 s
        take(app, call_id_of(app, early[0]), agent_id=201)
        decide(app, call_id_of(app, early[0]), outcome="ORIENT", orientation="CABINET")
        clock.advance(40 * 60)
        # Now: a short abandon, an answered call, and calls still waiting.
        short = place(twilio, digits="2", caller="+33610000010")
        clock.advance(5)
        hang_up(twilio, short, caller="+33610000010")
        answered = place(twilio, digits="", caller="+33610000011")  # P1
        clock.advance(10)
        take(app, call_id_of(app, answered), agent_id=104)
        vital = place(twilio, digits="1", caller="+33610000012")  # P0: a breach at once
        late = place(twilio, digits="2", caller="+33610000013")
        clock.advance(70)  # the P2 is past its 60 s
        fresh = place(twilio, digits="2", caller="+33610000014")
        clock.advance(3)
        moment = now()
        body = client.get("/api/queues", headers=headers).get_json()

    assert set(body) == CONTRACT_KEYS
    assert body["at"] == moment.isoformat().replace("+00:00", "Z")
    waiting, oldest, breaches, windows, arrived = truth(app, moment)
    for queue, state in body["queues"].items():
        assert state["waiting"] == waiting[queue], queue
        expected = (moment - oldest[queue]).total_seconds() if oldest[queue] else None
        assert state["oldest_wait_s"] == (round(expected, 1) if expected is not None else None)
    assert body["queues"]["arm"]["waiting"] == {"P0": 1, "P1": 0, "P2": 2, "P3": 0, "NR": 0}
    assert {(b["call_id"], b["priority"], b["queue"]) for b in body["breaches"]} == breaches
    assert [b["call_id"] for b in body["breaches"]] == [
        call_id_of(app, vital),
        call_id_of(app, late),
    ]  # the P0 first
    assert body["breaches"][0]["target_s"] == 0 and body["breaches"][1]["target_s"] == 60
    assert body["breaches"][1]["waited_s"] == 73.0
    assert call_id_of(app, fresh) not in {b["call_id"] for b in body["breaches"]}
    for name in ("15m", "1h", "24h"):
        assert body["service_level"][name]["answered"] == pytest.approx(windows[name]["sl"])
        assert body["service_level"][name]["with_abandoned"] == pytest.approx(windows[name]["sl2"])
        assert body["abandonment_rate"][name] == pytest.approx(windows[name]["abandon"])
    # The 15-minute window holds only the recent answer (the short abandon is out of it).
    assert body["service_level"]["15m"] == {"answered": 1.0, "with_abandoned": 1.0}
    assert body["abandonment_rate"]["15m"] == 0.0
    # The hour: 3 answered within 60 s (two of the early ones, the recent one), one late
    # (90 s), one abandon after 90 s (not within the target).
    assert body["service_level"]["1h"]["answered"] == pytest.approx(3 / 4)
    assert body["service_level"]["1h"]["with_abandoned"] == pytest.approx(3 / 5)
    assert body["abandonment_rate"]["1h"] == pytest.approx(1 / 5)
    assert body["calls_per_hour"] == arrived == 9
    assert body["agents"]["arm"] == {
        "available": 1,
        "busy": 0,
        "wrap_up": 1,
        "paused": 1,
        "offline": 0,
    }
    assert body["agents"]["regulator_amu"]["busy"] == 1
    assert body["agents"]["osnp"]["offline"] == 1
    assert body["surge"] is False


def test_live_figures_come_back_from_the_database_after_redis_lost_them(
    app, twilio, client, supervisor
):
    with frozen(T0) as clock:
        sid = place(twilio, digits="2", caller="+33610000020")
        clock.advance(30)
        take(app, call_id_of(app, sid), agent_id=1)
        before = client.get("/api/queues", headers=supervisor).get_json()
        assert before["service_level"]["15m"]["answered"] == 1.0
        redis = app.extensions["redis"]
        for key in redis.scan_iter("sas:{d}:*"):
            redis.delete(key)
        after = client.get("/api/queues", headers=supervisor).get_json()
    assert after["service_level"] == before["service_level"]
    assert after["calls_per_hour"] == before["calls_per_hour"] == 1


def test_the_snapshot_shows_the_surge_switch_with_or_without_agents_on_the_books(
    client, supervisor, staff_headers
):
    def surge() -> bool:
        body = client.get("/api/queues", headers=supervisor).get_json()
        return bool(body["surge"])

    # Only the supervisor exists: no agent row to carry the switch, asked on its own.
    assert surge() is False
    assert client.post("/api/surge", json={"active": True}, headers=supervisor).status_code == 200
    assert surge() is True
    staff_headers("arm")
    staff_headers("regulator_liberal")
    assert surge() is True  # now read with the agents by role
    client.post("/api/surge", json={"active": False}, headers=supervisor)
    assert surge() is False
    client.post("/api/surge", json={"active": True}, headers=supervisor)
    assert surge() is True


def test_the_snapshot_reads_outside_a_transaction_and_writes_stay_in_one(app, client, supervisor):
    """On PostgreSQL the polled snapshot sends its statements in autocommit (no BEGIN, no
    ROLLBACK): the server reports no transaction open after each of them. A write on the
    same pooled connection right after is back inside a transaction."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite keeps its transactions: they cost no round trip")
    from psycopg.pq import TransactionStatus
    from sqlalchemy import event

    seen: list[TransactionStatus] = []

    def after(connection: Any, *_: Any) -> None:
        seen.append(connection.connection.dbapi_connection.info.transaction_status)

    event.listen(engine, "after_cursor_execute", after)
    try:
        assert client.get("/api/queues", headers=supervisor).status_code == 200
        read = list(seen)
        seen.clear()
        assert (
            client.post("/api/surge", json={"active": True}, headers=supervisor).status_code == 200
        )
        written = list(seen)
    finally:
        event.remove(engine, "after_cursor_execute", after)
    assert len(read) >= 2  # the token check, the room (and the live figures, rebuilt here)
    assert set(read) == {TransactionStatus.IDLE}
    assert TransactionStatus.INTRANS in written and TransactionStatus.IDLE not in written


def test_every_staff_role_reads_the_snapshot_and_nobody_else(app, client, staff_headers):
    assert client.get("/api/queues").status_code == 401
    for role in ("arm", "regulator_amu", "regulator_liberal", "osnp", "supervisor", "admin"):
        assert client.get("/api/queues", headers=staff_headers(role)).status_code == 200


def test_handling_rows_follow_every_commit_of_a_timeline(app, twilio):
    with frozen(T0) as clock:
        sid = new_sid()
        dial(twilio, sid, caller="+33610000030")
        call_id = call_id_of(app, sid)
        with app.app_context():
            # the first event goes in without the unit of work: its row is written all the same
            row = db.session.get(HandlingTime, call_id)
            assert (row.status, row.arrived_at, row.ivr_s) == ("ivr", T0, None)
            db.session.remove()
        clock.advance(3)
        press(twilio, sid, digits="2", caller="+33610000030")
        with app.app_context():
            row = db.session.get(HandlingTime, call_id)
            assert row.status == "queued_arm" and row.ivr_s is not None
            assert row.arm_wait_s is None
            db.session.remove()
        clock.advance(42)
        take(app, call_id, agent_id=5)
    with app.app_context():
        row = db.session.get(HandlingTime, call_id)
        assert (row.arm_wait_s, row.arm_met, row.arm_agent) == (42.0, True, "5")
        events = db.session.scalars(select(CallEvent.id).where(CallEvent.call_id == call_id))
        assert row.last_event_id == max(events)


def test_metrics_count_the_agents_by_role_and_status(client, staff_headers):
    staff_headers("arm", "arm-m1", presence="available")
    staff_headers("arm", "arm-m2", presence="available")
    staff_headers("regulator_liberal", "lib-m1", presence="paused")
    text = client.get("/metrics").get_data(as_text=True)
    assert 'sas_agents{role="arm",status="available"} 2.0' in text
    assert 'sas_agents{role="regulator_liberal",status="paused"} 1.0' in text
    assert 'sas_agents{role="osnp",status="offline"} 0.0' in text


def test_a_missed_refresh_is_repaired_by_the_periodic_job(app, twilio, client, supervisor):
    from dashboards.refresh import live_stats, refresh_stale, stale_call_ids

    with frozen(T0) as clock:
        sid = place(twilio, digits="2", caller="+33610000040")
        call_id = call_id_of(app, sid)
        clock.advance(20)
        take(app, call_id, agent_id=6)
        with app.app_context():
            # As if the after-commit refresh had failed: the row lags behind its timeline.
            db.session.execute(
                HandlingTime.__table__.update()
                .where(HandlingTime.call_id == call_id)
                .values(last_event_id=1, answered_at=None, arm_wait_s=None)
            )
            db.session.commit()
            assert stale_call_ids(db.session) == [call_id]
            assert refresh_stale(db.session, live_stats(app)) == 1
            assert stale_call_ids(db.session) == []
            assert db.session.get(HandlingTime, call_id).arm_wait_s == 20.0
            db.session.remove()


def test_a_failing_refresh_never_fails_the_producer(app, twilio, monkeypatch):
    from dashboards import refresh

    def broken(*_args, **_kwargs):
        raise RuntimeError("arithmetic bug")

    monkeypatch.setattr(refresh, "compute_handling", broken)
    sid = place(twilio, digits="2", caller="+33610000050")  # answers TwiML as usual
    call_id = call_id_of(app, sid)
    with app.app_context():
        assert db.session.get(Call, call_id).status == "queued_arm"
        assert db.session.get(HandlingTime, call_id) is None
        monkeypatch.undo()
        assert refresh.stale_call_ids(db.session) == [call_id]
        refresh.refresh_stale(db.session, refresh.live_stats(app))
        assert db.session.get(HandlingTime, call_id).status == "queued_arm"
        db.session.remove()


def test_a_handling_row_the_database_refuses_never_fails_the_producer(app, twilio):
    """The upsert fails in the database itself (a trigger refuses the row): on PostgreSQL
    that aborts the whole transaction unless the savepoint around the upsert is rolled
    back; the call and its events are committed all the same."""
    with app.app_context():
        dialect = db.engine.dialect.name
        if dialect == "postgresql":
            ddl = [
                "CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'handling row refused'; END $$",
                "CREATE TRIGGER refuse_handling BEFORE INSERT ON handling_times "
                "FOR EACH ROW EXECUTE FUNCTION refuse_row()",
            ]
            undo = ["DROP TRIGGER refuse_handling ON handling_times", "DROP FUNCTION refuse_row"]
        else:
            ddl = [
                "CREATE TRIGGER refuse_handling BEFORE INSERT ON handling_times "
                "BEGIN SELECT RAISE(ABORT, 'handling row refused'); END"
            ]
            undo = ["DROP TRIGGER refuse_handling"]
        with db.engine.begin() as connection:
            for statement in ddl:
                connection.exec_driver_sql(statement)
    try:
        sid = place(twilio, digits="2", caller="+33610000051")  # answers TwiML as usual
        call_id = call_id_of(app, sid)
        with app.app_context():
            call = db.session.get(Call, call_id)
            assert call is not None and call.status == "queued_arm"
            events = db.session.scalars(select(CallEvent.type).where(CallEvent.call_id == call_id))
            assert {"arrived", "queued"} <= set(events)
            assert db.session.get(HandlingTime, call_id) is None
            db.session.remove()
    finally:
        with app.app_context(), db.engine.begin() as connection:
            for statement in undo:
                connection.exec_driver_sql(statement)
    with app.app_context():
        refresh.refresh_stale(db.session, refresh.live_stats(app))
        assert db.session.get(HandlingTime, call_id).status == "queued_arm"
        db.session.remove()


def test_breaches_at_size_are_each_hold_queues_most_urgent_in_order(app, client, supervisor):
    """Hundreds of overdue calls: each hold queue lists its first 100 in service order, the
    callback queue none, with the figures the store's own entries give."""
    rng = random.Random(3)
    moment = T0 + timedelta(seconds=0.123456)  # a moment finer than the store's ms
    sizes = {"arm": 260, "amu": 120, "liberal": 7, "callback": 40}
    entries: list[QueueEntry] = []
    for queue, size in sizes.items():
        for _ in range(size):
            entered = T0 - timedelta(milliseconds=rng.randrange(1, 3_600_000))
            priority = rng.choice(("P0", "P1", "P2", "P3", "NR"))
            target = timedelta(seconds=0 if priority == "P0" else rng.choice((30, 60, 1200)))
            entries.append(QueueEntry(len(entries) + 1, queue, priority, entered, entered + target))
    with app.app_context():
        store = call_queues()
        store.load(entries)
        overdue = {q: store.overdue(q, now=moment, limit=BREACHES_PER_QUEUE) for q in HOLD_QUEUES}
    with frozen(moment):
        body = client.get("/api/queues", headers=supervisor).get_json()

    expected: list[dict[str, Any]] = [
        {
            "call_id": e.call_id,
            "priority": e.priority,
            "queue": e.queue,
            "waited_s": round((moment - e.enqueued_at).total_seconds(), 1),
            "target_s": round((e.deadline - e.enqueued_at).total_seconds()),
        }
        for queue in HOLD_QUEUES
        for e in overdue[queue]
    ]
    expected.sort(key=lambda b: (b["priority"] != "P0", -(b["waited_s"] - b["target_s"])))
    assert body["breaches"] == expected
    listed = {q: sum(b["queue"] == q for b in body["breaches"]) for q in sizes}
    assert listed == {**{q: len(overdue[q]) for q in HOLD_QUEUES}, "callback": 0}
    assert listed["arm"] == listed["amu"] == BREACHES_PER_QUEUE  # the bound, not the load
    assert all(b["waited_s"] >= b["target_s"] for b in body["breaches"])
    assert sum(sum(q["waiting"].values()) for q in body["queues"].values()) == len(entries)
