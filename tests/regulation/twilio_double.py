"""A Twilio REST endpoint for the tests, served on a real local port: it answers the
requests the service makes (Calls create/update, Queue Members update) as Twilio does, or,
when told, fails as Twilio fails — JSON error bodies `{code, message, more_info, status}`,
HTTP 5xx, 429, or no answer before the client's timeout. It records every request.

It is not an emulator of calls (see `callflow.telephony.emulator` for that): it lets a test
decide what Twilio answers next, to drive the service's failure paths over real HTTP.
"""

from __future__ import annotations

import base64
import itertools
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, jsonify, request

from callflow.telephony.emulator.server import BackgroundServer

_sids = itertools.count(1)


@dataclass
class Fail:
    """Answer with a Twilio error."""

    status: int
    code: int
    message: str = "error"


@dataclass
class Hang:
    """Answer only after `seconds` (longer than the client's timeout)."""

    seconds: float


@dataclass
class Seen:
    method: str
    path: str
    form: dict[str, str]


@dataclass
class TwilioDouble:
    account_sid: str
    auth_token: str
    behaviours: deque[Fail | Hang] = field(default_factory=deque)
    requests: list[Seen] = field(default_factory=list)
    #: Call SIDs Twilio does not know (20404) or that have ended (21220).
    unknown: set[str] = field(default_factory=set)
    ended: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: BackgroundServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return self.server.base_url

    def then(self, *behaviours: Fail | Hang) -> None:
        """The next requests get these answers, in order; then success again."""
        with self.lock:
            self.behaviours.extend(behaviours)

    def seen(self, fragment: str = "") -> list[Seen]:
        with self.lock:
            return [r for r in self.requests if fragment in r.path]

    def start(self) -> TwilioDouble:
        self.server = BackgroundServer(self._app()).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def _error(self, status: int, code: int, message: str) -> Response:
        answer = jsonify(
            {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            }
        )
        answer.status_code = status
        return answer

    def _app(self) -> Flask:
        app = Flask("twilio-double")
        prefix = f"/2010-04-01/Accounts/{self.account_sid}"

        @app.before_request
        def record_and_misbehave() -> Response | None:
            with self.lock:
                self.requests.append(Seen(request.method, request.path, request.form.to_dict()))
                behaviour = self.behaviours.popleft() if self.behaviours else None
            expected = (
                "Basic "
                + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
            )
            if request.headers.get("Authorization") != expected:
                return self._error(401, 20003, "Authenticate")
            if isinstance(behaviour, Hang):
                time.sleep(behaviour.seconds)
                return self._error(504, 20500, "too late")
            if isinstance(behaviour, Fail):
                return self._error(behaviour.status, behaviour.code, behaviour.message)
            return None

        def call_json(sid: str, status: str) -> dict[str, Any]:
            return {
                "sid": sid,
                "account_sid": self.account_sid,
                "status": status,
                "to": request.form.get("To"),
                "from": request.form.get("From"),
                "uri": f"{prefix}/Calls/{sid}.json",
            }

        @app.post(f"{prefix}/Calls.json")
        def create_call() -> tuple[Response, int]:
            sid = f"CA{next(_sids):032x}"
            return jsonify(call_json(sid, "queued")), 201

        @app.post(f"{prefix}/Calls/<sid>.json")
        def update_call(sid: str) -> Response:
            if sid in self.unknown:
                return self._error(404, 20404, f"The requested resource {sid} was not found")
            if sid in self.ended:
                return self._error(400, 21220, "Call is not in-progress. Cannot redirect.")
            status = "completed" if request.form.get("Status") == "completed" else "in-progress"
            return jsonify(call_json(sid, status))

        @app.post(f"{prefix}/Queues/<queue_sid>/Members/<sid>.json")
        def dequeue(queue_sid: str, sid: str) -> Response:
            if sid in self.unknown or sid in self.ended:
                return self._error(404, 20404, f"The requested resource {sid} was not found")
            return jsonify(
                {
                    "call_sid": sid,
                    "queue_sid": queue_sid,
                    "position": 1,
                    "wait_time": 3,
                    "uri": f"{prefix}/Queues/{queue_sid}/Members/{sid}.json",
                }
            )

        return app
