"""Staff accounts, bearer tokens, console sessions, CSRF, throttling, and the one place
where every staff route's role rule is enforced."""

from __future__ import annotations

import re
from dataclasses import replace

from click.testing import CliRunner
from sqlalchemy import select

from regulation.access import rule_of
from regulation.models import ApiToken, Staff
from runtime.db import db

from .conftest import PASSWORD


def token(client, username, password=PASSWORD, **kwargs):
    return client.post(
        "/api/auth/token", json={"username": username, "password": password}, **kwargs
    )


def test_token_for_good_credentials_only_its_hash_is_stored(app, client, staff):
    person = staff("arm", "alice")
    answer = token(client, "alice")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["role"] == "arm" and len(body["token"]) >= 32
    with app.app_context():
        stored = [t.token_hash for t in db.session.scalars(select(ApiToken))]
        assert body["token"] not in stored and len(stored) == 2  # the fixture's and this one
        row = db.session.get(Staff, person.id)
        assert row.password_hash.startswith("$argon2id$")
    me = client.get("/api/agents/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.get_json()["status"] == "offline"


def test_wrong_password_unknown_user_and_missing_fields(client, staff):
    staff("arm", "bob")
    assert token(client, "bob", "mauvais-mot").status_code == 401
    assert token(client, "nobody").status_code == 401
    missing = client.post("/api/auth/token", json={"username": "bob"})
    assert missing.status_code == 400 and missing.get_json()["field"] == "password"
    not_json = client.post("/api/auth/token", data="x", content_type="text/plain")
    assert not_json.status_code == 400 and not_json.get_json()["field"] == "body"


def test_401_without_or_with_bad_credentials_403_for_a_wrong_role(client, staff):
    assert client.get("/api/agents/me").status_code == 401
    assert client.get("/api/agents/me").get_json() == {"error": "authentification requise"}
    bad = client.get("/api/agents/me", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401
    arm = staff("arm")
    denied = client.post("/api/calls/1/decision", json={}, headers=arm.headers)
    assert denied.status_code == 403 and "error" in denied.get_json()


def test_revoked_and_expired_tokens_stop_working(app, client, staff):
    from runtime.clock import frozen, now

    person = staff("arm")
    assert client.delete("/api/auth/token", headers=person.headers).status_code == 204
    assert client.get("/api/agents/me", headers=person.headers).status_code == 401
    fresh = token(client, person.username).get_json()["token"]
    headers = {"Authorization": f"Bearer {fresh}"}
    assert client.get("/api/agents/me", headers=headers).status_code == 200
    with frozen(now()) as clock:
        clock.advance(app.extensions["regulation_settings"].api_token_ttl_s + 1)
        assert client.get("/api/agents/me", headers=headers).status_code == 401


def test_disabled_account_loses_its_tokens(client, staff):
    admin, arm = staff("admin"), staff("arm")
    answer = client.patch(f"/api/staff/{arm.id}", json={"active": False}, headers=admin.headers)
    assert answer.status_code == 200 and answer.get_json()["active"] is False
    assert client.get("/api/agents/me", headers=arm.headers).status_code == 401
    assert token(client, arm.username).status_code == 401


def test_login_throttled_per_account_then_per_address(app, client, staff):
    staff("arm", "carol")
    limit = app.extensions["regulation_settings"].login_max_failures_per_account
    for _ in range(limit):
        assert token(client, "carol", "faux-mot-de-passe").status_code == 401
    throttled = token(client, "carol")  # even the right password waits now
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    # Another account from the same address is still allowed, until the address limit.
    staff("arm", "dave")
    assert token(client, "dave").status_code == 200
    per_address = app.extensions["regulation_settings"].login_max_failures_per_address
    for i in range(per_address):
        token(client, f"ghost{i}", "x" * 8)
    assert token(client, "dave").status_code == 429
    other = token(client, "dave", environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert other.status_code == 200


def test_session_login_csrf_and_logout(client, staff):
    staff("arm", "erin")
    page = client.get("/login")
    assert page.status_code == 200 and "Connexion" in page.get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    refused = client.post("/login", data={"username": "erin", "password": PASSWORD})
    assert refused.status_code == 400  # no CSRF token
    answer = client.post(
        "/login", data={"username": "erin", "password": PASSWORD, "csrf_token": csrf}
    )
    assert answer.status_code == 302 and answer.headers["Location"].endswith("/console/arm")
    console = client.get("/console/arm")
    assert console.status_code == 200
    session_csrf = re.search(r'name="csrf-token" content="([^"]+)"', console.get_data(as_text=True))
    assert client.get("/api/agents/me").status_code == 200  # the cookie authenticates
    # A change through the cookie needs the CSRF header.
    no_header = client.put("/api/agents/me/presence", json={"status": "available"})
    assert no_header.status_code == 403
    with_header = client.put(
        "/api/agents/me/presence",
        json={"status": "available"},
        headers={"X-CSRF-Token": session_csrf.group(1)},
    )
    assert with_header.status_code == 200
    assert client.get("/console/regulation").status_code == 403  # an ARM page only
    client.post("/logout", data={"csrf_token": session_csrf.group(1)})
    assert client.get("/api/agents/me").status_code == 401
    assert client.get("/console/arm").status_code == 302


def test_every_api_route_has_an_explicit_role_rule(app):
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        if rule_of(app.view_functions[rule.endpoint]) is None:
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert not missing, f"routes without an access rule: {missing}"


def test_a_route_without_a_rule_is_refused(app):
    @app.get("/api/unguarded-test-route")
    def unguarded():
        return {"secret": True}

    answer = app.test_client().get("/api/unguarded-test-route")
    assert answer.status_code == 403 and answer.get_json()["error"]


def test_unknown_api_paths_and_ids_are_404_json(client, staff):
    arm = staff("arm")
    for path in ("/api/calls/abc", "/api/calls/-1", "/api/calls/0", "/api/calls/99999999999999"):
        answer = client.get(path, headers=arm.headers)
        assert answer.status_code == 404, path
        assert answer.is_json and "error" in answer.get_json()
    assert client.get("/api/nothing-here").status_code == 404


def test_flask_staff_create_with_and_without_password(app):
    runner = CliRunner()
    cli = app.cli
    result = runner.invoke(
        cli,
        ["staff", "create", "frank", "--role", "regulator_amu", "--password", PASSWORD],
        obj=_script_info(app),
    )
    assert result.exit_code == 0, result.output
    prompted = runner.invoke(
        cli,
        ["staff", "create", "gina", "--role", "supervisor"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
        obj=_script_info(app),
    )
    assert prompted.exit_code == 0, prompted.output
    weak = runner.invoke(
        cli,
        ["staff", "create", "hugo", "--role", "arm", "--password", "court"],
        obj=_script_info(app),
    )
    assert weak.exit_code == 1
    with app.app_context():
        roles = {s.username: s.role for s in db.session.scalars(select(Staff))}
        db.session.remove()
    assert roles == {"frank": "regulator_amu", "gina": "supervisor"}


def _script_info(app):
    from flask.cli import ScriptInfo

    return ScriptInfo(create_app=lambda: app)


def test_openapi_document_lists_the_staff_routes(client):
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/auth/token",
        "/api/agents/me/presence",
        "/api/agents/me/next",
        "/api/calls/{call_id}",
        "/api/calls/{call_id}/qualification",
        "/api/calls/{call_id}/escalate",
        "/api/calls/{call_id}/decision",
        "/api/calls/{call_id}/heartbeat",
        "/api/calls/{call_id}/release",
    ):
        assert path in doc["paths"], path


def test_voice_token_for_the_softphone(app, client, staff):
    import jwt

    arm = staff("arm")
    assert client.get("/api/agents/me/voice-token", headers=arm.headers).status_code == 503
    app.extensions["regulation_settings"] = replace(
        app.extensions["regulation_settings"],
        twilio_api_key_sid="SK" + "0" * 32,
        twilio_api_key_secret="secret-of-the-api-key-0123456789abcdef",
    )
    answer = client.get("/api/agents/me/voice-token", headers=arm.headers)
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["identity"] == f"agent_{arm.id}"
    claims = jwt.decode(
        body["token"], "secret-of-the-api-key-0123456789abcdef", algorithms=["HS256"]
    )
    assert claims["grants"]["identity"] == f"agent_{arm.id}"
    assert claims["grants"]["voice"]["incoming"]["allow"] is True
    supervisor = staff("supervisor")
    assert client.get("/api/agents/me/voice-token", headers=supervisor.headers).status_code == 403


def test_openapi_document_covers_every_staff_api_route(app, client):
    doc = client.get("/api/openapi.json").get_json()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("staff_api."):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule)
        assert path in doc["paths"], path
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert method.lower() in doc["paths"][path], f"{method} {path}"


def test_a_hash_of_an_older_cost_is_upgraded_at_login(app, client, staff):
    person = staff("arm")
    with app.app_context():
        before = db.session.get(Staff, person.id).password_hash
        db.session.remove()
    app.extensions["regulation_settings"] = replace(
        app.extensions["regulation_settings"], argon2_time_cost=2
    )
    assert token(client, person.username).status_code == 200
    with app.app_context():
        after = db.session.get(Staff, person.id).password_hash
        db.session.remove()
    assert before != after and ",t=2," in after
