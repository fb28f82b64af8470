"""Shared fixtures: a throwaway real Redis, real databases (SQLite, and PostgreSQL when
`TEST_DATABASE_URL` is set), the app, and a Twilio-signing webhook client.

Tests never touch a Redis they did not start, unless `TEST_REDIS_URL` says so explicitly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import MetaData, create_engine, text
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from runtime.clock import set_clock
from runtime.embedded_redis import EmbeddedRedis

AUTH_TOKEN = "test-auth-token-0123456789abcdef"
ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_NUMBER = "+33199000015"
PRO_NUMBER = "+33199000016"

DATABASES = ["sqlite"] + (["postgresql"] if os.environ.get("TEST_DATABASE_URL") else [])


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    given = os.environ.get("TEST_REDIS_URL")
    if given:
        yield given
        return
    server = EmbeddedRedis().start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture()
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    client.flushdb()
    try:
        yield client
    finally:
        client.flushdb()
        client.close()


def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            meta = MetaData()
            meta.reflect(bind=conn)
            meta.drop_all(bind=conn)
    finally:
        engine.dispose()


@pytest.fixture(scope="session", params=DATABASES)
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, redis_url: str
) -> Iterator[str]:
    """A migrated database: the schema comes from the Alembic migrations, not create_all."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'sas.db'}"
    else:
        url = os.environ["TEST_DATABASE_URL"]
        _drop_everything(url)
    from flask_migrate import upgrade

    from app import create_app

    app = create_app(_config(url, redis_url))
    with app.app_context():
        upgrade()
    _dispose(app)
    yield url


def _config(database_url: str, redis_url: str, **extra: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "test-secret",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": "http://127.0.0.1:9",
        "SAS_PUBLIC_NUMBERS": PUBLIC_NUMBER,
        "SAS_PRO_NUMBERS": PRO_NUMBER,
        "PUBLIC_BASE_URL": "",
    }
    config.update(extra)
    return config


def _dispose(app: Flask) -> None:
    from runtime.db import db

    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    app.extensions["redis"].close()


def _empty_tables(app: Flask) -> None:
    from runtime.db import db

    with app.app_context():
        tables = [t.name for t in reversed(db.metadata.sorted_tables)]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                # TRUNCATE, a table owner's statement, does not fire the append-only triggers
                conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            else:
                # SQLite has no TRUNCATE: the owner lifts the append-only triggers meanwhile
                triggers = list(
                    conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type='trigger'"))
                )
                for name, _ in triggers:
                    conn.execute(text(f"DROP TRIGGER {name}"))
                for name in tables:
                    conn.execute(text(f"DELETE FROM {name}"))
                for _, sql in triggers:
                    conn.execute(text(sql))


@pytest.fixture()
def app_config() -> dict[str, Any]:
    """Per-test overrides of the service's settings (same names as the env vars)."""
    return {}


@pytest.fixture()
def app(database_url: str, redis_url: str, app_config: dict[str, Any]) -> Iterator[Flask]:
    from app import create_app

    flask_app = create_app(_config(database_url, redis_url, **app_config))
    flask_app.config["TESTING"] = True
    _empty_tables(flask_app)
    flask_app.extensions["redis"].flushdb()
    try:
        yield flask_app
    finally:
        set_clock(None)
        flask_app.extensions["redis"].flushdb()
        _dispose(flask_app)


@pytest.fixture()
def client(app: Flask) -> FlaskClient:
    return app.test_client()


class TwilioWebhooks:
    """Posts form-encoded webhooks signed as Twilio signs them."""

    def __init__(self, client: FlaskClient, base_url: str = "http://localhost") -> None:
        self.client = client
        self.base_url = base_url
        self.validator = RequestValidator(AUTH_TOKEN)

    def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
        signed_url: str | None = None,
    ) -> TestResponse:
        url = signed_url or self.base_url + path
        sig = signature if signature is not None else self.validator.compute_signature(url, params)
        return self.client.post(
            path,
            data=urlencode(params),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": sig, **(headers or {})},
        )


@pytest.fixture()
def twilio(client: FlaskClient) -> TwilioWebhooks:
    return TwilioWebhooks(client)


class LiveStack:
    """The service served on a real port, and the Twilio emulator calling it over HTTP."""

    def __init__(self, app: Flask, server: Any, emulator: Any) -> None:
        self.app = app
        self.server = server
        self.emulator = emulator

    @property
    def base_url(self) -> str:
        return str(self.server.base_url)

    def dial(self, caller: str = "+33612345678", to: str = PUBLIC_NUMBER) -> str:
        return str(self.emulator.state.place_call(caller, to))

    def call(self, sid: str) -> dict[str, Any]:
        from callflow.telephony.emulator.views import call_view

        state = self.emulator.state
        return call_view(state, state.legs[sid])


@pytest.fixture()
def live_stack(
    database_url: str, redis_url: str, app_config: dict[str, Any]
) -> Iterator[LiveStack]:
    """The service and the emulator over real HTTP: the emulator runs TwiML at 20x speed."""
    from app import create_app
    from callflow.telephony.emulator.server import BackgroundServer, start_emulator

    emulator = start_emulator(account_sid=ACCOUNT_SID, auth_token=AUTH_TOKEN, time_scale=0.05)
    config = {"TWILIO_API_BASE_URL": emulator.base_url, "TWILIO_EMULATOR": "1", **app_config}
    flask_app = create_app(_config(database_url, redis_url, **config))
    _empty_tables(flask_app)
    flask_app.extensions["redis"].flushdb()
    server = BackgroundServer(flask_app).start()
    base = f"{server.base_url}/twilio/voice"
    for number in (PUBLIC_NUMBER, PRO_NUMBER):
        emulator.state.configure_number(
            number,
            f"{base}/incoming",
            status_callback=f"{base}/status",
            fallback_url=f"{base}/fallback",
        )
    try:
        yield LiveStack(flask_app, server, emulator)
    finally:
        emulator.stop()
        server.stop()
        set_clock(None)
        flask_app.extensions["redis"].flushdb()
        _dispose(flask_app)


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (installed by `make test`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"), args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture()
def page(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1366, "height": 768}, locale="fr-FR")
    try:
        yield context.new_page()
    finally:
        context.close()
