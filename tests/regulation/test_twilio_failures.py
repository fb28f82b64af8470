"""Connecting a claimed caller when Twilio's REST API misbehaves, over real HTTP: bounded
retries on 5xx, 429 and timeouts; after them the call is back in its exact place and the
agent is told; a call Twilio no longer knows is closed as abandoned, never requeued."""

from __future__ import annotations

import pytest
import requests
from twilio.base.exceptions import TwilioRestException

from callflow.models import Call
from callflow.telephony.gateway import (
    CallGone,
    RetryPolicy,
    TwilioGateway,
    TwilioRejected,
    TwilioUnavailable,
)
from queues.access import call_queues
from runtime.db import db
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN

from .conftest import CHEAP_HASHES as CHEAP
from .twilio_double import Fail, Hang


def call_row(app, call_id):
    with app.app_context():
        call = db.session.get(Call, call_id)
        db.session.expunge(call)
        db.session.remove()
        return call


def order(app):
    with app.app_context():
        return [e.call_id for e in call_queues().ordered("arm")]


@pytest.mark.parametrize(
    "failure",
    [
        [Fail(500, 20500, "Internal Server Error")] * 3,
        [Fail(429, 20429, "Too Many Requests")] * 3,
        [
            Fail(503, 20503, "Service Unavailable"),
            Fail(502, 20502, "Bad Gateway"),
            Fail(500, 20500, "Internal Server Error"),
        ],
        [Hang(1.5)] * 3,
    ],
    ids=["500", "429", "5xx-mixed", "timeout"],
)
def test_connect_failure_puts_the_call_back_in_its_place(
    app, as_staff, waiting_call, twilio_rest, failure
):
    first = waiting_call(caller="+33612345601")
    second = waiting_call(caller="+33612345602")
    before = call_row(app, first)
    arm = as_staff("arm")
    arm.available()
    twilio_rest.then(*failure)
    answer = arm.next()
    assert answer.status_code == 502
    assert "revenu à sa place" in answer.get_json()["error"]
    assert len(twilio_rest.seen("/Members/")) == 3  # bounded: three attempts, then give up
    after = call_row(app, first)
    assert (after.status, after.agent_id) == ("queued_arm", None)
    assert (after.enqueued_at, after.deadline) == (before.enqueued_at, before.deadline)
    assert order(app) == [first, second]
    me = arm.get("/api/agents/me").get_json()
    assert (me["status"], me["holding"]) == ("available", None)
    detail = arm.get(f"/api/calls/{first}").get_json()
    released = [e for e in detail["timeline"] if e["type"] == "released"]
    assert released and released[-1]["data"]["reason"] == "connect_failed"


def test_a_transient_failure_is_retried_and_connects(app, as_staff, waiting_call, twilio_rest):
    call_id = waiting_call()
    arm = as_staff("arm")
    twilio_rest.then(Fail(503, 20503), Fail(429, 20429))
    answer = arm.next()
    assert answer.status_code == 200 and answer.get_json()["call"]["id"] == call_id
    assert len(twilio_rest.seen("/Members/")) == 3


def test_a_caller_twilio_no_longer_knows_is_abandoned_not_requeued(
    app, as_staff, waiting_call, twilio_rest
):
    gone = waiting_call(caller="+33612345601")
    alive = waiting_call(caller="+33612345602")
    twilio_rest.unknown.add(call_row(app, gone).call_sid)
    arm = as_staff("arm")
    answer = arm.next()
    # The gone caller is closed; the agent gets the next caller instead.
    assert answer.status_code == 200 and answer.get_json()["call"]["id"] == alive
    closed = call_row(app, gone)
    assert (closed.status, closed.queue, closed.left_queue) == ("abandoned", None, "arm")
    with app.app_context():
        assert call_queues().entry(gone) is None
    # The member was not found, so the call itself was tried before giving up.
    assert twilio_rest.seen(f"/Calls/{closed.call_sid}.json")


def test_an_already_completed_call_is_abandoned_too(app, as_staff, waiting_call, twilio_rest):
    call_id = waiting_call()
    twilio_rest.ended.add(call_row(app, call_id).call_sid)
    arm = as_staff("arm")
    assert arm.next().status_code == 204
    assert call_row(app, call_id).status == "abandoned"
    assert arm.get("/api/agents/me").get_json()["holding"] is None


def gateway(twilio_rest, attempts=3):
    return TwilioGateway.for_account(
        twilio_rest.base_url,
        ACCOUNT_SID,
        AUTH_TOKEN,
        timeout_s=0.5,
        policy=RetryPolicy(attempts=attempts, backoff_s=0.01),
    )


def test_gateway_error_classes(twilio_rest):
    twilio_rest.then(Fail(400, 21205, "Url is not a valid URL"))
    with pytest.raises(TwilioRejected) as rejected:
        gateway(twilio_rest).redirect(call_sid="CA" + "1" * 32, url="relative")
    assert rejected.value.code == 21205
    assert isinstance(rejected.value.__cause__, TwilioRestException)
    assert len(twilio_rest.seen()) == 1  # a 4xx is not retried
    twilio_rest.ended.add("CA" + "2" * 32)
    with pytest.raises(CallGone):
        gateway(twilio_rest).redirect(call_sid="CA" + "2" * 32, url="http://x/y")
    assert gateway(twilio_rest).hang_up(call_sid="CA" + "2" * 32) is False


def test_creating_a_call_is_not_retried_after_a_timeout(twilio_rest):
    twilio_rest.then(Hang(1.5))
    with pytest.raises(TwilioUnavailable) as failed:
        gateway(twilio_rest).place_call(
            to="+33612345678", from_="+33199000015", url="http://x/y", status_callback="http://x/z"
        )
    assert isinstance(failed.value.__cause__, requests.ReadTimeout)
    assert len(twilio_rest.seen("/Calls.json")) == 1
    twilio_rest.then(Fail(503, 20503))
    sid = gateway(twilio_rest).place_call(
        to="+33612345678", from_="+33199000015", url="http://x/y", status_callback="http://x/z"
    )
    assert sid.startswith("CA") and len(twilio_rest.seen("/Calls.json")) == 3


def test_an_unreachable_twilio_is_unavailable(app):
    unreachable = TwilioGateway.for_account(
        "http://127.0.0.1:9",
        ACCOUNT_SID,
        AUTH_TOKEN,
        timeout_s=0.5,
        policy=RetryPolicy(attempts=2, backoff_s=0.01),
    )
    with pytest.raises(TwilioUnavailable):
        unreachable.dequeue(call_sid="CA" + "3" * 32, queue_sid=None, url="http://x/y")


def test_staff_routes_that_need_redis_answer_503_without_it(database_url, staff, app):
    from app import create_app
    from tests.conftest import _config

    arm = staff("arm")
    down = create_app(_config(database_url, "redis://127.0.0.1:1/0", **CHEAP))
    try:
        client = down.test_client()
        answer = client.post("/api/agents/me/next", headers=arm.headers)
        assert answer.status_code == 503 and "Redis" in answer.get_json()["error"]
        login = client.post(
            "/api/auth/token", json={"username": arm.username, "password": "x" * 10}
        )
        assert login.status_code == 503
        # What does not need Redis still works.
        assert client.get("/api/agents/me", headers=arm.headers).status_code == 200
    finally:
        with down.app_context():
            db.session.remove()
            db.engine.dispose()
