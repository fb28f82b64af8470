"""Twilio's 2010-04-01 REST API, as much of it as the service uses: Calls, Queues and their
Members, Conferences and their Participants, Messages.

Every route sits under `/2010-04-01/Accounts/<AccountSid>/<Resource>.json`, takes HTTP Basic
credentials (the account SID and auth token; anything else is 401, error 20003) and
form-encoded bodies, and answers JSON shaped as Twilio's OpenAPI description says.
"""

from __future__ import annotations

from flask import Blueprint, request

from ..state import EmulatorState
from . import calls, conferences, messages, queues
from .errors import ApiError, not_found

PREFIX = "/2010-04-01/Accounts/<account_sid>"


def create_rest_blueprint(state: EmulatorState) -> Blueprint:
    blueprint = Blueprint("twilio_rest", __name__, url_prefix=PREFIX)

    @blueprint.before_request
    def authenticate() -> None:
        credentials = request.authorization
        if (
            credentials is None
            or credentials.type != "basic"
            or credentials.username != state.account_sid
            or credentials.password != state.auth_token
        ):
            raise ApiError(401, 20003, "Authenticate")
        if (request.view_args or {}).get("account_sid") != state.account_sid:
            raise not_found(request.path)

    calls.register(blueprint, state)
    queues.register(blueprint, state)
    conferences.register(blueprint, state)
    messages.register(blueprint, state)
    return blueprint
