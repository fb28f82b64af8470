"""The yardstick of `bench.webhook_load`: a bare Flask endpoint answering a fixed TwiML
document, served by the same gunicorn settings as the service (`runtime/gunicorn_conf.py`)."""

from __future__ import annotations

from flask import Flask, Response

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Pause length="10"/></Response>'


def create_app() -> Flask:
    app = Flask(__name__)

    @app.post("/twilio/voice/<name>")
    def answer(name: str) -> Response:
        return Response(TWIML, mimetype="text/xml")

    return app
