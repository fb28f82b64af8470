"""Faults against real processes: the web node killed, Redis restarted empty, Redis gone for
a while, the RQ worker killed. After each, every call is where it was; callers never get an
error from the service meanwhile. Recovery times seen are printed (`-s`) and recorded in
docs/reliability.md."""

from __future__ import annotations

import os
import time
from typing import Any

import pytest
import requests

from callflow.models import Call
from runtime.db import db
from tests.helpers import ON_POSTGRESQL, call_params, wait_for

from .conftest import Stack, twiml_of

# Several processes sharing one database is PostgreSQL's job, as in tests/scale.
pytestmark = ON_POSTGRESQL


def _status(stack: Stack, call_id: int) -> str:
    with stack.cluster.app.app_context():
        call = db.session.get(Call, call_id)
        db.session.remove()
        return call.status if call else "missing"


def _events(stack: Stack, call_id: int) -> list[str]:
    from sqlalchemy import select

    from callflow.models import CallEvent

    with stack.cluster.app.app_context():
        query = select(CallEvent.type).where(CallEvent.call_id == call_id).order_by(CallEvent.id)
        found = list(db.session.scalars(query))
        db.session.remove()
    return found


def _line(stack: Stack, call_id: int) -> Any:
    """The emulator's leg of the call: Twilio's side of it."""
    with stack.app.app_context():
        call = db.session.get(Call, call_id)
        sid = call.call_sid if call else None
        db.session.remove()
    return stack.cluster.emulator.state.leg(sid) if sid else None


def _heard(stack: Stack, call_id: int) -> list[str]:
    leg = _line(stack, call_id)
    return [step.kind for step in leg.transcript] if leg else []


def _holds_answered(stack: Stack, call_id: int) -> int:
    """How many of the caller's hold requests the service answered, as Twilio saw them."""
    leg = _line(stack, call_id)
    hold = "/twilio/voice/hold"
    return sum(1 for r in leg.webhooks if r.url.endswith(hold) and r.status == 200) if leg else 0


def _account(stack: Stack, call_ids: list[int]) -> str:
    """Where each call is, for a failure's message: the staff listing, Redis, the database
    and the emulator's line (status and last steps)."""
    waiting, held = stack.index()
    lines = [f"listing {stack.waiting_ids()}, redis waiting {waiting}, redis held {held}"]
    for call_id in call_ids:
        leg = _line(stack, call_id)
        heard = [(t.kind, t.detail) for t in leg.transcript[-4:]] if leg else []
        lines.append(
            f"call {call_id}: {_status(stack, call_id)} {_events(stack, call_id)}; "
            f"line {leg.status if leg else None} {heard}"
        )
    return "\n".join(lines)


# One web node, as here, leaves no one to answer a hold request sent while it restarts, and
# Twilio ends a call when its wait URL, then its fallback, cannot be reached (several nodes
# behind a load balancer hide that: docs/deployment.md). The waiting callers' pause (10 min,
# 30 s at the emulator's pace) is longer than the restart, and the kill waits until each
# has had its first hold document: it never lands before or between their hold requests,
# however slow the machine is.
@pytest.mark.stack_config(HOLD_PAUSE_S="600")
def test_web_node_killed_calls_stay_where_they_were(stack: Stack) -> None:
    stack.place_calls(3)
    order = stack.waiting_ids()
    arm = stack.cluster.agent("arm", 0)
    assert arm.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    held = arm.call("POST", "/api/agents/me/next").json()["call"]["id"]
    assert held == order[0]
    # The agent's softphone answered and Twilio bridged them: caller and agent are talking.
    # (Killed before the bridge, the node would take with it the answer to the agent's
    # whisper request: Twilio ends that dial, and with no node to ask, the call.)
    wait_for(lambda: _events(stack, held).count("connected") == 1, timeout=30)
    wait_for(lambda: "bridged" in _heard(stack, held), timeout=30)
    # The others have had their first hold document (their place announced, then the pause):
    # no hold request of theirs is due while the node restarts.
    others = [call_id for call_id in order if call_id != held]
    wait_for(lambda: all("position_announced" in _events(stack, c) for c in others), timeout=30)

    holds_before = _holds_answered(stack, held)
    stack.kill_web()  # callers on hold, an agent holding a call: SIGKILL, no goodbye
    started = time.monotonic()
    stack.start_web()
    # The waiting callers are in the same order. The agent is gone with the node; no
    # heartbeat comes: when the lease (3 s) ends the held call goes back to its own place,
    # at the front (with a lease this short it may be back before the node is).
    try:
        wait_for(lambda: stack.waiting_ids() == order, timeout=30)
        print(f"held call back in place {time.monotonic() - started:.1f} s after the restart")
        wait_for(lambda: all(_status(stack, call_id) == "queued_arm" for call_id in order), 10)
    except AssertionError as failure:
        raise AssertionError(f"order before {order}\n{_account(stack, order)}") from failure

    # The caller put back on hold was sent to this node and hears its hold loop again (the
    # node answers a new hold request of theirs), not Twilio's fallback. Their place is
    # announced only if the last announcement is 45 s old: on a slow machine their first
    # hold request may come before the claim, so the announcement is not the sign.
    wait_for(lambda: _holds_answered(stack, held) > holds_before, timeout=20)
    events = _events(stack, held)
    assert "twilio_error" not in events[events.index("lease_expired") :]


