"""Small helpers for tests: parse TwiML, place calls through the signed webhooks."""

from __future__ import annotations

import itertools
import os
import xml.etree.ElementTree as ET
from typing import Any

import pytest
from werkzeug.test import TestResponse

_sids = itertools.count(1)

#: Marks for tests of several processes sharing one database: PostgreSQL's job (SQLite is the
#: one-machine default), so they run where the suite has one (`TEST_DATABASE_URL`).
ON_POSTGRESQL = [
    pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL"), reason="needs PostgreSQL"),
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]


def new_sid() -> str:
    return f"CA{next(_sids):032x}"


def twiml(response: TestResponse) -> ET.Element:
    """The TwiML document of a webhook answer; fails unless it is valid TwiML."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml", response.mimetype
    root = ET.fromstring(response.get_data())
    assert root.tag == "Response"
    return root


def verbs(root: ET.Element) -> list[str]:
    return [child.tag for child in root]


def said(root: ET.Element) -> str:
    return " ".join((e.text or "") for e in root.iter("Say"))


def call_params(
    sid: str, caller: str = "+33612345678", to: str = "+33199000015", **extra: str
) -> dict[str, Any]:
    params = {
        "CallSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": caller,
        "To": to,
        "CallStatus": "ringing",
        "Direction": "inbound",
        "ApiVersion": "2010-04-01",
    }
    params.update(extra)
    return params


def wait_for(check: Any, timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something true (returned), or fail after `timeout`."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def call_row(stack: Any, sid: str) -> Any:
    """The service's record of a call placed on a live stack, detached from its session."""
    from sqlalchemy import select

    from callflow.models import Call
    from runtime.db import db

    with stack.app.app_context():
        call = db.session.scalars(select(Call).where(Call.call_sid == sid)).first()
        if call is not None:
            db.session.expunge(call)
        db.session.remove()
        return call


def heard(stack: Any, sid: str) -> str:
    """Everything the caller has heard so far, from the emulator's transcript."""
    return " ".join(str(e.get("text", "")) for e in stack.call(sid)["transcript"])
