"""The floor yardstick of `make bench` (`bench/floor_app.py`) does the work it claims: a
service slower than it by a ratio is only honest if the floor really checks the signature and
really commits a row, or the ratio would flatter the service."""

from __future__ import annotations

from urllib.parse import urlencode

import psycopg
import pytest
import redis
from twilio.request_validator import RequestValidator

from bench.floor_app import TABLE, create_app
from bench.run import libpq_url
from tests.conftest import AUTH_TOKEN


@pytest.fixture()
def floor(database_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch):
    if not database_url.startswith("postgresql"):
        pytest.skip("the floor writes to PostgreSQL, as the service under load does")
    for name, value in (
        ("DATABASE_URL", database_url),
        ("REDIS_URL", redis_url),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN),
    ):
        monkeypatch.setenv(name, value)
    app = create_app()
    dsn = libpq_url(database_url)
    try:
        yield app.test_client(), dsn
    finally:
        for conn in app.extensions["floor"]["connections"]:
            conn.close()
        app.extensions["floor"]["redis"].close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"DROP TABLE {TABLE}")


def _post(client, path: str, form: dict[str, str], *, token: str = AUTH_TOKEN):
    signature = RequestValidator(token).compute_signature(f"http://localhost{path}", form)
    return client.post(
        path,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )


def test_a_new_call_is_committed_once_and_a_bad_signature_is_refused(floor) -> None:
    client, dsn = floor
    form = {"CallSid": "CA" + "f" * 32, "From": "+33612345678"}
    assert _post(client, "/twilio/voice/incoming", form, token="not-the-token").status_code == 403
    for _ in range(2):  # a retried webhook writes nothing more
        answer = _post(client, "/twilio/voice/incoming", form)
        assert answer.status_code == 200
        assert answer.mimetype == "text/xml"
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute(f"SELECT call_sid, caller FROM {TABLE}").fetchall()
    assert rows == [(form["CallSid"], form["From"])]


def _hgets(client: redis.Redis) -> int:
    return int(client.info("commandstats").get("cmdstat_hget", {}).get("calls", 0))


def test_a_hold_request_answers_twiml_after_one_redis_read(floor, redis_client) -> None:
    client, _ = floor
    form = {"CallSid": "CA" + "e" * 32, "From": "+33612345678"}
    before = _hgets(redis_client)
    assert _post(client, "/twilio/voice/hold", form, token="not-the-token").status_code == 403
    assert _hgets(redis_client) == before
    answer = _post(client, "/twilio/voice/hold", form)
    assert answer.status_code == 200
    assert b"<Pause" in answer.data
    assert _hgets(redis_client) == before + 1
