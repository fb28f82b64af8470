"""TwiML for a caller an agent has claimed: the document that dials the agent's softphone
(`<Dial action><Client url>`), the answer on the agent's side, the end of that dial (no
answer: the caller goes back to their place and waits again), the hold document (back on
hold, or waiting for a regulator after an escalation), and the status callback of outbound
callback legs.

The service reaches these through Twilio's REST API (`regulation.telephony` builds their
absolute URLs); each answers from the call's record, so a late or repeated request is safe.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, request
from twilio.twiml.voice_response import VoiceResponse

from queues.access import call_queues
from regulation import callbacks, connection
from regulation.connection import LineAction
from regulation.presence import client_identity
from regulation.telephony import (
    CONNECT_PREFIX,
    answered_path,
    dial_result_path,
)
from runtime.db import db, session
from runtime.settings import Settings

from . import twiml
from .metrics import WEBHOOK_LATENCY
from .signature import require_twilio_signature

log = logging.getLogger(__name__)

connect = Blueprint("connect", __name__, url_prefix=CONNECT_PREFIX)

HOLD_TEXT = {
    "escalated": "Nous vous transférons vers un médecin régulateur. Restez en ligne.",
    "transferred": "Nous vous transférons vers un autre médecin régulateur. Restez en ligne.",
    "back": "Veuillez patienter, nous allons vous répondre.",
}
CALLBACK_GREETING = (
    "Bonjour, ici le service d'accès aux soins, nous vous rappelons. Ne quittez pas."
)
CALLBACK_LATER = (
    "Nous n'avons pas pu vous mettre en relation. Nous vous rappellerons. "
    "En cas d'aggravation, appelez le 15."
)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings


def _url(path: str) -> str:
    """A URL for TwiML: relative, or under PUBLIC_BASE_URL."""
    settings = _settings()
    return (settings.public_base_url + path) if settings.public_base_url else path


def _form(name: str, limit: int = 64) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def connect_webhook(
    on_error: Callable[[Settings], Response],
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Signature check, latency metric, and a safe answer whatever goes wrong inside."""

    def decorate(view: Callable[..., Response]) -> Callable[..., Response]:
        @functools.wraps(view)
        def served(**kwargs: Any) -> Response:
            started = time.perf_counter()
            try:
                return view(**kwargs)
            except Exception:
                log.exception("webhook %s failed for CallSid=%s", request.path, _form("CallSid"))
                db.session.rollback()
                return on_error(_settings())
            finally:
                WEBHOOK_LATENCY.labels(view.__name__).observe(time.perf_counter() - started)

        return require_twilio_signature(served)

    return decorate


def for_action(action: LineAction, queue: str | None, *, why: str = "back") -> Response:
    settings = _settings()
    if action is LineAction.HOLD:
        return twiml.enqueue(settings, queue=queue or "arm", text=HOLD_TEXT.get(why))
    if action is LineAction.CALL_BACK_LATER:
        return twiml.hangup(settings, CALLBACK_LATER)
    return twiml.hangup(settings)


@connect.post("/<int:call_id>/agent/<int:agent_id>", endpoint="dial_agent")
@connect_webhook(on_error=twiml.safe_path)
def dial_agent(call_id: int, agent_id: int) -> Response:
    """Dial the agent who holds the call; anything else when the call has moved on."""
    call = connection.call_for_line(session(), call_id=call_id)
    action = connection.line_action(call, agent_id=agent_id)
    if call is None or action is not LineAction.DIAL_AGENT:
        return for_action(action, call.queue if call else None)
    settings = current_app.extensions["regulation_settings"]
    response = VoiceResponse()
    if connection.is_callback_leg(call, _form("CallSid")):
        twiml.say(response, _settings(), CALLBACK_GREETING)
    dial = response.dial(
        action=_url(dial_result_path(call_id, agent_id)),
        method="POST",
        timeout=settings.agent_ring_timeout_s,
    )
    dial.client(
        client_identity(agent_id), url=_url(answered_path(call_id, agent_id)), method="POST"
    )
    return twiml.xml(response)


@connect.post("/<int:call_id>/agent/<int:agent_id>/answered", endpoint="agent_answered")
@connect_webhook(on_error=lambda settings: twiml.empty())
def agent_answered(call_id: int, agent_id: int) -> Response:
    """Runs on the agent's leg when they pick up: empty lets the bridge happen; a call no
    longer theirs is declined."""
    if connection.agent_answered(session(), call_id=call_id, agent_id=agent_id):
        return twiml.empty()
    response = VoiceResponse()
    response.hangup()
    return twiml.xml(response)


@connect.post("/<int:call_id>/agent/<int:agent_id>/after", endpoint="dial_ended")
@connect_webhook(on_error=twiml.safe_path)
def dial_ended(call_id: int, agent_id: int) -> Response:
    action = connection.dial_ended(
        session(),
        call_queues(),
        call_id=call_id,
        agent_id=agent_id,
        dial_status=_form("DialCallStatus", 32),
        call_sid=_form("CallSid"),
    )
    call = connection.call_for_line(session(), call_id=call_id)
    return for_action(action, call.queue if call else None)


@connect.post("/<int:call_id>/hold", endpoint="hold")
@connect_webhook(on_error=twiml.safe_path)
def hold(call_id: int) -> Response:
    """Back on hold (release, lease expiry), or waiting for a regulator (escalation)."""
    why = request.args.get("why", "back")
    call = connection.call_for_line(session(), call_id=call_id)
    action = connection.line_action(call)
    return for_action(action, call.queue if call else None, why=why)


@connect.post("/<int:call_id>/callback-status", endpoint="callback_status")
@connect_webhook(on_error=lambda settings: twiml.empty())
def callback_status(call_id: int) -> Response:
    callbacks.leg_status(
        session(),
        call_queues(),
        call_id=call_id,
        leg_sid=_form("CallSid"),
        status=_form("CallStatus", 32),
    )
    return twiml.empty()
