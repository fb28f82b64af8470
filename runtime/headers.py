"""Security headers on every response, set here and nowhere else.

The pages carry no inline script, style or event handler (`tests/regulation/test_consoles.py`
checks the markup), so the Content-Security-Policy allows scripts, styles and connections
from the service's own origin only, and no page may be framed (`frame-ancestors 'none'`).
Staff pages and API answers hold medical data: no browser or proxy may keep a copy
(`Cache-Control: no-store`), static files apart. HSTS is sent when the public URL is HTTPS.
"""

from __future__ import annotations

from flask import Flask, Response, request

from .settings import Settings

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
ALWAYS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    # the softphone needs the microphone of the service's own pages, nothing else does
    "Permissions-Policy": "microphone=(self), camera=(), geolocation=(), payment=()",
}
HSTS = "max-age=31536000; includeSubDomains"


def install(app: Flask, settings: Settings) -> None:
    https = (settings.public_base_url or "").startswith("https://")

    @app.after_request
    def secure(response: Response) -> Response:
        for name, value in ALWAYS.items():
            response.headers.setdefault(name, value)
        if https:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        endpoint = request.endpoint or ""
        if endpoint != "static" and not endpoint.endswith(".static"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response
