"""The regulation side of telephony: the URLs of the connect documents (`ivr/connect.py`
serves them), the app's Twilio gateway, and the few call-control steps the flows take.

Every URL given to Twilio in a REST request is absolute: under `PUBLIC_BASE_URL`, else the
current request's host, else `http://127.0.0.1:<PORT>` (a job outside any request).
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from flask import current_app, has_request_context, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from callflow.models import Call
from callflow.telephony.gateway import (
    CallGone,
    RetryPolicy,
    TwilioFailure,
    TwilioGateway,
)
from runtime.settings import Settings

from .config import RegulationSettings
from .models import CallbackAttempt

log = logging.getLogger(__name__)

#: Where `ivr/connect.py` serves the connect documents (its blueprint's prefix).
CONNECT_PREFIX = "/twilio/voice/connect"


def connect_path(call_id: int, agent_id: int) -> str:
    """TwiML that dials the agent's softphone for this call."""
    return f"{CONNECT_PREFIX}/{call_id}/agent/{agent_id}"


def answered_path(call_id: int, agent_id: int) -> str:
    """Run on the agent's leg when they pick up (`<Client url>`): the caller is answered."""
    return f"{CONNECT_PREFIX}/{call_id}/agent/{agent_id}/answered"


def dial_result_path(call_id: int, agent_id: int) -> str:
    """The `<Dial action>`: the agent did not answer, or the conversation ended."""
    return f"{CONNECT_PREFIX}/{call_id}/agent/{agent_id}/after"


def hold_path(call_id: int, why: str) -> str:
    """TwiML that puts the caller (back) on hold in the Twilio queue of the call's queue."""
    return f"{CONNECT_PREFIX}/{call_id}/hold?{urlencode({'why': why})}"


def callback_status_path(call_id: int) -> str:
    """Status callback of an outbound callback leg."""
    return f"{CONNECT_PREFIX}/{call_id}/callback-status"


def sas_settings() -> Settings:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings


def regulation_settings() -> RegulationSettings:
    settings: RegulationSettings = current_app.extensions["regulation_settings"]
    return settings


def absolute(path: str) -> str:
    settings = sas_settings()
    if settings.public_base_url:
        return settings.public_base_url + path
    if has_request_context():
        return request.host_url.rstrip("/") + path
    return f"http://127.0.0.1:{settings.port}{path}"


def gateway() -> TwilioGateway:
    """The app's Twilio gateway (one client, its connections pooled)."""
    found = current_app.extensions.get("twilio_gateway")
    if isinstance(found, TwilioGateway):
        return found
    settings, mine = sas_settings(), regulation_settings()
    built = TwilioGateway.for_account(
        settings.twilio_api_base_url,
        settings.twilio_account_sid or "",
        settings.twilio_auth_token or "",
        timeout_s=mine.twilio_rest_timeout_s,
        policy=RetryPolicy(
            attempts=mine.twilio_rest_attempts, backoff_s=mine.twilio_rest_backoff_s
        ),
    )
    current_app.extensions["twilio_gateway"] = built
    return built


def live_callback(session: Session, call: Call) -> CallbackAttempt | None:
    """The callback leg now on the line with the patient, if any."""
    return session.scalars(
        select(CallbackAttempt)
        .where(
            CallbackAttempt.call_id == call.id,
            CallbackAttempt.answered_at.is_not(None),
            CallbackAttempt.ended_at.is_(None),
        )
        .order_by(CallbackAttempt.id.desc())
        .limit(1)
    ).first()


def live_leg_sid(session: Session, call: Call) -> str:
    """The CallSid of the caller's leg now: a callback leg, else the call's own."""
    attempt = live_callback(session, call)
    if attempt is not None and attempt.leg_sid:
        return attempt.leg_sid
    return call.call_sid


def put_on_hold(session: Session, call: Call, *, why: str) -> bool:
    """Redirect the caller's live leg to the hold document; False when it failed (logged).
    Commits first: call it with nothing pending but what may be committed."""
    leg, call_id = live_leg_sid(session, call), call.id
    session.commit()  # no transaction open across the REST request
    try:
        gateway().redirect(call_sid=leg, url=absolute(hold_path(call_id, why)))
    except CallGone:
        log.info("call %s: the caller's leg %s has ended; nothing to put on hold", call_id, leg)
        return False
    except TwilioFailure as exc:
        log.error("call %s: could not put the caller on hold: %s", call_id, exc)
        return False
    return True


def hang_up_caller(session: Session, call: Call) -> None:
    """End the caller's live leg (the call is over); failures are logged, not raised."""
    leg, call_id = live_leg_sid(session, call), call.id
    session.commit()  # no transaction open across the REST request
    try:
        gateway().hang_up(call_sid=leg)
    except TwilioFailure as exc:
        log.error("call %s: could not hang up leg %s: %s", call_id, leg, exc)


def voice_access_token(staff_id: int) -> str | None:
    """A Twilio Voice access token (JWT with a VoiceGrant) for the agent's softphone, whose
    identity is the one `<Dial><Client>` rings; None when no API key is configured."""
    from twilio.jwt.access_token import AccessToken
    from twilio.jwt.access_token.grants import VoiceGrant

    from .presence import client_identity

    settings, mine = sas_settings(), regulation_settings()
    key_sid, secret = mine.twilio_api_key_sid, mine.twilio_api_key_secret
    if not (key_sid and secret):
        if not settings.emulator_mode:
            return None
        key_sid, secret = settings.twilio_account_sid, settings.twilio_auth_token
    token = AccessToken(
        settings.twilio_account_sid or "",
        key_sid or "",
        secret or "",
        identity=client_identity(staff_id),
        ttl=mine.voice_token_ttl_s,
    )
    token.add_grant(
        VoiceGrant(incoming_allow=True, outgoing_application_sid=mine.twilio_twiml_app_sid)
    )
    jwt = token.to_jwt()
    return jwt.decode() if isinstance(jwt, bytes) else str(jwt)
