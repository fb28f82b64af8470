"""The second yardstick of `bench.webhook_load`: the least any correct webhook of this service
can do, served by the same gunicorn settings as the service (`runtime/gunicorn_conf.py`).

The bare Flask endpoint (`bench/bare_app.py`) does no work at all. A real webhook cannot skip
three things, and this one does only those:

- check Twilio's signature (one HMAC-SHA1 over the URL and the form, as `ivr.signature`);
- a new call (`/twilio/voice/incoming`): make it durable, one `INSERT` committed on its own
  (one round trip to PostgreSQL, the commit flushed to the WAL as the service's are);
- a waiting caller (`/twilio/voice/hold`): read its place, one round trip to Redis;

then answer a fixed TwiML document. No ORM, no timeline, no handling times, no queue
scripts: what the service spends beyond this floor is its own code's cost.

`DATABASE_URL`, `REDIS_URL` and `TWILIO_AUTH_TOKEN` come from the environment, as for the
service.
"""

from __future__ import annotations

import os
import threading

import psycopg
import redis
from flask import Flask, Response, request
from twilio.request_validator import RequestValidator, compare

from bench.run import libpq_url

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="10"/></Response>'
TABLE = "bench_floor_calls"
PLACES = "bench:floor:places"


def create_app() -> Flask:
    dsn = libpq_url(os.environ["DATABASE_URL"])
    validator = RequestValidator(os.environ["TWILIO_AUTH_TOKEN"])
    places = redis.Redis.from_url(os.environ["REDIS_URL"])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} (call_sid text PRIMARY KEY, caller text)")
    # one connection per gunicorn thread, opened at its first request and kept
    local = threading.local()
    opened: list[psycopg.Connection] = []

    def connection() -> psycopg.Connection:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = psycopg.connect(dsn, autocommit=True)
            opened.append(conn)
        return conn

    app = Flask(__name__)
    app.extensions["floor"] = {"connections": opened, "redis": places}

    @app.before_request
    def signed() -> Response | None:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not compare(validator.compute_signature(request.url, request.form), signature):
            return Response("forbidden: bad X-Twilio-Signature\n", status=403)
        return None

    @app.post("/twilio/voice/incoming")
    def incoming() -> Response:
        connection().execute(
            f"INSERT INTO {TABLE} (call_sid, caller) VALUES (%s, %s) ON CONFLICT DO NOTHING",
            (request.form["CallSid"], request.form["From"]),
        )
        return Response(TWIML, mimetype="text/xml")

    @app.post("/twilio/voice/hold")
    def hold() -> Response:
        places.hget(PLACES, request.form["CallSid"])
        return Response(TWIML, mimetype="text/xml")

    return app
