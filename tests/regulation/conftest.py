"""Fixtures of the regulation tests: a Twilio REST double on a real port, cheap password
hashes, staff with bearer tokens, and calls placed through the signed webhooks."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, TwilioWebhooks
from tests.helpers import new_sid
from tests.ivr.test_incoming import dial, press, the_call

from .twilio_double import TwilioDouble

PASSWORD = "motdepasse-solide"
CHEAP_HASHES = {"ARGON2_TIME_COST": "1", "ARGON2_MEMORY_KIB": "64"}


@pytest.fixture()
def twilio_rest() -> Iterator[TwilioDouble]:
    double = TwilioDouble(ACCOUNT_SID, AUTH_TOKEN).start()
    try:
        yield double
    finally:
        double.stop()


@pytest.fixture()
def app_config(twilio_rest: TwilioDouble) -> dict[str, Any]:
    return {
        **CHEAP_HASHES,
        "TWILIO_API_BASE_URL": twilio_rest.base_url,
        "TWILIO_REST_BACKOFF_S": "0.01",
        "TWILIO_REST_TIMEOUT_S": "0.5",
    }


@dataclass
class Person:
    id: int
    username: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


_names = itertools.count(1)


@pytest.fixture()
def staff(app: Flask) -> Callable[..., Person]:
    """`staff(role, username=None)` -> a new account with a bearer token."""
    from regulation.auth import create_staff, issue_token
    from runtime.db import db

    def make(role: str, username: str | None = None) -> Person:
        name = username or f"{role}-{next(_names)}"
        with app.app_context():
            settings = app.extensions["regulation_settings"]
            person = create_staff(db.session, settings, username=name, role=role, password=PASSWORD)
            token = issue_token(db.session, settings, person)
            db.session.commit()
            made = Person(person.id, name, role, token)
            db.session.remove()
        return made

    return make


class Staff:
    """Calls the staff API as one person."""

    def __init__(self, client: FlaskClient, person: Person) -> None:
        self.client = client
        self.person = person

    def get(self, path: str) -> Any:
        return self.client.get(path, headers=self.person.headers)

    def post(self, path: str, body: Any = None) -> Any:
        if body is None:
            return self.client.post(path, headers=self.person.headers)
        return self.client.post(path, json=body, headers=self.person.headers)

    def put(self, path: str, body: Any) -> Any:
        return self.client.put(path, json=body, headers=self.person.headers)

    def available(self) -> Any:
        answer = self.put("/api/agents/me/presence", {"status": "available"})
        assert answer.status_code == 200, answer.get_json()
        return answer

    def next(self) -> Any:
        return self.post("/api/agents/me/next")


@pytest.fixture()
def as_staff(client: FlaskClient, staff: Callable[..., Person]) -> Callable[..., Staff]:
    def make(role: str, username: str | None = None) -> Staff:
        return Staff(client, staff(role, username))

    return make


QUALIFICATION: dict[str, Any] = {
    "priority": "P1",
    "reason": "douleur thoracique",
    "location": {"address": "12 rue de la Paix, Paris", "postcode": "75002", "floor": "3"},
    "patient": {"age": 58, "sex": "M"},
    "notes": "antécédents cardiaques",
}


@pytest.fixture()
def waiting_call(app: Flask, twilio: TwilioWebhooks) -> Callable[..., int]:
    """`waiting_call(digits="2", caller=...)` -> the id of a call now waiting for an ARM,
    placed through the signed webhooks (with a Twilio QueueSid from the hold loop)."""

    def place(digits: str = "2", caller: str = "+33612345678", sid: str | None = None) -> int:
        sid = sid or new_sid()
        dial(twilio, sid, caller=caller)
        press(twilio, sid, digits=digits, caller=caller)
        from tests.helpers import call_params

        twilio.post(
            "/twilio/voice/hold",
            call_params(sid, caller, QueueSid="QU" + "a" * 32, QueuePosition="1"),
        )
        return the_call(app, sid).id

    return place
