"""Refused bodies: 400 `{"error", "field"}` naming the first offending field; 409 when the
agent does not hold the call; 404 for ids that name no call."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from .conftest import QUALIFICATION


def with_change(path: str, value):
    body: dict[str, Any] = copy.deepcopy(QUALIFICATION)
    target: Any = body
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[part]
    if value is KeyError:
        del target[parts[-1]]
    else:
        target[parts[-1]] = value
    return body


@pytest.fixture()
def holding(as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.available()
    assert arm.next().status_code == 200
    return arm, call_id


@pytest.mark.parametrize(
    ("change", "value", "field"),
    [
        ("priority", "P9", "priority"),
        ("priority", KeyError, "priority"),
        ("priority", "NR", "priority"),
        ("reason", "", "reason"),
        ("reason", 42, "reason"),
        ("location", "Paris", "location"),
        ("location.address", KeyError, "location.address"),
        ("location.postcode", "7500", "location.postcode"),
        ("location.postcode", KeyError, "location.postcode"),
        ("location.insee", "ABCDE", "location.insee"),
        ("location.elevator", "yes", "location.elevator"),
        ("patient", None, "patient"),
        ("patient.age", -1, "patient.age"),
        ("patient.age", "58", "patient.age"),
        ("patient.age", True, "patient.age"),
        ("patient.age", KeyError, "patient.age"),
        ("patient.sex", "X", "patient.sex"),
        ("patient.sex", KeyError, "patient.sex"),
        ("notes", 3, "notes"),
        ("extra", 1, "extra"),
    ],
)
def test_qualification_names_the_offending_field(holding, change, value, field):
    arm, call_id = holding
    answer = arm.post(f"/api/calls/{call_id}/qualification", with_change(change, value))
    assert answer.status_code == 400, answer.get_json()
    body = answer.get_json()
    assert body["field"] == field and isinstance(body["error"], str) and body["error"]


def test_qualification_accepts_insee_and_age_group(holding):
    arm, call_id = holding
    body = with_change("location", {"address": "Mairie", "insee": "2A004"})
    body["patient"] = {"age_group": "nourrisson", "sex": "F"}
    del body["notes"]
    answer = arm.post(f"/api/calls/{call_id}/qualification", body)
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["dossier"]["location"]["insee"] == "2A004"


def test_not_a_json_object(holding):
    arm, call_id = holding
    bodies: list[Any] = [[], "texte", 3]
    for body in bodies:
        answer = arm.post(f"/api/calls/{call_id}/qualification", body)
        assert answer.status_code == 400 and answer.get_json()["field"] == "body"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"priority": "P1"}, "track"),
        ({"track": "samu", "priority": "P1"}, "track"),
        ({"track": "amu"}, "priority"),
        ({"track": "amu", "priority": "P5"}, "priority"),
        ({"track": "liberal", "priority": "P0"}, "track"),
    ],
)
def test_escalation_bodies(holding, body, field):
    arm, call_id = holding
    answer = arm.post(f"/api/calls/{call_id}/escalate", body)
    assert answer.status_code == 400 and answer.get_json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"urgency": "R1", "notes": ""}, "outcome"),
        ({"outcome": "SMUR", "urgency": "R1", "notes": ""}, "outcome"),
        ({"outcome": "INTER", "urgency": "R5", "notes": ""}, "urgency"),
        ({"outcome": "INTER", "urgency": "R1"}, "notes"),
        ({"outcome": "INTER", "urgency": "R1", "notes": "", "resource": 5}, "resource"),
        (
            {"outcome": "INTER", "urgency": "R1", "notes": "", "callback_at": "demain"},
            "callback_at",
        ),
        (
            {
                "outcome": "INTER",
                "urgency": "R1",
                "notes": "",
                "callback_at": "2020-01-01T00:00:00",
            },
            "callback_at",
        ),
        (
            {
                "outcome": "INTER",
                "urgency": "R1",
                "notes": "",
                "callback_at": "2020-01-01T00:00:00Z",
            },
            "callback_at",
        ),
    ],
)
def test_decision_bodies(as_staff, waiting_call, body, field):
    call_id = waiting_call()
    arm = as_staff("arm")
    arm.next()
    arm.post(f"/api/calls/{call_id}/escalate", {"track": "amu", "priority": "P3"})
    regulator = as_staff("regulator_amu")
    assert regulator.next().status_code == 200
    answer = regulator.post(f"/api/calls/{call_id}/decision", body)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field


def test_acting_on_a_call_not_held_is_409_and_unknown_calls_404(as_staff, waiting_call):
    call_id = waiting_call()
    arm = as_staff("arm")
    assert arm.post(f"/api/calls/{call_id}/qualification", QUALIFICATION).status_code == 409
    assert (
        arm.post(f"/api/calls/{call_id}/escalate", {"track": "amu", "priority": "P1"}).status_code
        == 409
    )
    assert arm.post(f"/api/calls/{call_id}/release").status_code == 409
    assert arm.post(f"/api/calls/{call_id}/heartbeat").status_code == 409
    for path in ("qualification", "escalate", "release", "heartbeat", "close"):
        answer = arm.post(f"/api/calls/987654/{path}", {})
        assert answer.status_code == 404 and answer.get_json()["error"], path
    assert arm.post("/api/calls/abc/release").status_code == 404
