"""Claims are leases: exactly one agent wins a call, heartbeats keep it, and a call whose
agent went silent goes back to its exact place (same deadline) when the lease runs out."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import select

from callflow.models import Call
from queues.access import call_queues
from queues.leases import return_expired_leases
from runtime.clock import frozen
from runtime.db import db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def call_row(app, call_id):
    with app.app_context():
        call = db.session.get(Call, call_id)
        db.session.expunge(call)
        db.session.remove()
        return call


def race(app, people, path="/api/agents/me/next"):
    """Each person posts `path` at the same moment, from their own thread and client."""
    barrier = threading.Barrier(len(people))
    results: dict[int, int] = {}

    def go(person):
        client = app.test_client()
        barrier.wait()
        results[person.id] = client.post(path, headers=person.headers).status_code

    threads = [threading.Thread(target=go, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_two_arms_race_for_one_call_exactly_one_wins(app, staff, waiting_call):
    call_id = waiting_call()
    people = [staff("arm"), staff("arm")]
    results = race(app, people)
    assert sorted(results.values()) == [200, 204]
    winner = next(p for p in people if results[p.id] == 200)
    call = call_row(app, call_id)
    assert (call.status, call.agent_id) == ("with_arm", winner.id)
    with app.app_context():
        assert call_queues().holder(call_id) == str(winner.id)


def test_a_regulator_and_an_arm_race_for_the_same_call(app, staff, waiting_call, client):
    """In a surge a regulator may take any regulation call; an ARM who escalated it races
    a regulator for the same call after it comes back to the AMU queue."""
    call_id = waiting_call()
    arm, regulator, other_arm = staff("arm"), staff("regulator_amu"), staff("arm")
    client.post("/api/agents/me/next", headers=arm.headers)
    client.post(
        f"/api/calls/{call_id}/escalate",
        json={"track": "amu", "priority": "P1"},
        headers=arm.headers,
    )
    # The call is now in the AMU queue: both claim at once; only the regulator's queues
    # hold it, and only one claim can ever win it.
    results = race(app, [regulator, other_arm])
    assert results[regulator.id] == 200 and results[other_arm.id] == 204
    assert call_row(app, call_id).agent_id == regulator.id


def test_many_claims_many_calls_no_call_twice(app, staff, waiting_call):
    calls = {waiting_call(caller=f"+336123456{i:02d}") for i in range(4)}
    people = [staff("arm") for _ in range(6)]
    results = race(app, people)
    assert sorted(results.values()) == [200] * 4 + [204] * 2
    with app.app_context():
        held = db.session.scalars(select(Call).where(Call.status == "with_arm")).all()
        assert {c.id for c in held} == calls
        assert len({c.agent_id for c in held}) == 4
        db.session.remove()


def test_lease_expiry_returns_the_call_to_its_exact_place(app, as_staff, waiting_call, twilio_rest):
    with frozen(T0) as clock:
        first = waiting_call(caller="+33612345601")
        clock.advance(5)
        second = waiting_call(caller="+33612345602")
        before = call_row(app, first)
        arm = as_staff("arm")
        arm.available()
        assert arm.next().get_json()["call"]["id"] == first
        lease = app.extensions["sas_settings"].lease_seconds

        clock.advance(lease - 1)
        assert arm.post(f"/api/calls/{first}/heartbeat").status_code == 200
        clock.advance(lease - 1)
        with app.app_context():
            assert (
                return_expired_leases(db.session, call_queues(), app.extensions["sas_settings"])
                == []
            )
            db.session.remove()
        assert call_row(app, first).status == "with_arm"  # the heartbeat kept it

        clock.advance(2)  # no heartbeat for a whole lease
        with app.app_context():
            returned = return_expired_leases(
                db.session, call_queues(), app.extensions["sas_settings"]
            )
            assert returned == [first]
            assert [e.call_id for e in call_queues().ordered("arm")] == [first, second]
            db.session.remove()
        after = call_row(app, first)
        assert (after.status, after.queue, after.agent_id) == ("queued_arm", "arm", None)
        assert (after.enqueued_at, after.deadline) == (before.enqueued_at, before.deadline)
        detail = arm.get(f"/api/calls/{first}").get_json()
        expired = [e for e in detail["timeline"] if e["type"] == "lease_expired"]
        assert len(expired) == 1 and expired[0]["data"]["reason"] == "heartbeats stopped"
        # The caller is back on hold, the agent marked, the lost call refused.
        assert "/hold?why=back" in twilio_rest.seen("/Calls/")[-1].form["Url"]
        me = arm.get("/api/agents/me").get_json()
        assert (me["status"], me["holding"]) == ("paused", None)
        assert arm.post(f"/api/calls/{first}/heartbeat").status_code == 409
        # Served again first, by anyone.
        other = as_staff("arm")
        assert other.next().get_json()["call"]["id"] == first


def test_expiry_after_the_record_moved_on_only_aligns_redis(app, as_staff, waiting_call):
    """Redis was not told of a release (a crash between the commit and Redis): the lease
    runs out, and the job leaves the record alone and puts Redis in line with it."""
    with frozen(T0) as clock:
        call_id = waiting_call()
        arm = as_staff("arm")
        arm.next()
        with app.app_context():
            call = db.session.get(Call, call_id)
            from callflow.service import move

            move(db.session, call, "queued_arm", event="released", agent_id=None)
            db.session.commit()
            db.session.remove()
        clock.advance(app.extensions["sas_settings"].lease_seconds + 1)
        with app.app_context():
            assert (
                return_expired_leases(db.session, call_queues(), app.extensions["sas_settings"])
                == []
            )
            entry = call_queues().entry(call_id)
            assert entry is not None and entry.agent_id is None and entry.queue == "arm"
            db.session.remove()


def test_a_claim_whose_commit_never_happened_is_returned_by_the_lease(app, as_staff, waiting_call):
    """The Redis claim succeeded and the process died before the commit: the record still
    says waiting; when the lease runs out the call is simply waiting again, in place."""
    with frozen(T0) as clock:
        call_id = waiting_call()
        with app.app_context():
            entry = call_queues().claim(
                queues=["arm"], agent_id="999", now=clock(), lease_seconds=30
            )
            assert entry.call_id == call_id
        clock.advance(31)
        with app.app_context():
            return_expired_leases(db.session, call_queues(), app.extensions["sas_settings"])
            assert call_queues().entry(call_id).agent_id is None
            db.session.remove()
        assert as_staff("arm").next().get_json()["call"]["id"] == call_id


def test_heartbeat_restores_a_lease_redis_lost(app, as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.next()
    with app.app_context():
        call_queues().clear_all()  # Redis restarted empty
    assert arm.post(f"/api/calls/{call_id}/heartbeat").status_code == 200
    with app.app_context():
        assert call_queues().holder(call_id) == str(arm.person.id)


def test_in_a_surge_both_tracks_race_for_one_call_exactly_one_wins(
    app, staff, waiting_call, client
):
    call_id = waiting_call()
    arm = staff("arm")
    client.post("/api/agents/me/next", headers=arm.headers)
    client.post(
        f"/api/calls/{call_id}/escalate",
        json={"track": "liberal", "priority": "P2"},
        headers=arm.headers,
    )
    supervisor = staff("supervisor")
    client.post("/api/surge", json={"active": True}, headers=supervisor.headers)
    people = [staff("regulator_amu"), staff("regulator_liberal")]
    results = race(app, people)
    assert sorted(results.values()) == [200, 204]
    winner = next(p for p in people if results[p.id] == 200)
    assert call_row(app, call_id).agent_id == winner.id
