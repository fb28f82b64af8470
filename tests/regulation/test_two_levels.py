"""The two levels of regulation through the staff API: an ARM takes the call, qualifies and
escalates it; a regulator takes it from the regulation queue and decides. Real Redis, both
databases, Twilio's REST API over real HTTP (a local double answering as Twilio does)."""

from __future__ import annotations

from sqlalchemy import select

from callflow.models import Call
from queues.access import call_queues
from regulation.models import AuditEntry, Decision, Dossier, PresenceEvent, Staff
from runtime.db import db
from tests.conftest import TwilioWebhooks
from tests.helpers import call_params

from .conftest import QUALIFICATION


def row(app, model, key):
    with app.app_context():
        found = db.session.get(model, key)
        if found is not None:
            db.session.expunge(found)
        db.session.remove()
        return found


def test_full_two_level_path(app, as_staff, waiting_call, twilio_rest):
    call_id = waiting_call(digits="2")
    arm = as_staff("arm", "arm1")
    regulator = as_staff("regulator_liberal", "medlib")
    arm.available()
    regulator.available()

    assert regulator.next().status_code == 204  # nothing waits for a regulator yet
    taken = arm.next()
    assert taken.status_code == 200, taken.get_json()
    call = taken.get_json()["call"]
    for field in (
        "id",
        "call_sid",
        "caller",
        "status",
        "priority",
        "track",
        "queue",
        "enqueued_at",
        "answered_at",
    ):
        assert field in call
    assert (call["id"], call["status"], call["queue"]) == (call_id, "with_arm", "arm")
    # The caller was dequeued from its Twilio queue to the document dialling the ARM.
    dequeued = twilio_rest.seen("/Members/")
    assert len(dequeued) == 1
    assert dequeued[0].form["Url"].startswith("http://localhost/twilio/voice/connect/")
    assert dequeued[0].form["Url"].endswith(f"/{call_id}/agent/{arm.person.id}")
    assert arm.get("/api/agents/me").get_json()["status"] == "busy"
    holding = arm.next()  # already holding a call
    assert holding.status_code == 409
    assert holding.get_json() == {
        "error": f"vous tenez déjà l'appel {call_id}",
        "call_id": call_id,
        "reason": "holding",
    }

    assert arm.post(f"/api/calls/{call_id}/heartbeat").status_code == 200
    qualified = arm.post(f"/api/calls/{call_id}/qualification", QUALIFICATION)
    assert qualified.status_code == 200, qualified.get_json()
    assert qualified.get_json()["dossier"]["reason"] == "douleur thoracique"

    escalated = arm.post(f"/api/calls/{call_id}/escalate", {"track": "liberal", "priority": "P2"})
    assert escalated.status_code == 200, escalated.get_json()
    body = escalated.get_json()
    assert (body["status"], body["queue"], body["track"], body["priority"]) == (
        "queued_regulation",
        "liberal",
        "liberal",
        "P2",
    )
    assert arm.get("/api/agents/me").get_json()["status"] == "wrap_up"
    # The caller heard a French message on the way to the libéral queue's hold.
    redirect = twilio_rest.seen(f"/Calls/{body['call_sid']}.json")[-1]
    assert "/hold?why=escalated" in redirect.form["Url"]
    with app.app_context():
        entry = call_queues().entry(call_id)
        assert (entry.queue, entry.agent_id) == ("liberal", None)

    queue = regulator.get("/api/queues/liberal/calls").get_json()
    assert [c["call_id"] for c in queue["calls"]] == [call_id]
    assert queue["calls"][0]["reason"] == "douleur thoracique"
    assert queue["calls"][0]["location"]["postcode"] == "75002"

    taken = regulator.next()
    assert taken.status_code == 200
    assert taken.get_json()["call"]["status"] == "with_regulator"
    decided = regulator.post(
        f"/api/calls/{call_id}/decision",
        {
            "outcome": "ORIENT",
            "urgency": "R3",
            "notes": "consultation demain",
            "orientation": "CABINET",
        },
    )
    assert decided.status_code == 200, decided.get_json()
    assert decided.get_json()["status"] == "completed"
    assert regulator.get("/api/agents/me").get_json()["status"] == "wrap_up"
    with app.app_context():
        assert call_queues().entry(call_id) is None
        decision = db.session.scalars(select(Decision)).one()
        assert (decision.outcome, decision.urgency, decision.attribution) == (
            "ORIENT",
            "R3",
            "DRM.MRL.MG",
        )
        db.session.remove()

    detail = arm.get(f"/api/calls/{call_id}")  # the ARM held it: may read it
    assert detail.status_code == 200
    types = [e["type"] for e in detail.get_json()["timeline"]]
    for expected in (
        "arrived",
        "queued",
        "claimed",
        "connect_requested",
        "qualified",
        "escalated",
        "decision",
    ):
        assert expected in types
    stamps = [e["at"] for e in detail.get_json()["timeline"]]
    assert stamps == sorted(stamps) and all(s.endswith("Z") for s in stamps)


