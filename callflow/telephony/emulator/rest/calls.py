"""The Call resource: create, fetch, update
(https://www.twilio.com/docs/voice/api/call-resource).

- Create takes `To` and `From` (E.164 or `client:<identity>`), then `Twiml` (which wins over
  `Url`) or `Url` with `Method`; `FallbackUrl` / `FallbackMethod`; `StatusCallback`,
  `StatusCallbackEvent` (`initiated ringing answered completed`; `completed` when only the URL
  is given), `StatusCallbackMethod`; `Timeout` (ringing seconds, 60 by default, at most 600).
  The call answers `201` with status `queued`, then rings its callee (`ringing.py`) and, once
  answered, requests its TwiML with `CallStatus=in-progress`.
- Update with `Url` (+ `Method`) or `Twiml` moves an in-progress call to that TwiML at once
  (out of a queue, bridge or conference it was in); on a call still ringing it replaces the
  TwiML to run on answer. `Status=completed` hangs up an in-progress call; `canceled` (or
  `completed`) ends a queued or ringing one. Any update of a call that has ended is error 21220.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from ..ids import is_dialable, new_sid
from ..models import CallLeg, DocumentRequest
from ..state import CallStateError, EmulatorState
from ..webhooks import is_absolute_http_url
from . import forms
from .errors import ApiError, bad_parameter, not_found
from .representations import call_json

CALL_EVENTS = frozenset({"initiated", "ringing", "answered", "completed"})


def register(blueprint: Blueprint, state: EmulatorState) -> None:
    def find(sid: str, path: str) -> CallLeg:
        leg = state.legs.get(sid)
        if leg is None:
            raise not_found(path)
        return leg

    @blueprint.post("/Calls.json")
    def create_call(account_sid: str) -> tuple[dict[str, Any], int]:
        to, from_ = forms.value("To"), forms.value("From")
        if to is None:
            raise ApiError(400, 21201, "No 'To' number is specified")
        if from_ is None:
            raise ApiError(400, 21213, "No 'From' number is specified")
        if not is_dialable(to):
            raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        if not is_dialable(from_):
            raise ApiError(400, 21212, f"Invalid 'From' Phone Number: {from_}")
        leg = _new_leg(state, to, from_)
        with state.lock:
            body = call_json(state, leg)
        state.launch(leg)
        return body, 201

    @blueprint.get("/Calls/<sid>.json")
    def fetch_call(account_sid: str, sid: str) -> dict[str, Any]:
        leg = find(sid, request.path)
        with state.lock:
            return call_json(state, leg)

    @blueprint.post("/Calls/<sid>.json")
    def update_call(account_sid: str, sid: str) -> dict[str, Any]:
        leg = find(sid, request.path)
        status = forms.value("Status")
        if status is not None and status not in ("completed", "canceled"):
            raise bad_parameter("Status", "must be completed or canceled")
        twiml, url = forms.value("Twiml"), forms.url("Url")
        method = forms.method("Method")
        callback = forms.url("StatusCallback")
        callback_method = forms.method("StatusCallbackMethod")
        fallback, fallback_method = forms.url("FallbackUrl"), forms.method("FallbackMethod")
        try:
            with state.lock:
                if leg.ended:
                    raise CallStateError("Call is not in-progress. Cannot redirect.")
                if callback is not None:
                    leg.status_callback = callback
                    leg.status_callback_method = callback_method
                if fallback is not None:
                    leg.fallback_url, leg.fallback_method = fallback, fallback_method
            if status is not None:
                state.end_call(leg, status)
            elif twiml is not None:
                state.redirect_call(leg, DocumentRequest(None, twiml=twiml, purpose="redirect"))
            elif url is not None:
                state.redirect_call(leg, DocumentRequest(url, method, purpose="redirect"))
        except CallStateError as error:
            raise ApiError(400, 21220, str(error)) from error
        with state.lock:
            return call_json(state, leg)


def _new_leg(state: EmulatorState, to: str, from_: str) -> CallLeg:
    twiml, url = forms.value("Twiml"), forms.value("Url")
    if twiml is None and url is None and forms.value("ApplicationSid"):
        raise ApiError(400, 21218, "Invalid ApplicationSid: the emulator has no TwiML Apps")
    if twiml is not None:
        initial = DocumentRequest(None, twiml=twiml)
    elif url is not None:
        if not is_absolute_http_url(url):
            raise ApiError(400, 21205, f"Url is not a valid URL: {url}")
        initial = DocumentRequest(url, forms.method("Method"), purpose="voice")
    else:
        raise ApiError(400, 21205, "Url parameter is required")
    callback = forms.url("StatusCallback")
    events = forms.words("StatusCallbackEvent") & CALL_EVENTS
    now = state.now()
    return CallLeg(
        sid=new_sid("CA"),
        account_sid=state.account_sid,
        direction="outbound-api",
        from_=from_,
        to=to,
        date_created=now,
        date_updated=now,
        created_offset=state.offset(),
        initial=initial,
        fallback_url=forms.url("FallbackUrl"),
        fallback_method=forms.method("FallbackMethod"),
        status_callback=callback,
        status_callback_method=forms.method("StatusCallbackMethod"),
        status_callback_events=events or frozenset({"completed"}),
        ring_timeout=forms.integer("Timeout", 60, 1, 600),
    )
