"""Fuzzing the Twilio webhooks: whatever Twilio (or someone with the auth token) posts, every
route answers 200 with valid TwiML, never a 500 and never a document Twilio would reject."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import PUBLIC_NUMBER
from tests.helpers import call_params, new_sid

from .conftest import FUZZ

#: The verbs and nouns the service may answer with, and what each may contain.
TWIML_CHILDREN = {
    "Response": {
        "Say",
        "Play",
        "Pause",
        "Gather",
        "Redirect",
        "Enqueue",
        "Dial",
        "Hangup",
        "Leave",
        "Reject",
    },
    "Gather": {"Say", "Play", "Pause"},
    "Dial": {"Client", "Number", "Queue", "Conference"},
    "Enqueue": set(),
    "Client": {"Identity", "Parameter"},
    "Identity": set(),
    "Parameter": set(),
    "Say": set(),
    "Play": set(),
    "Pause": set(),
    "Redirect": set(),
    "Hangup": set(),
    "Leave": set(),
    "Reject": set(),
    "Number": set(),
    "Queue": set(),
    "Conference": set(),
}

TEXT = st.text(max_size=60)
SIDS = [new_sid() for _ in range(3)]


def _choice(known: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(known), TEXT)


FIELDS = {
    "CallSid": _choice(SIDS),
    "From": _choice(["+33612345678", "+33145678901", "anonymous", "", "0612345678"]),
    "To": _choice([PUBLIC_NUMBER, "+33199000016", ""]),
    "Digits": _choice(["1", "2", "9", "#", "", "12"]),
    "SpeechResult": _choice(["j'ai très mal à la poitrine", "bonjour", ""]),
    "CallStatus": _choice(
        ["ringing", "in-progress", "completed", "busy", "no-answer", "failed", "canceled"]
    ),
    "CallDuration": _choice(["0", "12", "-1", "99999999999"]),
    "QueueResult": _choice(
        ["bridged", "hangup", "queue-full", "redirected", "error", "leave", "system-error"]
    ),
    "QueueSid": _choice(["QU" + "a" * 32]),
    "QueuePosition": _choice(["1", "0", "-3"]),
    "QueueTime": _choice(["5", "x"]),
    "DialCallStatus": _choice(["completed", "busy", "no-answer", "failed", "canceled"]),
    "ErrorCode": _choice(["11200", "12100"]),
    "ErrorUrl": _choice(["http://localhost/twilio/voice/incoming"]),
}
PARAMS = st.fixed_dictionaries({}, optional=FIELDS)


def _routes(app) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/twilio/"):
            path = re.sub(r"<int:\w+>", "1", rule.rule)
            found += [(path, m) for m in sorted(rule.methods - {"HEAD", "OPTIONS"})]
    return found


def _valid_twiml(body: bytes) -> None:
    root = ET.fromstring(body)
    assert root.tag == "Response"
    for parent in root.iter():
        allowed = TWIML_CHILDREN.get(parent.tag)
        assert allowed is not None, f"unknown TwiML element <{parent.tag}>"
        for child in parent:
            assert child.tag in allowed, f"<{child.tag}> inside <{parent.tag}>"


def test_every_webhook_answers_valid_twiml_whatever_it_is_sent(app, twilio):
    routes = _routes(app)
    seen: list[str] = []
    for sid in SIDS:  # some known calls, waiting in the ARM queue, for the fuzz to hit
        twilio.post("/twilio/voice/incoming", call_params(sid))
        twilio.post("/twilio/voice/menu", call_params(sid, Digits="2"))

    @FUZZ
    @given(
        route=st.sampled_from(routes), params=PARAMS, extra=st.dictionaries(TEXT, TEXT, max_size=3)
    )
    def post_anything(route, params, extra):
        path, method = route
        form = {**extra, **params}
        answer = twilio.post(path, form) if method == "POST" else twilio.client.get(path)
        assert answer.status_code == 200, (path, form, answer.status_code)
        assert answer.mimetype == "text/xml", (path, answer.mimetype)
        _valid_twiml(answer.get_data())
        seen.append(path)

    post_anything()
    assert len(set(seen)) > 1
