"""Security headers on every kind of response, from the one place that sets them."""

from __future__ import annotations

import pytest

from runtime.headers import CONTENT_SECURITY_POLICY
from tests.helpers import call_params, new_sid


def _assert_secured(response) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert csp == CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_pages_api_webhooks_and_errors_all_carry_the_headers(client, twilio):
    answers = [
        client.get("/login"),
        client.get("/supervision"),  # a redirect to the login page
        client.get("/api/queues"),  # 401 JSON
        client.get("/api/nothing-here"),  # 404 JSON
        client.get("/healthz"),
        twilio.post(
            "/twilio/voice/incoming", call_params(new_sid(), "+33612345678", "+33199000015")
        ),
    ]
    for answer in answers:
        _assert_secured(answer)
        assert answer.headers["Cache-Control"] == "no-store"
        assert "Strict-Transport-Security" not in answer.headers  # plain HTTP here


def test_static_files_may_be_cached(client):
    answer = client.get("/console/static/console.js")
    try:
        assert answer.status_code == 200
        _assert_secured(answer)
        assert answer.headers.get("Cache-Control") != "no-store"
    finally:
        answer.close()


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": "https://sas.example.org"}])
def test_hsts_and_secure_cookies_behind_an_https_public_url(app, client, app_config):
    answer = client.get("/healthz")
    assert answer.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_plain_http_cookies_are_not_marked_secure(app):
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_the_session_cookie_is_same_site_and_http_only(app):
    from regulation.auth import create_staff
    from runtime.db import db

    with app.app_context():
        create_staff(
            db.session,
            app.extensions["regulation_settings"],
            username="cookie",
            role="arm",
            password="x" * 12,
        )
        db.session.commit()
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    cookie = client.get("/login").headers.get("Set-Cookie") or ""
    import re

    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login", data={"username": "cookie", "password": "x" * 12, "csrf_token": csrf}
    )
    cookie = answer.headers.get("Set-Cookie") or cookie
    assert "SameSite=Lax" in cookie and "HttpOnly" in cookie, cookie