def test_redis_restarted_empty_the_queues_come_back_in_order(stack: Stack) -> None:
    sids = stack.place_calls(3)
    order = stack.waiting_ids()

    stack.redis.restart_empty()  # a failover without persistence
    started = time.monotonic()
    # Meanwhile a waiting caller's hold loop still gets a document, never an error.
    hold = twiml_of(stack.signed_post("/twilio/voice/hold", call_params(sids[0])))
    assert hold.find("Pause") is not None or hold.find("Play") is not None
    wait_for(lambda: stack.waiting_ids() == order, timeout=30)
    print(f"queues rebuilt {time.monotonic() - started:.1f} s after Redis came back empty")
    assert all(p.poll() is None for p in stack.others), "the worker and scheduler live on"
    check = _run(stack, "queues", "check")
    assert check.returncode == 0 and "no drift" in check.stdout, check.stdout + check.stderr


def test_redis_unreachable_callers_are_served_staff_told_then_it_recovers(stack: Stack) -> None:
    stack.place_calls(2)
    order = stack.waiting_ids()
    stack.redis.stop()
    try:
        new_caller = call_params("CA" + "e" * 32, "+33612349999")
        root = twiml_of(stack.signed_post("/twilio/voice/incoming", new_caller))
        assert root.find("Gather") is not None or root.find("Enqueue") is not None
        ready = requests.get(stack.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["redis"] != "ok"
        refused = stack.cluster.supervisors[0].call("GET", "/api/queues")
        assert refused.status_code == 503 and refused.json()["error"]
    finally:
        stack.redis.restart_empty()
    started = time.monotonic()
    wait_for(lambda: requests.get(stack.url + "/readyz", timeout=10).status_code == 200, 30)
    wait_for(lambda: stack.waiting_ids()[: len(order)] == order, timeout=30)
    print(f"service recovered {time.monotonic() - started:.1f} s after Redis returned")
    # the worker and the periodic jobs' scheduler lived through it
    assert all(p.poll() is None for p in stack.others)


def test_rq_worker_killed_another_worker_runs_the_sweeps(stack: Stack) -> None:
    import signal

    stack.place_calls(2)
    order = stack.waiting_ids()
    worker = stack.others[0]
    os.killpg(worker.pid, signal.SIGKILL)  # mid-job or between jobs: the cron keeps enqueuing
    worker.wait()
    arm = stack.cluster.agent("arm", 0)
    assert arm.call("PUT", "/api/agents/me/presence", json={"status": "available"}).ok
    held = arm.call("POST", "/api/agents/me/next").json()["call"]["id"]
    started = time.monotonic()
    stack.start_worker()
    # The lease job (every 2 s, idempotent) runs on the new worker: the call comes back once.
    wait_for(lambda: "lease_expired" in _events(stack, held), timeout=90)
    print(f"lease returned {time.monotonic() - started:.1f} s after the new worker started")
    assert held == order[0]
    wait_for(lambda: stack.waiting_ids() == order, timeout=10)
    time.sleep(5)  # more runs of the lease job go by: nothing happens twice
    assert _events(stack, held).count("lease_expired") == 1
    assert stack.waiting_ids() == order


def _run(stack: Stack, *args: str):
    import subprocess

    from tests.scale.conftest import BIN, ROOT

    return subprocess.run(
        [str(BIN / "flask"), *args], cwd=ROOT, env=stack.env, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
