"""The Twilio voice webhooks: thin views that parse, call one flow, and answer TwiML.

Every view checks the Twilio signature first; every error path answers TwiML that keeps
the caller served, and logs the error with the CallSid.
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
from runtime.db import db, session
from runtime.settings import Settings

from . import arrival, hold, status, twiml
from .menu import MenuInput
from .metrics import WEBHOOK_LATENCY
from .signature import require_twilio_signature

log = logging.getLogger(__name__)

voice = Blueprint("voice", __name__, url_prefix="/twilio/voice")


def _settings() -> Settings:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings


def _form(name: str, limit: int = 256) -> str:
    return (request.form.get(name) or "").strip()[:limit]


def webhook(*, on_error: Callable[[Settings], Response]) -> Callable[..., Any]:
    """Signature check, latency metric, and a safe answer whatever goes wrong inside."""

    def decorate(view: Callable[[], Response]) -> Callable[[], Response]:
        @functools.wraps(view)
        def served() -> Response:
            started = time.perf_counter()
            try:
                return view()
            except Exception:
                log.exception(
                    "webhook %s failed for CallSid=%s",
                    request.path,
                    request.form.get("CallSid", "-"),
                )
                try:
                    db.session.rollback()
                except Exception:
                    log.exception("rollback failed")
                return on_error(_settings())
            finally:
                WEBHOOK_LATENCY.labels(view.__name__).observe(time.perf_counter() - started)

        return require_twilio_signature(served)

    return decorate


@voice.post("/incoming")
@webhook(on_error=twiml.safe_path)
def incoming() -> Response:
    return arrival.arrive(
        session(),
        call_queues(),
        _settings(),
        call_sid=_form("CallSid", 64),
        caller_raw=_form("From", 64),
        dialled=_form("To", 64),
    )


@voice.post("/menu")
@webhook(on_error=twiml.safe_path)
def menu() -> Response:
    return arrival.choose(
        session(),
        call_queues(),
        _settings(),
        call_sid=_form("CallSid", 64),
        caller_raw=_form("From", 64),
        dialled=_form("To", 64),
        entry=MenuInput(digits=_form("Digits", 16), speech=_form("SpeechResult", 512)),
    )


@voice.post("/hold", endpoint="hold")
@webhook(on_error=lambda settings: _keep_waiting(settings))
def hold_loop() -> Response:
    return hold.hold(
        session(),
        call_queues(),
        _settings(),
        call_sid=_form("CallSid", 64),
        queue_sid=_form("QueueSid", 64) or None,
    )


@voice.post("/callback-offer")
@webhook(on_error=lambda settings: _keep_waiting(settings))
def callback_offer() -> Response:
    return hold.callback_choice(
        session(),
        call_queues(),
        _settings(),
        call_sid=_form("CallSid", 64),
        digits=_form("Digits", 16),
    )


@voice.post("/queue-exit")
@webhook(on_error=twiml.safe_path)
def queue_exit() -> Response:
    return hold.queue_exit(
        session(), _settings(), call_sid=_form("CallSid", 64), result=_form("QueueResult", 32)
    )


@voice.post("/status")
@webhook(on_error=lambda settings: twiml.empty())
def status_callback() -> Response:
    return status.call_ended(
        session(),
        call_queues(),
        _settings(),
        call_sid=_form("CallSid", 64),
        call_status=_form("CallStatus", 32),
        duration=_form("CallDuration", 16) or None,
        caller_raw=_form("From", 64),
        dialled=_form("To", 64),
    )


@voice.post("/fallback")
@webhook(on_error=twiml.safe_path)
def fallback() -> Response:
    return status.fallback(
        session(),
        _settings(),
        call_sid=_form("CallSid", 64),
        error_code=_form("ErrorCode", 16) or None,
        error_url=_form("ErrorUrl", 512) or None,
    )


def _keep_waiting(settings: Settings) -> Response:
    """A waiting caller keeps waiting, even when the hold loop failed."""
    response = VoiceResponse()
    response.pause(length=settings.hold_pause_s)
    return twiml.xml(response)
