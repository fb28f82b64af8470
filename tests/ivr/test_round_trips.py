"""What the busiest webhooks send to the database and to Redis: the statements and commands
themselves, not timings (those are `make bench`'s). A new statement or round trip on these
paths is a choice to make knowingly."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import redis
from flask import Flask
from psycopg.pq import Trace, TransactionStatus
from redis.client import Monitor
from sqlalchemy import event

from runtime.clock import frozen, now
from runtime.db import db
from tests.conftest import TwilioWebhooks
from tests.helpers import call_params, new_sid


@contextmanager
def statements(app: Flask) -> Iterator[list[str]]:
    """The first words of each statement sent through the driver (BEGIN and COMMIT left
    out: SQLite's BEGIN IMMEDIATE is sent as a statement, PostgreSQL's is not)."""
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if not statement.startswith("BEGIN"):
            sent.append(" ".join(statement.split()[:3]).upper())

    event.listen(engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", note)


def test_a_new_call_costs_one_insert_and_its_handling_row(app: Flask, twilio: TwilioWebhooks):
    twilio.post("/twilio/voice/incoming", call_params(new_sid(), "+33612340001"))  # warm
    with statements(app) as sent:
        answer = twilio.post("/twilio/voice/incoming", call_params(new_sid(), "+33612340002"))
    assert answer.status_code == 200
    # The savepoint around the handling row is sent by the driver's cursor itself
    # (`runtime.db.driver_savepoint`): not seen here, one more round trip (`wire`, below).
    assert sent == [
        *_call_and_first_event(app),
        "INSERT INTO HANDLING_TIMES",  # returns whether the targets policy read before is whole
    ]


@contextmanager
def wire(app: Flask) -> Iterator[list[str]]:
    """PostgreSQL: the round trips the driver makes, as libpq's own trace of the protocol
    shows them: one item per answer the client waits for (the server's ReadyForQuery): the
    text of a plain query (BEGIN, SAVEPOINT, COMMIT…), or "statement" for a parameterised
    one, whatever it is (psycopg prepares those it sees often: their text is not resent).
    Every connection the pool hands out meanwhile is traced."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite runs in the process: no round trip to count")
    traced: list[Any] = []
    trips: list[str] = []
    with tempfile.TemporaryFile() as log:

        def trace(dbapi_connection: Any, *_: Any) -> None:
            dbapi_connection.pgconn.trace(log.fileno())
            flags = Trace.SUPPRESS_TIMESTAMPS | Trace.REGRESS_MODE
            dbapi_connection.pgconn.set_trace_flags(flags)
            traced.append(dbapi_connection)

        event.listen(engine, "checkout", trace)
        try:
            yield trips
        finally:
            event.remove(engine, "checkout", trace)
            for connection in traced:
                connection.pgconn.untrace()
        log.seek(0)
        sent: list[str] = []
        for line in log.read().decode().splitlines():
            # a message's first line: direction, length, type (a long query goes on below)
            side, _, message, *rest = [*line.split("\t"), "", ""]
            if side == "F" and message == "Query":
                sent.append(rest[0].strip().strip('"'))
            elif side == "F" and message == "Bind":
                sent.append("statement")
            elif side == "B" and message == "ReadyForQuery":
                trips.append(" + ".join(sent))
                sent = []


def test_a_new_call_is_five_round_trips_to_postgresql(app: Flask, twilio: TwilioWebhooks):
    """On the wire: the transaction, the call with its first event, the savepoint around
    the handling row, the row, the commit. COMMIT ends the savepoint: no RELEASE sent."""
    twilio.post("/twilio/voice/incoming", call_params(new_sid(), "+33612340007"))  # warm
    with wire(app) as trips:
        answer = twilio.post("/twilio/voice/incoming", call_params(new_sid(), "+33612340008"))
    assert answer.status_code == 200
    assert trips == ["BEGIN", "statement", "SAVEPOINT handling_times", "statement", "COMMIT"]


def test_a_menu_choice_is_nine_round_trips_to_postgresql(app: Flask, twilio: TwilioWebhooks):
    """The call locked, the redial looked up, the call's UPDATE, its events; the savepoint,
    the timeline read, the handling row; the commit, which ends the savepoint."""
    sid = new_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid, "+33612340009"))
    with wire(app) as trips:
        answer = twilio.post("/twilio/voice/menu", call_params(sid, "+33612340009", Digits="2"))
    assert answer.status_code == 200
    statements = ["statement"] * 4
    handling = ["SAVEPOINT handling_times", "statement", "statement"]
    assert trips == ["BEGIN", *statements, *handling, "COMMIT"]


