"""`X-Twilio-Signature` checks for every Twilio webhook (fail closed).

The URL signed by Twilio is the public one: under `PUBLIC_BASE_URL` when it is set (the
service sits behind a proxy that changes scheme, host and port), else the request's own URL
(after `ProxyFix`, the one place `X-Forwarded-*` are honoured, when `TRUSTED_PROXIES` is set).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlparse

from flask import Response, current_app, request
from twilio.request_validator import RequestValidator, add_port, compare, remove_port

from runtime.settings import Settings

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])


def signed_url(settings: Settings) -> str:
    """The URL Twilio signed for this request."""
    if settings.public_base_url:
        path = request.full_path if request.query_string else request.path
        return settings.public_base_url + request.script_root + path
    return request.url


@functools.lru_cache(maxsize=4)
def _validator(auth_token: str) -> RequestValidator:
    return RequestValidator(auth_token)


def signature_is_valid(settings: Settings) -> bool:
    """Twilio's check (`RequestValidator`): the HMAC of the URL and the form. Twilio signs the
    URL with or without its default port; the URL as it came is tried first, the other form
    only when that one does not match (the library's `validate` computes both, always)."""
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature or not settings.twilio_auth_token:
        return False
    validator = _validator(settings.twilio_auth_token)
    url = signed_url(settings)
    if compare(validator.compute_signature(url, request.form), signature):
        return True
    parsed = urlparse(url)
    other = remove_port(parsed) if parsed.port else add_port(parsed)
    return other != url and bool(
        compare(validator.compute_signature(other, request.form), signature)
    )


def require_twilio_signature(view: F) -> F:
    @functools.wraps(view)
    def checked(*args: Any, **kwargs: Any) -> Any:
        settings: Settings = current_app.extensions["sas_settings"]
        if settings.twilio_validate_signature and not signature_is_valid(settings):
            log.warning(
                "rejected Twilio webhook with a bad signature: %s CallSid=%s",
                request.path,
                request.form.get("CallSid", "-"),
            )
            return Response(
                "forbidden: bad X-Twilio-Signature\n", status=403, mimetype="text/plain"
            )
        return view(*args, **kwargs)

    return checked  # type: ignore[return-value]
