"""The emulator's own control API (JSON, under `/emulator`), not Twilio's.

It stands for the Twilio console and for the people on the phones:

- `GET /emulator/info`: credentials, API base URL, time scale.
- `PUT /emulator/numbers/<e164>` `{voice_url, method?, status_callback?,
  status_callback_method?, fallback_url?, fallback_method?}`: configure an incoming number;
  `GET /emulator/numbers`, `GET` / `DELETE /emulator/numbers/<e164>`.
- `POST /emulator/calls` `{from, to}` -> `201 {call_sid}`: a simulated phone dials a number.
- `GET /emulator/calls`: every call, briefly; `GET /emulator/calls/<sid>`: status, what it
  does now (gathering, in a queue at position N, bridged with whom, in a conference),
  transcript, webhooks.
- `POST /emulator/calls/<sid>/input` `{digits}` or `{speech, confidence?}`, `wait?` (real
  seconds to wait for a `<Gather>`, default 5) -> `{accepted}`.
- `POST /emulator/calls/<sid>/hangup`: the far end hangs up (refuses, while it rings).
- `POST /emulator/clients/<identity>` and `POST /emulator/phones/<e164>`
  `{mode?: auto|manual|busy|no-answer, answer_delay?}`: register a softphone, or claim a
  number with a simulated phone; `GET` / `DELETE` the same path; `POST <path>/answer`,
  `<path>/reject`, `<path>/hangup` `{call_sid?}`.
- `GET /emulator/messages`: sent SMS; `GET /emulator/notifications`: conference and message
  callbacks sent; `GET /emulator/webhook-stats`: every webhook sent since the start (or the
  last reset): answered, HTTP errors (5xx apart), unanswered, slow (1 s or more on the wire),
  the longest; `POST /emulator/reset`: hang up everything, forget all but credentials.

Errors answer `{"error": str}` with 400 (bad body), 404 (unknown call, number, device) or 409
(a device action with nothing to act on).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, request

from . import phones
from .ids import is_e164
from .state import EmulatorState
from .views import (
    async_webhooks_view,
    call_summary,
    call_view,
    device_view,
    message_view,
    number_view,
)


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if data is None:
        data = request.form.to_dict()
    if not isinstance(data, dict):
        raise ControlError(400, "the body must be a JSON object")
    return data


def _text(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    value = data.get(name)
    if value is None or value == "":
        if required:
            raise ControlError(400, f"{name} is required")
        return None
    if not isinstance(value, str):
        raise ControlError(400, f"{name} must be a string")
    return value


def _number(data: dict[str, Any], name: str, default: float) -> float:
    value = data.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ControlError(400, f"{name} must be a number")
    try:
        return float(value)
    except ValueError:
        raise ControlError(400, f"{name} must be a number") from None


def create_control_blueprint(state: EmulatorState) -> Blueprint:
    blueprint = Blueprint("emulator_control", __name__, url_prefix="/emulator")

    @blueprint.errorhandler(ControlError)
    def control_error(error: ControlError) -> tuple[dict[str, str], int]:
        return {"error": error.message}, error.status

    @blueprint.errorhandler(phones.PhoneError)
    def phone_error(error: phones.PhoneError) -> tuple[dict[str, str], int]:
        return {"error": str(error)}, error.status

    @blueprint.get("/info")
    def info() -> dict[str, Any]:
        return {
            "account_sid": state.account_sid,
            "auth_token": state.auth_token,
            "api_base_url": request.host_url.rstrip("/"),
            "time_scale": state.clock.time_scale,
        }

    @blueprint.put("/numbers/<number>")
    def put_number(number: str) -> dict[str, Any]:
        if not is_e164(number):
            raise ControlError(400, "the number must be E.164")
        data = _body()
        config = phones.configure_number(
            state,
            number,
            voice_url=_text(data, "voice_url", required=True),
            voice_method=_text(data, "method") or _text(data, "voice_method") or "POST",
            status_callback=_text(data, "status_callback"),
            status_callback_method=_text(data, "status_callback_method") or "POST",
            fallback_url=_text(data, "fallback_url"),
            fallback_method=_text(data, "fallback_method") or "POST",
        )
        return number_view(config)

    @blueprint.get("/numbers")
    def list_numbers() -> dict[str, Any]:
        with state.lock:
            return {"numbers": [number_view(c) for c in state.numbers.values()]}

    @blueprint.get("/numbers/<number>")
    def get_number(number: str) -> dict[str, Any]:
        with state.lock:
            config = state.numbers.get(number)
            if config is None:
                raise ControlError(404, f"no number {number}")
            return number_view(config)

    @blueprint.delete("/numbers/<number>")
    def delete_number(number: str) -> tuple[str, int]:
        with state.lock:
            if state.numbers.pop(number, None) is None:
                raise ControlError(404, f"no number {number}")
        return "", 204

    @blueprint.post("/calls")
    def place_call() -> tuple[dict[str, Any], int]:
        data = _body()
        from_ = _text(data, "from", required=True) or ""
        to = _text(data, "to", required=True) or ""
        return {"call_sid": state.place_call(from_, to)}, 201

    @blueprint.get("/calls")
    def list_calls() -> dict[str, Any]:
        with state.lock:
            legs = sorted(state.legs.values(), key=lambda leg: leg.created_offset)
            return {"calls": [call_summary(leg) for leg in legs]}

    def leg_or_404(sid: str) -> Any:
        leg = state.legs.get(sid)
        if leg is None:
            raise ControlError(404, f"no call {sid}")
        return leg

    @blueprint.get("/calls/<sid>")
    def get_call(sid: str) -> dict[str, Any]:
        return call_view(state, leg_or_404(sid))

    @blueprint.post("/calls/<sid>/input")
    def call_input(sid: str) -> dict[str, Any]:
        leg_or_404(sid)
        data = _body()
        digits, speech = _text(data, "digits"), _text(data, "speech")
        if (digits is None) == (speech is None):
            raise ControlError(400, "give digits or speech")
        accepted = state.send_input(
            sid,
            digits=digits,
            speech=speech,
            confidence=_number(data, "confidence", 0.9),
            wait=_number(data, "wait", 5.0),
        )
        return {"accepted": accepted}

    @blueprint.post("/calls/<sid>/hangup")
    def call_hangup(sid: str) -> dict[str, Any]:
        state.hang_up(leg_or_404(sid).sid)
        return call_view(state, leg_or_404(sid))

    def device_routes(kind: str, to_address: Callable[[str], str]) -> None:
        address_of = to_address

        @blueprint.post(f"/{kind}/<name>", endpoint=f"{kind}_register")
        def register(name: str) -> tuple[dict[str, Any], int]:
            data = _body()
            try:
                phones.register_device(
                    state,
                    address_of(name),
                    mode=_text(data, "mode") or "auto",
                    answer_delay=_number(data, "answer_delay", 0.0),
                )
            except ValueError as error:
                raise ControlError(400, str(error)) from error
            return device_view(state, state.devices[address_of(name)]), 201

        @blueprint.get(f"/{kind}/<name>", endpoint=f"{kind}_get")
        def get(name: str) -> dict[str, Any]:
            device = state.devices.get(address_of(name))
            if device is None:
                raise ControlError(404, f"no device {address_of(name)}")
            return device_view(state, device)

        @blueprint.delete(f"/{kind}/<name>", endpoint=f"{kind}_delete")
        def delete(name: str) -> tuple[str, int]:
            phones.unregister_device(state, address_of(name))
            return "", 204

        def act(name: str, action: Callable[..., Any]) -> dict[str, Any]:
            data = _body()
            action(state, address_of(name), _text(data, "call_sid"))
            return device_view(state, state.devices[address_of(name)])

        @blueprint.post(f"/{kind}/<name>/answer", endpoint=f"{kind}_answer")
        def answer(name: str) -> dict[str, Any]:
            return act(name, phones.answer)

        @blueprint.post(f"/{kind}/<name>/reject", endpoint=f"{kind}_reject")
        def reject(name: str) -> dict[str, Any]:
            return act(name, phones.reject)

        @blueprint.post(f"/{kind}/<name>/hangup", endpoint=f"{kind}_hangup")
        def hangup(name: str) -> dict[str, Any]:
            return act(name, phones.device_hang_up)

    def phone_address(name: str) -> str:
        if not is_e164(name):
            raise ControlError(400, "a phone is an E.164 number")
        return name

    device_routes("clients", lambda name: "client:" + name)
    device_routes("phones", phone_address)

    @blueprint.get("/messages")
    def list_messages() -> dict[str, Any]:
        with state.lock:
            return {"messages": [message_view(m) for m in state.messages.values()]}

    @blueprint.get("/notifications")
    def list_notifications() -> dict[str, Any]:
        return {"notifications": async_webhooks_view(state)}

    @blueprint.get("/webhook-stats")
    def webhook_stats() -> dict[str, Any]:
        with state.lock:
            return state.webhook_tally.view()

    @blueprint.post("/reset")
    def reset() -> dict[str, Any]:
        state.reset()
        return {"reset": True}

    return blueprint
