"""The two levels over real telephony: the Twilio emulator runs the service's TwiML as
Twilio does (signed webhooks, REST call control), a simulated caller dials in, and the
agents' softphones answer. Staff calls go over real HTTP to the served app."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from callflow.models import Call
from regulation.auth import create_staff, issue_token
from runtime.db import db
from tests.conftest import LiveStack
from tests.helpers import call_row, heard, wait_for

from .conftest import CHEAP_HASHES, PASSWORD, QUALIFICATION


@pytest.fixture()
def app_config() -> dict[str, Any]:
    return {**CHEAP_HASHES, "AGENT_RING_TIMEOUT_S": "20"}


class Agent:
    def __init__(self, stack: LiveStack, role: str, name: str) -> None:
        with stack.app.app_context():
            settings = stack.app.extensions["regulation_settings"]
            person = create_staff(db.session, settings, username=name, role=role, password=PASSWORD)
            self.id = person.id
            self.token = issue_token(db.session, settings, person)
            db.session.commit()
            db.session.remove()
        self.base = stack.base_url
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token}"
        stack.emulator.state.register_client(f"agent_{self.id}")
        self.address = f"client:agent_{self.id}"

    def call(self, method: str, path: str, body: Any = None) -> requests.Response:
        return self.http.request(method, self.base + path, json=body, timeout=10)


def queued(stack: LiveStack, sid: str, name: str) -> bool:
    queue = stack.call(sid).get("queue")
    return bool(queue) and name in str(queue)


def bridged_with(stack: LiveStack, sid: str, address: str) -> bool:
    view = stack.call(sid)
    partner = view.get("bridged_with")
    if not partner:
        return False
    return stack.call(partner if isinstance(partner, str) else partner["call_sid"])["to"] == address


def test_a_caller_goes_through_both_levels(live_stack):
    caller = live_stack.dial(caller="+33612345678")
    wait_for(lambda: live_stack.call(caller)["gathering"] is not None)
    live_stack.emulator.state.send_input(caller, digits="2")
    wait_for(lambda: queued(live_stack, caller, "sas-arm"))
    wait_for(lambda: (call_row(live_stack, caller) or Call()).twilio_queue_sid)

    arm = Agent(live_stack, "arm", "arm-live")
    assert arm.call("PUT", "/api/agents/me/presence", {"status": "available"}).status_code == 200
    taken = arm.call("POST", "/api/agents/me/next")
    assert taken.status_code == 200, taken.text
    call_id = taken.json()["call"]["id"]
    wait_for(lambda: bridged_with(live_stack, caller, arm.address))
    wait_for(lambda: (call_row(live_stack, caller) or Call()).answered_at is not None)

    assert arm.call("POST", f"/api/calls/{call_id}/heartbeat").status_code == 200
    assert arm.call("POST", f"/api/calls/{call_id}/qualification", QUALIFICATION).status_code == 200
    escalated = arm.call(
        "POST", f"/api/calls/{call_id}/escalate", {"track": "liberal", "priority": "P2"}
    )
    assert escalated.status_code == 200, escalated.text
    wait_for(lambda: queued(live_stack, caller, "sas-liberal"))
    assert "médecin régulateur" in heard(live_stack, caller)

    regulator = Agent(live_stack, "regulator_liberal", "medecin-live")
    taken = regulator.call("POST", "/api/agents/me/next")
    assert taken.status_code == 200 and taken.json()["call"]["id"] == call_id
    wait_for(lambda: bridged_with(live_stack, caller, regulator.address))
    decided = regulator.call(
        "POST",
        f"/api/calls/{call_id}/decision",
        {"outcome": "CONSEIL", "urgency": "R4", "notes": "hydratation, rappeler si fièvre"},
    )
    assert decided.status_code == 200 and decided.json()["status"] == "completed"
    wait_for(lambda: live_stack.call(caller)["status"] == "completed")
    assert not live_stack.call(caller)["heard_application_error"]
    detail = regulator.call("GET", f"/api/calls/{call_id}").json()
    types = [e["type"] for e in detail["timeline"]]
    assert types.count("connected") == 2  # answered by the ARM, then by the regulator


def test_an_agent_who_does_not_pick_up_sends_the_caller_back_to_their_place(live_stack):
    caller = live_stack.dial(caller="+33612345679")
    wait_for(lambda: live_stack.call(caller)["gathering"] is not None)
    live_stack.emulator.state.send_input(caller, digits="2")
    wait_for(lambda: (call_row(live_stack, caller) or Call()).twilio_queue_sid)
    before = call_row(live_stack, caller)
    arm = Agent(live_stack, "arm", "arm-absent")
    live_stack.emulator.state.register_client(f"agent_{arm.id}", mode="no-answer")
    assert arm.call("POST", "/api/agents/me/next").status_code == 200
    wait_for(lambda: (call_row(live_stack, caller) or Call()).status == "queued_arm", timeout=15)
    after = call_row(live_stack, caller)
    assert (after.enqueued_at, after.deadline) == (before.enqueued_at, before.deadline)
    wait_for(lambda: queued(live_stack, caller, "sas-arm"))
    me = arm.call("GET", "/api/agents/me").json()
    assert (me["status"], me["holding"]) == ("paused", None)
    assert live_stack.call(caller)["status"] == "in-progress"
