"""Helpers for the emulator's tests: the customer's webhook server, and reading call views."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator

from callflow.telephony.emulator import RunningEmulator

#: One emulated second lasts 10 ms: a 5 s gather timeout is 50 ms, a 30 s dial timeout 0.3 s.
TIME_SCALE = 0.01
PUBLIC_NUMBER = "+33199000015"
CALLER = "+33612345678"

Handler = Callable[[dict[str, str]], Any]


@dataclass
class Received:
    path: str
    method: str
    params: dict[str, str]
    signature_valid: bool


class Customer:
    """The customer's webhook server: TwiML per path, and every request it got."""

    def __init__(self, auth_token: str) -> None:
        self.validator = RequestValidator(auth_token)
        self.routes: dict[str, Handler | str] = {}
        self.requests: list[Received] = []
        self.changed = threading.Condition()
        self.base_url = ""
        self.app = Flask("customer")
        self.app.add_url_rule("/<path:path>", "handle", self._handle, methods=["GET", "POST"])

    def _handle(self, path: str) -> Any:
        signature = request.headers.get("X-Twilio-Signature", "")
        form = request.form if request.method == "POST" else {}
        valid = self.validator.validate(request.url, form, signature)
        params = request.form.to_dict() if request.method == "POST" else request.args.to_dict()
        with self.changed:
            self.requests.append(Received("/" + path, request.method, params, valid))
            self.changed.notify_all()
        route = self.routes.get("/" + path)
        if route is None:
            return Response("<Response/>", mimetype="text/xml")
        result = route(params) if callable(route) else route
        if isinstance(result, str):
            return Response(result, mimetype="text/xml")
        return result

    def url(self, path: str) -> str:
        return self.base_url + path

    def twiml(self, path: str, body: str | Handler) -> None:
        """Answer `path` with `<Response>body</Response>` (or what the handler returns)."""
        if callable(body):
            self.routes[path] = body
        else:
            self.routes[path] = f"<Response>{body}</Response>"

    def received(self, path: str) -> list[Received]:
        with self.changed:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Received]:
        """The requests to `path`, once there are at least `count` of them."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                found = [r for r in self.requests if r.path == path]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [r.path for r in self.requests]
                    raise AssertionError(f"{count} request(s) to {path} expected; got {seen}")
                self.changed.wait(remaining)


def wait_call(
    emulator: RunningEmulator, sid: str, check: Callable[[dict[str, Any]], bool], timeout: float = 5
) -> dict[str, Any]:
    return emulator.state.wait_for_call(sid, check, timeout)


def ended(view: dict[str, Any]) -> bool:
    return view["status"] in ("completed", "busy", "failed", "no-answer", "canceled")


def kinds(view: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in view["transcript"]]


def said(view: dict[str, Any]) -> list[str]:
    return [entry["text"] for entry in view["transcript"] if entry["kind"] == "say"]


#: The properties of each resource in Twilio's OpenAPI description (twilio-oai 2.6.7,
#: `spec/json/twilio_api_v2010.json`, as copied to the project's shared specs).
SCHEMA_PROPERTIES: dict[str, frozenset[str]] = {
    "api.v2010.account.call": frozenset(
        {
            "account_sid",
            "answered_by",
            "api_version",
            "caller_name",
            "date_created",
            "date_updated",
            "direction",
            "duration",
            "end_time",
            "forwarded_from",
            "from",
            "from_formatted",
            "group_sid",
            "parent_call_sid",
            "phone_number_sid",
            "price",
            "price_unit",
            "queue_time",
            "sid",
            "start_time",
            "status",
            "subresource_uris",
            "to",
            "to_formatted",
            "trunk_sid",
            "uri",
        }
    ),
    "api.v2010.account.queue": frozenset(
        {
            "account_sid",
            "average_wait_time",
            "current_size",
            "date_created",
            "date_updated",
            "friendly_name",
            "max_size",
            "sid",
            "uri",
        }
    ),
    "api.v2010.account.queue.member": frozenset(
        {
            "call_sid",
            "date_enqueued",
            "position",
            "queue_sid",
            "uri",
            "wait_time",
        }
    ),
    "api.v2010.account.conference": frozenset(
        {
            "account_sid",
            "api_version",
            "call_sid_ending_conference",
            "date_created",
            "date_updated",
            "friendly_name",
            "reason_conference_ended",
            "region",
            "sid",
            "status",
            "subresource_uris",
            "uri",
        }
    ),
    "api.v2010.account.conference.participant": frozenset(
        {
            "account_sid",
            "call_sid",
            "call_sid_to_coach",
            "coaching",
            "conference_sid",
            "date_created",
            "date_updated",
            "end_conference_on_exit",
            "hold",
            "label",
            "muted",
            "queue_time",
            "start_conference_on_enter",
            "status",
            "uri",
        }
    ),
    "api.v2010.account.message": frozenset(
        {
            "account_sid",
            "api_version",
            "body",
            "date_created",
            "date_sent",
            "date_updated",
            "direction",
            "error_code",
            "error_message",
            "from",
            "messaging_service_sid",
            "num_media",
            "num_segments",
            "price",
            "price_unit",
            "sid",
            "status",
            "subresource_uris",
            "to",
            "uri",
        }
    ),
}


def schema_properties(name: str) -> frozenset[str]:
    return SCHEMA_PROPERTIES[name]


def raw_api(emulator: RunningEmulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    """A request to the emulator's REST API without the twilio client, to see raw JSON."""
    url = f"{emulator.base_url}/2010-04-01/Accounts/{emulator.account_sid}{path}"
    auth = (emulator.account_sid, emulator.auth_token)
    return requests.request(method, url, auth=auth, timeout=5, **kwargs)