def test_agent_answer_is_recorded_when_the_softphone_picks_up(app, as_staff, waiting_call, twilio):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    call = arm.next().get_json()["call"]
    assert call["answered_at"] is None  # claimed, not yet answered
    sid = call["call_sid"]
    doc = twilio.post(f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}", call_params(sid))
    assert doc.status_code == 200 and b"<Client" in doc.data
    assert f"agent_{arm.person.id}".encode() in doc.data
    child = call_params("CA" + "c" * 32, ParentCallSid=sid)
    whisper = twilio.post(f"/twilio/voice/connect/{call_id}/agent/{arm.person.id}/answered", child)
    assert whisper.status_code == 200 and b"<Hangup" not in whisper.data
    detail = arm.get(f"/api/calls/{call_id}").get_json()
    assert detail["answered_at"] is not None
    assert "connected" in [e["type"] for e in detail["timeline"]]


def test_caller_hanging_up_on_the_agent_completes_the_call_and_wraps_up(
    app, as_staff, waiting_call, twilio: TwilioWebhooks
):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    sid = arm.next().get_json()["call"]["call_sid"]
    twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed", CallDuration="30"))
    assert row(app, Call, call_id).status == "completed"
    assert arm.get("/api/agents/me").get_json()["status"] == "wrap_up"
    assert arm.post(f"/api/calls/{call_id}/heartbeat").status_code == 409


