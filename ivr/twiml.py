"""TwiML documents the service answers, built with the `twilio` library.

Every webhook URL placed in TwiML is relative to the service, or under `PUBLIC_BASE_URL`
when the service sits behind a proxy.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

from flask import Response, current_app, request, url_for
from twilio.twiml.voice_response import VoiceResponse

from runtime.settings import Settings

#: The Twilio queue the ARM callers are parked in. It is also the safe path: the fallback
#: parks callers here, and the ARMs drain it, so a caller is never left unserved.
TWILIO_ARM_QUEUE = "sas-arm"
TWILIO_QUEUES = {
    "arm": TWILIO_ARM_QUEUE,
    "callback": TWILIO_ARM_QUEUE,
    "amu": "sas-amu",
    "liberal": "sas-liberal",
}


def webhook_url(settings: Settings, endpoint: str, **values: Any) -> str:
    path = url_for(endpoint, **values)
    if settings.public_base_url:
        return settings.public_base_url + path
    return path


def say(response: VoiceResponse, settings: Settings, text: str) -> None:
    response.say(text, language=settings.ivr_language, voice=settings.ivr_voice)


def xml(response: VoiceResponse, status: int = 200) -> Response:
    return Response(str(response), status=status, mimetype="text/xml")


#: Where each app keeps the documents `fixed` built; bounded, should many path prefixes come.
_FIXED = "ivr.fixed_documents"
_FIXED_MAX = 64


def fixed(key: tuple[Hashable, ...], build: Callable[[], VoiceResponse]) -> Response:
    """A document that depends on nothing but the app's settings and `key` (the menu of a
    line): built once per app and path prefix (the webhook URLs in it are relative to that
    prefix), then served from memory."""
    documents: dict[tuple[Hashable, ...], str] = current_app.extensions.setdefault(_FIXED, {})
    full = (request.script_root, *key)
    body = documents.get(full)
    if body is None:
        body = str(build())
        if len(documents) < _FIXED_MAX:
            documents[full] = body
    return Response(body, mimetype="text/xml")


def empty() -> Response:
    return xml(VoiceResponse())


def hangup(settings: Settings, text: str | None = None) -> Response:
    response = VoiceResponse()
    if text:
        say(response, settings, text)
    response.hangup()
    return xml(response)


#: Where callers go when a Twilio queue is full (Twilio caps a queue at 5,000 callers): the
#: service's order does not depend on which Twilio queue a caller is parked in.
SPILL_SUFFIX = "-spill"


def enqueue(settings: Settings, *, queue: str, text: str | None, spill: bool = False) -> Response:
    """Park the caller in the Twilio queue; the service decides who is served first."""
    response = VoiceResponse()
    if text:
        say(response, settings, text)
    response.enqueue(
        TWILIO_QUEUES[queue] + (SPILL_SUFFIX if spill else ""),
        wait_url=webhook_url(settings, "voice.hold"),
        wait_url_method="POST",
        action=webhook_url(settings, "voice.queue_exit"),
        method="POST",
    )
    return xml(response)


def safe_path(settings: Settings) -> Response:
    """What a caller gets when something inside the service failed: a human anyway."""
    response = VoiceResponse()
    say(response, settings, "Veuillez patienter.")
    if settings.backup_number:
        response.dial(settings.backup_number)
    else:
        response.enqueue(TWILIO_ARM_QUEUE)
    return xml(response)
