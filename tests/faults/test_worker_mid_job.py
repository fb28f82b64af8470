"""The RQ worker killed with SIGKILL in the middle of a job: the lease job (queues/leases.py)
had already taken the expired lease out of Redis and was waiting to write the return in the
database when it died. The queue sweep gives the lease back (the database still says held),
the next lease job returns the call, and the return happens exactly once. (Written by a
helper against its own process harness, ported to this one.)"""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import Connection, create_engine, text

from tests.helpers import ON_POSTGRESQL, wait_for

from .conftest import Stack
from .test_process_faults import _events

pytestmark = ON_POSTGRESQL


def blocked_on_a_call(watch: Connection) -> bool:
    """Someone waits for a call's row lock (its own transaction: the statistics views keep
    one snapshot per transaction)."""
    waiting = watch.execute(
        text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND query LIKE '%FROM calls%FOR UPDATE%'"
        )
    ).scalar()
    watch.rollback()
    return bool(waiting)


def test_a_worker_killed_mid_job_returns_the_call_once(stack: Stack, database_url: str) -> None:
    stack.place_calls(2)
    calls = stack.waiting_ids()  # in service order
    agent = stack.cluster.agent("arm", 0)
    assert agent.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    assert agent.call("POST", "/api/agents/me/next").json()["call"]["id"] == calls[0]
    # The caller is talking to the agent: no webhook of theirs touches the call's row now.
    wait_for(lambda: "connected" in _events(stack, calls[0]), timeout=30)
    worker = stack.others[0]

    engine = create_engine(database_url)
    try:
        # The test holds the call's row: the lease job that comes for it blocks in the middle,
        # after Redis gave the expired lease up, before the database knows.
        with engine.connect() as lock, engine.connect() as watch:
            lock.execute(text("SELECT id FROM calls WHERE id = :id FOR UPDATE"), {"id": calls[0]})
            wait_for(lambda: blocked_on_a_call(watch) and stack.index() == (calls, {}), timeout=30)
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
            lock.rollback()
    finally:
        engine.dispose()

    time.sleep(1)  # the killed job's connection is gone; nothing of it was committed
    assert _events(stack, calls[0]).count("lease_expired") == 0
    stack.start_worker()
    restarted = time.monotonic()
    wait_for(lambda: _events(stack, calls[0]).count("lease_expired") == 1, timeout=60)
    print(f"call returned {time.monotonic() - restarted:.1f} s after a new worker started")
    wait_for(lambda: stack.index() == (calls, {}), timeout=10)
    other = stack.cluster.agent("arm", 0)
    assert other.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    assert other.call("POST", "/api/agents/me/next").json()["call"]["id"] == calls[0]
    assert _events(stack, calls[0]).count("lease_expired") == 1
