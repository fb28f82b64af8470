"""The emulator's own control API over HTTP, and running it as a process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from flask import Response

from callflow.telephony.emulator import RunningEmulator
from callflow.telephony.emulator.client import twilio_client_for

from .helpers import CALLER, Customer

REPOSITORY = Path(__file__).resolve().parents[2]


def control(emulator: RunningEmulator, method: str, path: str, **body: object) -> requests.Response:
    return requests.request(
        method, f"{emulator.base_url}/emulator{path}", json=body or None, timeout=10
    )


def poll(
    emulator: RunningEmulator, sid: str, check: Callable[[dict[str, Any]], bool], timeout: float = 5
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        view = control(emulator, "GET", f"/calls/{sid}").json()
        if check(view):
            return view
        assert time.monotonic() < deadline, view
        time.sleep(0.02)


def test_a_whole_call_through_the_control_api(
    emulator: RunningEmulator, customer: Customer
) -> None:
    customer.twiml(
        "/voice",
        '<Gather numDigits="1" action="/menu" timeout="60"><Say>Tapez 1</Say></Gather>',
    )
    customer.twiml("/menu", '<Enqueue waitUrl="/wait">arm</Enqueue>')
    customer.twiml("/wait", '<Pause length="10"/>')
    number = control(
        emulator,
        "PUT",
        "/numbers/+33199000015",
        voice_url=customer.url("/voice"),
        status_callback=customer.url("/status"),
    )
    assert number.status_code == 200 and number.json()["sid"].startswith("PN")

    placed = control(emulator, "POST", "/calls", **{"from": CALLER, "to": "+33199000015"})
    assert placed.status_code == 201
    sid = placed.json()["call_sid"]
    gathering = poll(emulator, sid, lambda v: v["gathering"] is not None)
    assert gathering["gathering"]["num_digits"] == 1
    answer = control(emulator, "POST", f"/calls/{sid}/input", digits="1")
    assert answer.json() == {"accepted": True}
    queued = poll(emulator, sid, lambda v: v["queue"] is not None)
    assert queued["queue"]["name"] == "arm" and queued["queue"]["position"] == 1
    assert any(e["kind"] == "say" and e["text"] == "Tapez 1" for e in queued["transcript"])
    assert [w["purpose"] for w in queued["webhooks"]][:2] == ["voice", "gather"]

    listed = control(emulator, "GET", "/calls").json()["calls"]
    assert [c["call_sid"] for c in listed] == [sid]
    hung = control(emulator, "POST", f"/calls/{sid}/hangup").json()
    assert hung["status"] == "completed"
    assert customer.wait_for("/status")[0].params["CallStatus"] == "completed"


def test_clients_and_phones(emulator: RunningEmulator, customer: Customer) -> None:
    registered = control(emulator, "POST", "/clients/alice", mode="manual")
    assert registered.status_code == 201
    assert registered.json() == {
        "address": "client:alice",
        "mode": "manual",
        "answer_delay": 0.0,
        "ringing": [],
        "connected": [],
    }
    twilio = twilio_client_for(emulator.base_url, emulator.account_sid, emulator.auth_token)
    try:
        customer.twiml("/agent", '<Pause length="60"/>')
        call = twilio.calls.create(
            to="client:alice", from_="+33199000015", url=customer.url("/agent")
        )
    finally:
        twilio.http_client.session.close()
    deadline = time.monotonic() + 5
    while not control(emulator, "GET", "/clients/alice").json()["ringing"]:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    device = control(emulator, "POST", "/clients/alice/answer").json()
    assert device["connected"][0]["call_sid"] == call.sid
    assert device["connected"][0]["from"] == "+33199000015"
    assert control(emulator, "POST", "/clients/alice/answer").status_code == 409
    control(emulator, "POST", "/clients/alice/hangup")
    poll(emulator, call.sid, lambda v: v["status"] == "completed")

    assert control(emulator, "POST", "/phones/0612", mode="auto").status_code == 400
    assert control(emulator, "POST", "/phones/+33145454545", mode="loud").status_code == 400
    assert control(emulator, "GET", "/clients/nobody").status_code == 404
    assert control(emulator, "DELETE", "/clients/alice").status_code == 204


def test_errors_and_info(emulator: RunningEmulator) -> None:
    assert control(emulator, "POST", "/calls", **{"from": CALLER}).status_code == 400
    unknown = control(emulator, "POST", "/calls", **{"from": CALLER, "to": "+33100000000"})
    assert unknown.status_code == 404
    assert control(emulator, "GET", "/calls/CA" + "0" * 32).status_code == 404
    info = control(emulator, "GET", "/info").json()
    assert info["account_sid"] == emulator.account_sid
    assert info["api_base_url"] == emulator.base_url
    assert control(emulator, "POST", "/reset").json() == {"reset": True}


def test_running_as_a_process(tmp_path: Path) -> None:
    target = tmp_path / "instance" / "emulator.json"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callflow.telephony.emulator",
            "--port",
            "0",
            "--write",
            str(target),
        ],
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "Twilio emulator on http://127.0.0.1:" in line
        written = json.loads(target.read_text())
        assert set(written) == {"api_base_url", "account_sid", "auth_token"}
        assert written["account_sid"].startswith("AC")
        twilio = twilio_client_for(
            written["api_base_url"], written["account_sid"], written["auth_token"]
        )
        try:
            assert twilio.queues.create(friendly_name="arm").friendly_name == "arm"
        finally:
            twilio.http_client.session.close()
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
        if process.stdout is not None:
            process.stdout.close()


def test_webhook_stats_count_what_the_far_end_answered(
    emulator: RunningEmulator, customer: Customer
) -> None:
    customer.twiml("/voice", "<Hangup/>")
    customer.twiml("/broken", lambda params: Response("oops", status=500))

    def slow(params: dict[str, str]) -> str:
        time.sleep(1.05)
        return "<Response><Hangup/></Response>"

    customer.twiml("/slow", slow)
    for number, path in (
        ("+33199000015", "/voice"),
        ("+33199000016", "/broken"),
        ("+33199000017", "/slow"),
    ):
        control(emulator, "PUT", f"/numbers/{number}", voice_url=customer.url(path))
        sid = control(emulator, "POST", "/calls", **{"from": CALLER, "to": number}).json()[
            "call_sid"
        ]
        poll(emulator, sid, lambda v: v["status"] in ("completed", "failed"), timeout=10)

    stats = control(emulator, "GET", "/webhook-stats").json()
    assert stats["sent"] == 3
    assert (stats["answered"], stats["http_errors"], stats["server_errors"]) == (2, 1, 1)
    assert stats["unanswered"] == 0
    assert stats["slow"] == 1 and stats["max_seconds"] >= 1.05
    slowest = stats["slowest"][0]
    assert (slowest["path"], slowest["status"]) == ("/slow", 200)
    assert slowest["seconds"] >= 1.05
    assert [w["path"] for w in stats["slowest"][1:]] in (
        ["/voice", "/broken"],
        ["/broken", "/voice"],
    )
    control(emulator, "POST", "/reset")
    assert control(emulator, "GET", "/webhook-stats").json()["sent"] == 0
