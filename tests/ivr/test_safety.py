"""Signatures, the fallback, and callers served when Redis is down."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from callflow.models import Call
from queues.access import call_queues
from queues.reconcile import drift, sweep
from runtime.db import db
from runtime.embedded_redis import EmbeddedRedis, free_port
from tests.conftest import TwilioWebhooks, _config, _dispose, _empty_tables
from tests.helpers import call_params, new_sid, twiml, verbs
from tests.ivr.test_incoming import dial, press


def test_forged_signature_is_refused(app, twilio):
    response = twilio.post("/twilio/voice/incoming", call_params(new_sid()), signature="Zm9yZ2Vk")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalars(select(Call)).first() is None


def test_missing_signature_is_refused(client):
    response = client.post("/twilio/voice/incoming", data=call_params(new_sid()))
    assert response.status_code == 403


def test_signature_over_other_parameters_is_refused(app, twilio):
    params = call_params(new_sid())
    signature = twilio.validator.compute_signature("http://localhost/twilio/voice/incoming", params)
    tampered = dict(params, From="+33698765432")
    assert twilio.post("/twilio/voice/incoming", tampered, signature=signature).status_code == 403


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": "https://sas.example.fr/"}])
def test_behind_a_proxy_the_public_url_is_signed(app, client, app_config):
    hooks = TwilioWebhooks(client)
    sid = new_sid()
    public = "https://sas.example.fr/twilio/voice/incoming"
    ok = hooks.post("/twilio/voice/incoming", call_params(sid), signed_url=public)
    root = twiml(ok)
    assert root.find("Gather").get("action") == "https://sas.example.fr/twilio/voice/menu"
    local = hooks.post("/twilio/voice/incoming", call_params(new_sid()))
    assert local.status_code == 403


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": "1"}])
def test_forwarded_headers_are_honoured_once_when_trusted(app, client, app_config):
    hooks = TwilioWebhooks(client)
    public = "https://edge.example.fr/twilio/voice/incoming"
    headers = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "edge.example.fr"}
    ok = hooks.post(
        "/twilio/voice/incoming", call_params(new_sid()), signed_url=public, headers=headers
    )
    assert ok.status_code == 200


@pytest.mark.parametrize(
    ("app_config", "signed"),
    [
        # Twilio signs the URL with or without the scheme's default port
        ({"PUBLIC_BASE_URL": "https://sas.example.fr"}, "https://sas.example.fr:443"),
        ({"PUBLIC_BASE_URL": "https://sas.example.fr:443"}, "https://sas.example.fr"),
        ({"PUBLIC_BASE_URL": "https://sas.example.fr"}, "https://sas.example.fr"),
    ],
)
def test_the_url_is_signed_with_or_without_its_default_port(app, client, app_config, signed):
    hooks = TwilioWebhooks(client)
    path = "/twilio/voice/incoming"
    ok = hooks.post(path, call_params(new_sid()), signed_url=signed + path)
    assert ok.status_code == 200
    other_port = hooks.post(path, call_params(new_sid()), signed_url=signed + ":8443" + path)
    assert other_port.status_code == 403


@pytest.mark.parametrize("app_config", [{"TRUSTED_PROXIES": "1"}])
def test_the_menu_built_once_follows_each_path_prefix(app, client, app_config):
    """The menu is built once per app and path prefix: each prefix gets its own URLs."""
    hooks = TwilioWebhooks(client)
    path = "/twilio/voice/incoming"
    actions = []
    for prefix in ("/sas", "", "/sas", "/other", ""):
        response = hooks.post(
            path,
            call_params(new_sid()),
            signed_url=f"http://localhost{prefix}{path}",
            headers={"X-Forwarded-Prefix": prefix} if prefix else {},
        )
        actions.append(twiml(response).find("Gather").get("action"))
    assert actions == [
        "/sas/twilio/voice/menu",
        "/twilio/voice/menu",
        "/sas/twilio/voice/menu",
        "/other/twilio/voice/menu",
        "/twilio/voice/menu",
    ]


def test_fallback_parks_the_caller_where_arms_drain(app, twilio, caplog):
    sid = new_sid()
    dial(twilio, sid)
    with caplog.at_level(logging.ERROR):
        root = twiml(
            twilio.post(
                "/twilio/voice/fallback",
                call_params(sid, ErrorCode="11200", ErrorUrl="https://x/twilio/voice/menu"),
            )
        )
    assert root.find("Enqueue").text == "sas-arm"
    assert any(sid in r.getMessage() for r in caplog.records)
    with app.app_context():
        call = db.session.scalars(select(Call).where(Call.call_sid == sid)).one()
        assert call.events[-1].type == "twilio_error"


@pytest.mark.parametrize("app_config", [{"BACKUP_NUMBER": "+33199000077"}])
def test_fallback_dials_the_backup_number_when_configured(app, twilio, app_config):
    root = twiml(twilio.post("/twilio/voice/fallback", call_params(new_sid(), ErrorCode="12100")))
    assert root.find("Dial").text == "+33199000077"


def test_redis_down_callers_are_still_served_and_queued_once_it_returns(database_url):
    from app import create_app

    port = free_port()
    app = create_app(_config(database_url, f"redis://127.0.0.1:{port}/0"))
    _empty_tables(app)
    twilio = TwilioWebhooks(app.test_client())
    server = None
    try:
        first, second = new_sid(), new_sid()
        dial(twilio, first, caller="+33612345601")
        assert press(twilio, first, digits="2", caller="+33612345601").find("Enqueue") is not None
        dial(twilio, second, caller="+33612345602")
        press(twilio, second, digits="1", caller="+33612345602")
        hold = twiml(twilio.post("/twilio/voice/hold", call_params(second, "+33612345602")))
        assert verbs(hold) == ["Pause"]
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 503 and "redis" in ready.get_json()["checks"]
        server = EmbeddedRedis(port=port).start()
        with app.app_context():
            assert drift(db.session, call_queues(), lease_seconds=30)
            result = sweep(db.session, call_queues(), lease_seconds=30)
            assert result.rebuilt
            order = [e.call_id for e in call_queues().ordered("arm")]
            calls = {c.call_sid: c.id for c in db.session.scalars(select(Call))}
            assert order == [calls[second], calls[first]]
            assert drift(db.session, call_queues(), lease_seconds=30) == []
    finally:
        _dispose(app)
        if server:
            server.stop()


def test_database_unreachable_still_answers_twiml(redis_url, tmp_path, caplog):
    from app import create_app

    unreachable = f"sqlite:///{tmp_path}/no-such-dir/sas.db"
    app = create_app(_config(unreachable, redis_url))
    twilio = TwilioWebhooks(app.test_client())
    sid = new_sid()
    try:
        with caplog.at_level(logging.ERROR):
            for path in ("/twilio/voice/incoming", "/twilio/voice/menu"):
                root = twiml(twilio.post(path, call_params(sid, Digits="2")))
                assert root.find("Enqueue").text == "sas-arm"
            hold = twiml(twilio.post("/twilio/voice/hold", call_params(sid)))
            assert verbs(hold) == ["Pause"]
            status = twilio.post("/twilio/voice/status", call_params(sid, CallStatus="completed"))
            assert status.status_code == 200
        assert any(sid in r.getMessage() for r in caplog.records)
        assert app.test_client().get("/readyz").status_code == 503
    finally:
        app.extensions["redis"].close()


def test_database_unreachable_staff_get_503_json(redis_url, tmp_path):
    from app import create_app

    unreachable = f"sqlite:///{tmp_path}/no-such-dir/sas.db"
    app = create_app(_config(unreachable, redis_url))
    try:
        client = app.test_client()
        for method, path in (("get", "/api/queues"), ("post", "/api/agents/me/next")):
            answer = getattr(client, method)(path, headers={"Authorization": "Bearer " + "x" * 40})
            assert answer.status_code == 503
            assert "base de données" in answer.get_json()["error"]
        login = client.post("/api/auth/token", json={"username": "a", "password": "b"})
        assert login.status_code == 503
    finally:
        app.extensions["redis"].close()
