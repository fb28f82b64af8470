"""The emulator's Flask application: Twilio's REST API beside the emulator's control API.

Unknown paths under `/2010-04-01` answer Twilio's 20404 body, methods a resource does not take
answer 20004; everything else answers `{"error": str}`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request
from werkzeug.exceptions import HTTPException

from .control import create_control_blueprint
from .rest import create_rest_blueprint
from .rest.errors import ApiError, error_body
from .state import EmulatorState

EXTENSION = "twilio_emulator"


def create_emulator_app(state: EmulatorState | None = None) -> Flask:
    """The emulator as a WSGI app; `state` (one emulated account) is made when not given."""
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    state = state or EmulatorState()
    app.extensions[EXTENSION] = state
    app.register_blueprint(create_rest_blueprint(state))
    app.register_blueprint(create_control_blueprint(state))

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> tuple[dict[str, Any], int, dict[str, str]]:
        headers = {"WWW-Authenticate": 'Basic realm="Twilio API"'} if error.status == 401 else {}
        return error.body(), error.status, headers

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> tuple[dict[str, Any], int]:
        status = error.code or 500
        if request.path.startswith("/2010-04-01"):
            if status == 404:
                return error_body(
                    404, 20404, f"The requested resource {request.path} was not found"
                ), 404
            if status == 405:
                return error_body(405, 20004, "Method not allowed"), 405
            return error_body(status, 20001, error.description or "Bad request"), status
        return {"error": error.description or error.name}, status

    return app


def emulator_state(app: Flask) -> EmulatorState:
    state = app.extensions[EXTENSION]
    assert isinstance(state, EmulatorState)
    return state
