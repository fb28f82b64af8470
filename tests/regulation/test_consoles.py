"""The console pages without a browser: who may open them, and markup that a strict
Content-Security-Policy (no 'unsafe-inline') will not break."""

from __future__ import annotations

import html
import re

from .conftest import PASSWORD


def log_in(client, username):
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    return client.post(
        "/login", data={"username": username, "password": PASSWORD, "csrf_token": csrf}
    )


def assert_csp_safe(markup: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", markup), "inline <script>"
    assert not re.search(r"\sstyle\s*=", markup), "inline style attribute"
    assert not re.search(r"\son[a-z]+\s*=", markup), "inline event handler"


def test_pages_need_a_session_and_the_right_role(app, staff):
    client = app.test_client()
    assert client.get("/console/arm").status_code == 302
    assert client.get("/admin/staff").headers["Location"].startswith("/login")
    staff("arm", "armelle")
    answer = log_in(client, "armelle")
    assert answer.headers["Location"] == "/console/arm"
    assert client.get("/admin/staff").status_code == 403
    assert client.get("/console").headers["Location"] == "/console/arm"


def test_login_redirects_only_inside_the_site(app, staff):
    client = app.test_client()
    staff("regulator_amu", "regis")
    page = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = client.post(
        "/login?next=//evil.example/x",
        data={"username": "regis", "password": PASSWORD, "csrf_token": csrf},
    )
    assert answer.headers["Location"] == "/console/regulation"


def test_console_markup_has_no_inline_script_or_style(app, staff):
    for username, role, paths in (
        ("armand", "arm", ["/console/arm"]),
        ("reine", "regulator_liberal", ["/console/regulation"]),
        ("adele", "admin", ["/admin/staff", "/console/regulation"]),
    ):
        client = app.test_client()
        staff(role, username)
        assert log_in(client, username).status_code == 302
        for path in paths:
            page = client.get(path)
            assert page.status_code == 200, path
            html = page.get_data(as_text=True)
            assert '<html lang="fr">' in html
            assert_csp_safe(html)
    assert_csp_safe(app.test_client().get("/login").get_data(as_text=True))


def test_failed_console_login_is_throttled_too(app, staff):
    client = app.test_client()
    staff("arm", "thierry")
    limit = app.extensions["regulation_settings"].login_max_failures_per_account
    page = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    for _ in range(limit):
        wrong = client.post(
            "/login", data={"username": "thierry", "password": "x" * 9, "csrf_token": csrf}
        )
        assert wrong.status_code == 401
    right = client.post(
        "/login", data={"username": "thierry", "password": PASSWORD, "csrf_token": csrf}
    )
    assert right.status_code == 429 and "Trop d'échecs" in html.unescape(
        right.get_data(as_text=True)
    )