def test_presence_changes_are_events(app, as_staff):
    arm = as_staff("arm")
    assert arm.get("/api/agents/me").get_json()["status"] == "offline"
    arm.available()
    paused = arm.put("/api/agents/me/presence", {"status": "paused"})
    assert paused.status_code == 400 and paused.get_json()["field"] == "reason"
    assert (
        arm.put("/api/agents/me/presence", {"status": "paused", "reason": "repas"}).status_code
        == 200
    )
    bad = arm.put("/api/agents/me/presence", {"status": "busy"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "status"
    arm.put("/api/agents/me/presence", {"status": "offline"})
    with app.app_context():
        events = db.session.scalars(
            select(PresenceEvent)
            .where(PresenceEvent.staff_id == arm.person.id)
            .order_by(PresenceEvent.id)
        ).all()
        assert [(e.status, e.reason) for e in events] == [
            ("available", None),
            ("paused", "repas"),
            ("offline", None),
        ]
        assert all(e.at is not None and e.at.tzinfo is not None for e in events)
        db.session.remove()


def test_arm_closes_without_regulation_with_a_hub_code(app, as_staff, waiting_call, twilio_rest):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    sid = arm.next().get_json()["call"]["call_sid"]
    bad = arm.post(f"/api/calls/{call_id}/close", {"code": "MALICIOUS"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "code"
    closed = arm.post(f"/api/calls/{call_id}/close", {"code": "D.D-MALV.MALV"})
    assert closed.status_code == 200 and closed.get_json()["status"] == "completed"
    assert closed.get_json()["dossier"]["closing_code"] == "D.D-MALV.MALV"
    assert twilio_rest.seen(f"/Calls/{sid}.json")[-1].form == {"Status": "completed"}
    assert arm.get("/api/agents/me").get_json()["status"] == "wrap_up"
    assert arm.post(f"/api/calls/{call_id}/close", {"code": "DR.DREG.DRARM"}).status_code == 409


def test_p0_escalation_is_accompanied_and_first_in_the_amu_queue(
    app, as_staff, waiting_call, twilio_rest
):
    older = waiting_call(caller="+33612345601")
    arm2 = as_staff("arm")
    arm2.available()
    assert arm2.next().get_json()["call"]["id"] == older
    arm2.post(f"/api/calls/{older}/escalate", {"track": "amu", "priority": "P1"})
    p0 = waiting_call(caller="+33612345602")
    arm = as_staff("arm")
    arm.available()
    assert arm.next().get_json()["call"]["id"] == p0
    redirects_before = len(twilio_rest.seen("/Calls/"))
    liberal_p0 = arm.post(f"/api/calls/{p0}/escalate", {"track": "liberal", "priority": "P0"})
    assert liberal_p0.status_code == 400 and liberal_p0.get_json()["field"] == "track"
    answer = arm.post(f"/api/calls/{p0}/escalate", {"track": "amu", "priority": "P0"})
    assert answer.status_code == 200
    assert len(twilio_rest.seen("/Calls/")) == redirects_before  # the caller stays with the ARM
    me = arm.get("/api/agents/me").get_json()
    assert (me["status"], me["reason"]) == ("busy", "accompagnement P0")
    busy = arm.next()  # accompanying until a regulator takes it
    assert busy.status_code == 409
    assert busy.get_json()["call_id"] == p0 and busy.get_json()["reason"] == "accompanying"
    regulator = as_staff("regulator_amu")
    view = regulator.get("/api/queues/amu/calls").get_json()["calls"]
    assert [c["call_id"] for c in view] == [p0, older] and view[0]["accompanied"]
    taken = regulator.next()
    assert taken.get_json()["call"]["id"] == p0
    # The regulator's connection takes the caller from the ARM's line.
    assert twilio_rest.seen(f"/Calls/{taken.get_json()['call']['call_sid']}.json")
    assert arm.get("/api/agents/me").get_json()["status"] == "wrap_up"
    assert arm.put("/api/agents/me/presence", {"status": "available"}).status_code == 200
    assert arm.next().status_code == 204


def test_regulator_hands_the_call_to_the_other_track_in_place(app, as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    arm.next()
    arm.post(f"/api/calls/{call_id}/escalate", {"track": "liberal", "priority": "P2"})
    before = row(app, Call, call_id)
    liberal = as_staff("regulator_liberal")
    liberal.next()
    same = liberal.post(f"/api/calls/{call_id}/track", {"track": "liberal"})
    assert same.status_code == 400 and same.get_json()["field"] == "track"
    moved = liberal.post(f"/api/calls/{call_id}/track", {"track": "amu", "notes": "dyspnée"})
    assert moved.status_code == 200
    after = row(app, Call, call_id)
    assert (after.queue, after.track, after.status) == ("amu", "amu", "queued_regulation")
    assert (after.enqueued_at, after.deadline) == (before.enqueued_at, before.deadline)
    with app.app_context():
        entry = call_queues().entry(call_id)
        assert (entry.queue, entry.deadline) == ("amu", before.deadline)
    amu = as_staff("regulator_amu")
    assert amu.next().get_json()["call"]["id"] == call_id
    detail = amu.get(f"/api/calls/{call_id}").get_json()
    assert "track_changed" in [e["type"] for e in detail["timeline"]]


def test_release_gives_the_call_back_in_its_place(app, as_staff, waiting_call, twilio_rest):
    first = waiting_call(caller="+33612345601")
    second = waiting_call(caller="+33612345602")
    arm = as_staff("arm")
    arm.available()
    assert arm.next().get_json()["call"]["id"] == first
    before = row(app, Call, first)
    released = arm.post(f"/api/calls/{first}/release")
    assert released.status_code == 200
    assert (released.get_json()["status"], released.get_json()["queue"]) == ("queued_arm", "arm")
    after = row(app, Call, first)
    assert (after.enqueued_at, after.deadline) == (before.enqueued_at, before.deadline)
    with app.app_context():
        assert [e.call_id for e in call_queues().ordered("arm")] == [first, second]
    assert "/hold?why=back" in twilio_rest.seen("/Calls/")[-1].form["Url"]
    assert arm.post(f"/api/calls/{first}/release").status_code == 409
    assert arm.get("/api/agents/me").get_json()["status"] == "available"


def test_arm_cannot_decide_and_liberal_cannot_take_amu_outside_a_surge(app, as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    arm.next()
    decision = {"outcome": "CONSEIL", "urgency": "R4", "notes": ""}
    assert arm.post(f"/api/calls/{call_id}/decision", decision).status_code == 403
    arm.post(f"/api/calls/{call_id}/escalate", {"track": "amu", "priority": "P2"})
    liberal = as_staff("regulator_liberal")
    assert liberal.next().status_code == 204
    assert liberal.get("/api/queues/amu/calls").status_code == 403
    assert (
        liberal.post(
            f"/api/calls/{call_id}/escalate", {"track": "amu", "priority": "P1"}
        ).status_code
        == 403
    )
    osnp = as_staff("osnp")
    assert osnp.next().status_code == 403
    assert osnp.get(f"/api/calls/{call_id}").status_code == 403

    supervisor = as_staff("supervisor")
    assert liberal.post("/api/surge", {"active": True}).status_code == 403
    declared = supervisor.post("/api/surge", {"active": True, "note": "épidémie"})
    assert declared.status_code == 200 and declared.get_json()["active"] is True
    assert liberal.get("/api/agents/me").get_json()["queues"] == ["liberal", "amu"]
    taken = liberal.next()
    assert taken.status_code == 200 and taken.get_json()["call"]["id"] == call_id
    liberal.post(f"/api/calls/{call_id}/decision", decision)
    with app.app_context():
        decision_row = db.session.scalars(select(Decision)).one()
        assert decision_row.attribution == "DRM.MRU.INDISPMU"
        assert db.session.get(Dossier, call_id).attribution == "DRM.MRU.INDISPMU"
        db.session.remove()
    supervisor.post("/api/surge", {"active": False})
    assert liberal.get("/api/surge").get_json()["active"] is False


def test_call_read_access_rules(app, as_staff, waiting_call):
    call_id = waiting_call()
    arm, other_arm = as_staff("arm"), as_staff("arm")
    amu = as_staff("regulator_amu")
    admin = as_staff("admin")
    assert other_arm.get(f"/api/calls/{call_id}").status_code == 200  # waiting in its queue
    assert amu.get(f"/api/calls/{call_id}").status_code == 403  # not in the AMU queue
    arm.available()
    arm.next()
    assert other_arm.get(f"/api/calls/{call_id}").status_code == 403  # held by someone else
    arm.post(f"/api/calls/{call_id}/escalate", {"track": "amu", "priority": "P2"})
    assert amu.get(f"/api/calls/{call_id}").status_code == 200
    assert arm.get(f"/api/calls/{call_id}").status_code == 200  # held it before
    assert admin.get(f"/api/calls/{call_id}").status_code == 200
    assert admin.get("/api/calls/424242").status_code == 404


def test_audit_log_is_written_for_each_access(app, as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm", "auditee")
    admin = as_staff("admin")
    arm.available()
    arm.next()
    arm.get(f"/api/calls/{call_id}")
    arm.post(f"/api/calls/{call_id}/qualification", {**QUALIFICATION, "priority": "P2"})
    arm.post(f"/api/calls/{call_id}/escalate", {"track": "amu", "priority": "P2"})
    amu = as_staff("regulator_amu", "docteur")
    amu.get("/api/queues/amu/calls")
    amu.next()
    amu.post(
        f"/api/calls/{call_id}/decision", {"outcome": "CONSEIL", "urgency": "R4", "notes": "ok"}
    )
    admin.get(f"/api/calls/{call_id}")
    assert arm.get(f"/api/audit?call_id={call_id}").status_code == 403
    entries = admin.get(f"/api/audit?call_id={call_id}").get_json()["entries"]
    seen = [(e["username"], e["action"]) for e in reversed(entries)]
    assert seen == [
        ("auditee", "claim"),
        ("auditee", "read"),
        ("auditee", "qualify"),
        ("auditee", "escalate"),
        ("docteur", "claim"),
        ("docteur", "decide"),
        (admin.person.username, "read"),
    ]
    assert all(e["at"].endswith("Z") for e in entries)
    listing = admin.get("/api/audit?limit=50").get_json()["entries"]
    assert any(e["action"] == "list_queue" and call_id in e["detail"]["call_ids"] for e in listing)
    with app.app_context():
        entry = db.session.scalars(select(AuditEntry)).first()
        entry.action = "tampered"
        try:
            db.session.commit()
        except PermissionError:
            db.session.rollback()
        else:
            raise AssertionError("an audit entry was changed")
        db.session.remove()


def test_staff_admin_api(app, as_staff):
    admin = as_staff("admin")
    created = admin.post("/api/staff", {"username": "nina", "role": "osnp", "password": "x" * 10})
    assert created.status_code == 201 and created.get_json()["role"] == "osnp"
    again = admin.post("/api/staff", {"username": "nina", "role": "osnp", "password": "x" * 10})
    assert again.status_code == 409
    weak = admin.post("/api/staff", {"username": "olga", "role": "arm", "password": "x"})
    assert weak.status_code == 400 and weak.get_json()["field"] == "password"
    role = admin.post("/api/staff", {"username": "olga", "role": "chef", "password": "x" * 10})
    assert role.status_code == 400 and role.get_json()["field"] == "role"
    assert as_staff("arm").get("/api/staff").status_code == 403
    with app.app_context():
        assert db.session.scalars(select(Staff).where(Staff.username == "nina")).one()
        db.session.remove()
