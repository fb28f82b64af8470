"""The targets policy: defaults with their sources, an admin's change kept with its history
and applying only from its time on, refused bodies, and who may do what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from dashboards.models import HandlingTime, TargetPolicy
from dashboards.policy import change_policy, load_history
from runtime.clock import frozen
from runtime.db import db
from tests.dashboards.helpers import T0, call_id_of, take
from tests.dashboards.test_live import place

POLICY = "/api/policy/targets"


def test_the_defaults_are_shown_with_their_sources(client, supervisor):
    body = client.get(POLICY, headers=supervisor).get_json()
    current = body["current"]
    assert current["version"] == 0
    assert current["values"] == {
        "arm_answer_s": 60,
        "answer_goal": 0.99,
        "short_abandon_s": 15,
        "arm_order_s": {"P0": 0, "P1": 30, "P2": 60, "P3": 60, "NR": 60},
        "regulation_order_s": {"P0": 0, "P1": 120, "P2": 1200, "P3": 3600, "NR": 3600},
        "regulation_p0_s": 60,
    }
    assert set(body["fields"]) == set(current["values"])
    assert "SAMU-Urgences de France" in body["fields"]["arm_answer_s"]["source"]
    assert "QRAARM" in body["fields"]["short_abandon_s"]["source"]
    assert "domain.md" in body["fields"]["regulation_order_s"]["source"]
    assert [v["version"] for v in body["history"]] == [0]


def test_a_change_applies_only_from_its_time_on(app, twilio, client, staff_headers):
    admin = staff_headers("admin", "admin-1")
    with frozen(T0) as clock:
        before = place(twilio, digits="2", caller="+33630000001")
        clock.advance(45)
        take(app, call_id_of(app, before), agent_id=1)  # 45 s, under the 60 s in force
        straddling = place(twilio, digits="2", caller="+33630000002")
        clock.advance(10)
        changed = client.put(
            POLICY, headers=admin, json={"arm_answer_s": 30, "note": "essai d'une cible à 30 s"}
        )
        assert changed.status_code == 200, changed.get_json()
        clock.advance(35)
        take(app, call_id_of(app, straddling), agent_id=2)  # 45 s; entered under 60 s
        after = place(twilio, digits="2", caller="+33630000003")
        clock.advance(45)
        take(app, call_id_of(app, after), agent_id=3)  # 45 s, over the new 30 s
        report = client.get(
            "/api/reports/handling-times", headers=staff_headers("supervisor")
        ).get_json()
    met = {c["call_sid"]: c["met"]["arm_wait_s"] for c in report["calls"]}
    assert met == {before: True, straddling: True, after: False}
    body = changed.get_json()
    assert body["current"]["values"]["arm_answer_s"] == 30
    assert body["current"]["values"]["short_abandon_s"] == 15  # unchanged fields kept
    assert body["current"]["changed_by"] == "admin-1 (admin)"
    assert body["current"]["note"] == "essai d'une cible à 30 s"
    assert body["current"]["effective_from"] == "2026-11-23T09:00:55Z"
    assert [v["version"] for v in body["history"]] == [body["current"]["version"], 0]
    with app.app_context():
        targets = dict(
            db.session.execute(select(HandlingTime.call_sid, HandlingTime.arm_target_s)).all()
        )
        db.session.remove()
    assert targets == {before: 60, straddling: 60, after: 30}
    # Recomputing the history changes nothing: each call keeps the policy of its time.
    with frozen(T0 + timedelta(minutes=5)):
        assert app.test_cli_runner().invoke(args=["reports", "rebuild"]).exit_code == 0
        again = client.get(
            "/api/reports/handling-times", headers=staff_headers("supervisor")
        ).get_json()
    assert {c["call_sid"]: c["met"]["arm_wait_s"] for c in again["calls"]} == met


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"arm_anwser_s": 30}, "arm_anwser_s"),
        ({"arm_answer_s": -1}, "arm_answer_s"),
        ({"arm_answer_s": "60"}, "arm_answer_s"),
        ({"answer_goal": 1.5}, "answer_goal"),
        ({"regulation_order_s": {"P9": 10}}, "regulation_order_s.P9"),
        ({"regulation_order_s": {"P1": 100_000}}, "regulation_order_s.P1"),
        ({"short_abandon_s": 90}, "short_abandon_s"),
        ({"note": 12}, "note"),
    ],
)
def test_a_refused_change_names_the_field_and_changes_nothing(
    app, client, staff_headers, body, field
):
    admin = staff_headers("admin")
    answer = client.put(POLICY, headers=admin, json=body)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field
    assert client.get(POLICY, headers=admin).get_json()["current"]["version"] == 0


def test_only_an_admin_changes_the_policy_and_overseers_read_it(client, staff_headers):
    assert client.put(POLICY, headers=staff_headers("supervisor"), json={}).status_code == 403
    assert client.get(POLICY, headers=staff_headers("arm")).status_code == 403
    assert client.get(POLICY).status_code == 401
    arm = staff_headers("arm", "arm-curieux")
    assert client.get("/api/reports/handling-times", headers=arm).status_code == 403
    assert client.get("/api/reports/ars", headers=arm).status_code == 403
    assert client.get("/api/dashboard/charts", headers=arm).status_code == 403


def test_policy_versions_are_never_rewritten(app, client, staff_headers):
    client.put(POLICY, headers=staff_headers("admin"), json={"arm_answer_s": 45})
    with app.app_context():
        row = db.session.scalars(select(TargetPolicy)).one()
        row.note = "réécrit"
        with pytest.raises(PermissionError):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


def test_a_version_saved_after_a_rolled_back_one_is_the_one_in_force(app):
    """Versions read once are kept per process until their fingerprint changes: a change
    rolled back must not linger, even where the next version saved gets the same id (SQLite
    reuses it)."""
    settings = app.extensions["sas_settings"]
    with app.app_context(), frozen(T0) as clock:
        change_policy(db.session, changes={"arm_answer_s": 30}, changed_by="a", settings=settings)
        assert load_history(db.session, settings).current.arm_answer_s == 30
        db.session.rollback()
        clock.advance(1)
        # saved elsewhere (another process): nothing here reads the versions in between
        db.session.add(
            TargetPolicy(
                effective_from=T0 + timedelta(seconds=1),
                changed_by="b",
                note=None,
                values={"arm_answer_s": 45},
            )
        )
        db.session.commit()
        assert load_history(db.session, settings).current.arm_answer_s == 45
        db.session.remove()


def test_rows_follow_a_version_saved_by_another_process_at_the_next_commit(app, twilio):
    """This process keeps the versions it read; the handling-times upsert returns the
    policy's fingerprint, so the first row written after a version saved elsewhere is judged
    again with it, with no query of its own."""
    with frozen(T0) as clock:
        before = place(twilio, digits="2", caller="+33630000011")  # the versions are cached
        clock.advance(5)
        with app.app_context():
            # saved elsewhere: a plain insert, this process's cache is not told
            db.session.add(
                TargetPolicy(
                    effective_from=T0 + timedelta(seconds=5),
                    changed_by="un autre nœud",
                    note=None,
                    values={"arm_answer_s": 30},
                )
            )
            db.session.commit()
            db.session.remove()
        clock.advance(5)
        after = place(twilio, digits="2", caller="+33630000012")
        clock.advance(40)
        take(app, call_id_of(app, before), agent_id=1)
        take(app, call_id_of(app, after), agent_id=2)
    with app.app_context():
        rows = {
            sid: (target, met)
            for sid, target, met in db.session.execute(
                select(HandlingTime.call_sid, HandlingTime.arm_target_s, HandlingTime.answer_met)
            )
        }
        db.session.remove()
    assert rows == {before: (60, True), after: (30, False)}
