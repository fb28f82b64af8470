"""The database unreachable for a few seconds (a TCP proxy between the service and
PostgreSQL cuts every connection and refuses new ones) while callers keep arriving: webhooks
answer the fallback TwiML, staff get a 503 JSON answer, and afterwards the service recovers by
itself with nothing half-written: every call row agrees with its timeline and Redis agrees
with the database. (Written by a helper against its own process harness, ported here.)"""

from __future__ import annotations

import threading
import time

import pytest
import requests
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from callflow.models import Call
from queues.access import call_queues
from queues.reconcile import drift
from runtime.db import db
from tests.conftest import PUBLIC_NUMBER
from tests.helpers import ON_POSTGRESQL, call_params, new_sid, wait_for

from .conftest import Stack, twiml_of

pytestmark = [
    *ON_POSTGRESQL,
    pytest.mark.database_proxy,
]


def disagreements(stack: Stack) -> list[str]:
    """Calls whose row says something their timeline does not, and Redis drift."""
    found = []
    with stack.app.app_context():
        calls = db.session.scalars(select(Call).options(selectinload(Call.events))).all()
        for call in calls:
            moves = [e.data["to"] for e in call.events if "to" in (e.data or {})]
            said = moves[-1] if moves else "ivr"
            if not call.events or call.events[0].type != "arrived" or said != call.status:
                found.append(f"call {call.id}: {call.status}, timeline says {said}")
            if call.status.startswith("queued") and (call.queue is None or not call.enqueued_at):
                found.append(f"call {call.id}: {call.status} without a place")
        found += drift(db.session, call_queues(), lease_seconds=60)
        db.session.remove()
    return found


def test_a_database_outage_degrades_and_leaves_nothing_half_written(stack: Stack) -> None:
    assert stack.database_proxy is not None
    sids = stack.place_calls(2)
    first = stack.waiting_ids()  # their order in the queue
    agent = stack.cluster.agent("arm", 0)
    stack.waiting_ids()  # the supervisor's account
    supervisor = stack.cluster.supervisors[0]

    # Callers keep arriving before, during and after the outage.
    arrivals: list[str] = []
    stop = threading.Event()

    def keep_dialling() -> None:
        while not stop.is_set():
            caller = f"+3361300{len(arrivals):04d}"
            arrivals.append(stack.cluster.emulator.state.place_call(caller, PUBLIC_NUMBER))
            time.sleep(0.2)

    dialler = threading.Thread(target=keep_dialling)
    dialler.start()
    try:
        time.sleep(1)
        stack.database_proxy.cut()
        other = new_sid()
        fallback = twiml_of(stack.signed_post("/twilio/voice/incoming", call_params(other)))
        assert fallback.find("Enqueue").text == "sas-arm"
        assert twiml_of(stack.signed_post("/twilio/voice/hold", call_params(sids[0])))
        status = stack.signed_post("/twilio/voice/status", call_params(other, CallStatus="busy"))
        assert status.status_code in (200, 204)

        ready = requests.get(stack.url + "/readyz", timeout=10)
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"].startswith("unreachable")
        for answer in (
            supervisor.call("GET", "/api/queues"),
            agent.call("PUT", "/api/agents/me/presence", json={"status": "available"}),
        ):
            assert answer.status_code == 503
            assert answer.headers["Content-Type"] == "application/json"
            assert "base de données" in answer.json()["error"]
        time.sleep(2)
        stack.database_proxy.restore()
        back = time.monotonic()
        wait_for(
            lambda: requests.get(stack.url + "/readyz", timeout=10).status_code == 200,
            timeout=30,
        )
        print(f"ready again {time.monotonic() - back:.1f} s after the database came back")
        time.sleep(1)
    finally:
        stop.set()
        dialler.join()

    # Every caller is still served: in the service's queue, or parked by the fallback in
    # Twilio's ARM queue, none cut off.
    legs = stack.cluster.emulator.state.legs
    assert not [sid for sid in arrivals if legs[sid].status in ("failed", "completed")]
    assert supervisor.call("GET", "/api/queues").status_code == 200
    wait_for(lambda: len(stack.waiting_ids()) >= 2, timeout=30)
    wait_for(lambda: not disagreements(stack), timeout=30)
    assert stack.index()[0][:2] == first
