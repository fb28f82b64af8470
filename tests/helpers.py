"""Small helpers for tests: parse TwiML, place calls through the signed webhooks."""

from __future__ import annotations

import itertools
import xml.etree.ElementTree as ET
from typing import Any

from werkzeug.test import TestResponse

_sids = itertools.count(1)


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
