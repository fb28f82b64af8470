"""No caller number and no medical note in the logs, through a whole call and its errors."""

from __future__ import annotations

import logging

import pytest

from runtime.db import db
from runtime.log_privacy import mask_numbers

from .conftest import QUALIFICATION

CALLER = "+33612345678"
NOTES = ("douleur thoracique", "antécédents cardiaques", "consultation demain")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("from +33612345678", "from +33*******78"),
        ("from +33 6 12 34 56 78.", "from +33************78."),
        ("rappel au 06 12 34 56 78", "rappel au 06 *********78"),
        ("rappel au 0612345678!", "rappel au 061*****78!"),
        # what must stay readable: ids, SIDs, times, durations, ports
        ("call 12345 CA0612345678abcdef0612345678abcdef", None),
        ("at 2026-11-24 10:00:00.123 in 1732440000000 ms on :5432", None),
    ],
)
def test_numbers_are_masked_and_nothing_else(text, expected):
    assert mask_numbers(text) == (expected if expected is not None else text)


def test_a_whole_call_logs_no_number_and_no_note(app, as_staff, waiting_call, caplog):
    caplog.set_level(logging.DEBUG)
    call_id = waiting_call(digits="2", caller=CALLER)
    arm = as_staff("arm", "arm1")
    regulator = as_staff("regulator_liberal", "medlib")
    arm.available()
    regulator.available()
    assert arm.next().status_code == 200
    assert arm.post(f"/api/calls/{call_id}/qualification", QUALIFICATION).status_code == 200
    assert (
        arm.post(
            f"/api/calls/{call_id}/escalate", {"track": "liberal", "priority": "P2"}
        ).status_code
        == 200
    )
    assert regulator.next().status_code == 200
    decided = regulator.post(
        f"/api/calls/{call_id}/decision",
        {"outcome": "ORIENT", "urgency": "R3", "notes": NOTES[2], "orientation": "CABINET"},
    )
    assert decided.status_code == 200, decided.get_json()
    # what a careless line, a library or a traceback would print
    logging.getLogger("anything").warning("callback to %s failed", CALLER)
    try:
        raise RuntimeError(f"could not reach {CALLER}")
    except RuntimeError:
        logging.getLogger("anything").exception("Twilio error")

    assert caplog.records, "the call was logged"
    logged = caplog.text
    assert CALLER not in logged and CALLER[3:] not in logged
    assert "+33*******78" in logged
    for note in NOTES:
        assert note not in logged


def test_failed_statements_do_not_print_their_values(app):
    with app.app_context():
        assert db.engine.hide_parameters