def _call_and_first_event(app: Flask) -> list[str]:
    """The call (its caller's last call looked up by the same statement) and its first event:
    one data-modifying WITH on PostgreSQL, two INSERTs on SQLite, which has none."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            return ["WITH OPENED AS"]
    return ["INSERT INTO CALLS", "INSERT INTO CALL_EVENTS"]


def test_a_retried_incoming_reads_the_first_call_and_writes_nothing(
    app: Flask, twilio: TwilioWebhooks
):
    sid = new_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid))
    with statements(app) as sent:
        answer = twilio.post("/twilio/voice/incoming", call_params(sid))
    assert answer.status_code == 200
    # the INSERT finds the CallSid taken and writes nothing, not even the event
    assert sent == [_call_and_first_event(app)[0], "SELECT CALLS.ID, CALLS.CALL_SID,"]


def test_a_menu_choice_writes_once_at_its_commit(app: Flask, twilio: TwilioWebhooks):
    sid = new_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid, "+33612340003"))
    with statements(app) as sent:
        answer = twilio.post("/twilio/voice/menu", call_params(sid, "+33612340003", Digits="2"))
    assert answer.status_code == 200
    writes = [s for s in sent if s.startswith(("INSERT", "UPDATE"))]
    # one UPDATE of the call; its two events (menu choice, queued) in one statement on
    # PostgreSQL, two on SQLite; then its handling row
    assert writes[0] == "UPDATE CALLS SET" and writes[-1] == "INSERT INTO HANDLING_TIMES"
    assert set(writes[1:-1]) == {"INSERT INTO CALL_EVENTS"}
    reads = [s for s in sent if s.startswith("SELECT")]
    # the call locked, the caller's redial looked up, the timeline (the policy's fingerprint
    # comes back with the handling row)
    assert len(reads) == 3


def test_a_first_hold_reads_the_call_and_writes_its_announcement_and_queue_once(
    app: Flask, twilio: TwilioWebhooks
):
    sid = new_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid, "+33612340004"))
    twilio.post("/twilio/voice/menu", call_params(sid, "+33612340004", Digits="2"))
    with statements(app) as sent:
        answer = twilio.post("/twilio/voice/hold", call_params(sid, QueueSid="QU" + "5" * 32))
    assert answer.status_code == 200
    # the hold loop's read, then, as there is something to write, the call loaded; the
    # Twilio queue and `updated_at` in one UPDATE, the announcement (an inert event: no
    # handling row)
    assert sent == [
        "SELECT CALLS.ID, CALLS.STATUS,",
        "SELECT CALLS.ID, CALLS.CALL_SID,",
        "INSERT INTO CALL_EVENTS",
        "UPDATE CALLS SET",
    ]


def test_a_hold_request_with_nothing_to_say_reads_once_outside_a_transaction(
    app: Flask, twilio: TwilioWebhooks
):
    """Between two announcements the hold loop sends one SELECT and nothing else; on
    PostgreSQL in autocommit (no BEGIN, no COMMIT: the server reports no transaction open
    after it). The next announcement writes inside a transaction again."""
    sid = new_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid, "+33612340006"))
    twilio.post("/twilio/voice/menu", call_params(sid, "+33612340006", Digits="2"))
    queue = {"QueueSid": "QU" + "6" * 32}
    assert "<Say" in twilio.post("/twilio/voice/hold", call_params(sid, **queue)).text
    with app.app_context():
        engine = db.engine
    open_after: list[bool] = []

    def after(connection: Any, *_: Any) -> None:
        raw = connection.connection.dbapi_connection
        if engine.dialect.name == "postgresql":
            open_after.append(raw.info.transaction_status != TransactionStatus.IDLE)
        else:
            open_after.append(raw.in_transaction)

    event.listen(engine, "after_cursor_execute", after)
    try:
        with statements(app) as sent:
            answer = twilio.post("/twilio/voice/hold", call_params(sid, **queue))
        silent = list(open_after)
        open_after.clear()
        with frozen(now() + timedelta(seconds=60)), statements(app) as announced:
            assert "<Say" in twilio.post("/twilio/voice/hold", call_params(sid, **queue)).text
        writing = list(open_after)
    finally:
        event.remove(engine, "after_cursor_execute", after)
    assert answer.status_code == 200 and "<Say" not in answer.text
    assert sent == ["SELECT CALLS.ID, CALLS.STATUS,"]
    # SQLite keeps its transaction around the read: there BEGIN costs no round trip
    assert set(silent) == {engine.dialect.name != "postgresql"}
    assert "INSERT INTO CALL_EVENTS" in announced and writing[-1] is True


@contextmanager
def redis_commands(redis_url: str) -> Iterator[list[str]]:
    """The commands clients send Redis meanwhile, as MONITOR reports them: one per round
    trip (a pipeline's commands are listed one by one), those a script runs left out."""
    seen: list[str] = []
    done = threading.Event()
    watcher = redis.Redis.from_url(redis_url, decode_responses=True)
    stopper = redis.Redis.from_url(redis_url)
    stopper.ping()  # connected before: its handshake is not counted

    def watch(monitor: Monitor) -> None:
        for command in monitor.listen():
            if command["command"] == "ECHO monitor-stop":
                break
            if command["client_type"] != "lua":
                seen.append(command["command"].split()[0].upper())
        done.set()

    with watcher.monitor() as monitor:
        thread = threading.Thread(target=watch, args=(monitor,), daemon=True)
        thread.start()
        try:
            yield seen
        finally:
            stopper.echo("monitor-stop")
            done.wait(10)
    watcher.close()
    stopper.close()


def test_a_hold_request_asks_redis_once(app: Flask, twilio: TwilioWebhooks, redis_url: str):
    sid = new_sid()
    twilio.post("/twilio/voice/incoming", call_params(sid, "+33612340005"))
    twilio.post("/twilio/voice/menu", call_params(sid, "+33612340005", Digits="2"))
    with redis_commands(redis_url) as announced:
        assert "<Say" in twilio.post("/twilio/voice/hold", call_params(sid)).text
    with redis_commands(redis_url) as silent:
        assert "<Say" not in twilio.post("/twilio/voice/hold", call_params(sid)).text
    # one script decides, marks and reads the place and the recent answers, whether the
    # caller hears them or not
    assert announced == ["EVALSHA"] and silent == ["EVALSHA"]
