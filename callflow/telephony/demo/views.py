"""The demo's pages and its small JSON relay to the emulator's control API."""

from __future__ import annotations

import secrets
from typing import Any

import requests
from flask import Blueprint, abort, current_app, jsonify, render_template, request
from flask.typing import ResponseReturnValue

from runtime.settings import Settings

demo = Blueprint(
    "demo",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/demo/static",
)

#: What the page may read of an emulated call (no webhooks, no credentials).
SHOWN = (
    "call_sid",
    "status",
    "from",
    "to",
    "activity",
    "gathering",
    "queue",
    "bridged_with",
    "transcript",
    "heard_application_error",
)


def _settings() -> Settings:
    settings: Settings = current_app.extensions["sas_settings"]
    return settings


def _emulator(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    settings = _settings()
    try:
        answer = requests.request(
            method, f"{settings.twilio_api_base_url}/emulator{path}", json=body, timeout=10
        )
    except requests.RequestException as exc:
        return jsonify(error=f"the Twilio emulator did not answer: {type(exc).__name__}"), 503
    data = answer.json() if answer.content else {}
    if answer.status_code >= 400:
        return jsonify(error=data.get("error", "emulator error")), answer.status_code
    return data


def _relay(data: Any) -> ResponseReturnValue:
    if isinstance(data, tuple):
        return data
    return jsonify({k: data.get(k) for k in SHOWN if k in data})


@demo.before_request
def emulator_only() -> None:
    """The patient phone and its relay exist only when the emulator stands in for Twilio."""
    if request.endpoint not in ("demo.home", "demo.static") and not _settings().emulator_mode:
        abort(404)


@demo.get("/")
def home() -> str:
    return render_template("demo/home.html", settings=_settings())


@demo.get("/demo/phone")
def phone() -> str:
    caller = "+336" + "".join(secrets.choice("0123456789") for _ in range(8))
    return render_template("demo/phone.html", settings=_settings(), caller=caller)


@demo.post("/demo/api/calls")
def place_call() -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    settings = _settings()
    caller = str(body.get("from") or "")[:32]
    to = str(body.get("to") or settings.public_numbers[0])[:32]
    if not caller:
        return jsonify(error="from is required", field="from"), 400
    data = _emulator("POST", "/calls", {"from": caller, "to": to})
    if isinstance(data, tuple):
        return data
    return jsonify(call_sid=data["call_sid"]), 201


@demo.get("/demo/api/calls/<sid>")
def show_call(sid: str) -> ResponseReturnValue:
    return _relay(_emulator("GET", f"/calls/{sid[:64]}"))


@demo.post("/demo/api/calls/<sid>/input")
def send_input(sid: str) -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    digits, speech = body.get("digits"), body.get("speech")
    if not (isinstance(digits, str) and digits) and not (isinstance(speech, str) and speech):
        return jsonify(error="give digits or speech", field="digits"), 400
    payload: dict[str, Any] = {"digits": digits[:32]} if digits else {"speech": str(speech)[:300]}
    payload["wait"] = 0
    data = _emulator("POST", f"/calls/{sid[:64]}/input", payload)
    return data if isinstance(data, tuple) else jsonify(accepted=data.get("accepted"))


@demo.post("/demo/api/calls/<sid>/hangup")
def hang_up(sid: str) -> ResponseReturnValue:
    return _relay(_emulator("POST", f"/calls/{sid[:64]}/hangup"))


@demo.get("/demo/api/clients/<identity>")
def softphone(identity: str) -> ResponseReturnValue:
    """What an agent's softphone shows in emulator mode: the connected caller, if any."""
    data = _emulator("GET", f"/clients/{identity[:64]}")
    return data if isinstance(data, tuple) else jsonify(data)


@demo.post("/demo/api/clients/<identity>")
def register_softphone(identity: str) -> ResponseReturnValue:
    """Register the agent's browser as an auto-answering softphone in the emulator."""
    data = _emulator("POST", f"/clients/{identity[:64]}", {"mode": "auto"})
    return data if isinstance(data, tuple) else (jsonify(data), 201)
