"""The simulated people: phones that call the service's numbers, press keys, speak and hang
up, and softphone clients (or claimed numbers) that ring, answer and reject.

These are the emulator's own controls, not Twilio's API: they stand for what a person does
on a handset. Input reaches a call only while it is gathering (a key pressed while nobody
listens is lost, as on a real line); `send_input` can wait for the next `<Gather>` to start.
"""

from __future__ import annotations

import time

from .ids import new_sid
from .models import CallLeg, Device, DocumentRequest, NumberConfig
from .registry import Registry

DEVICE_MODES = ("auto", "manual", "busy", "no-answer")


class PhoneError(LookupError):
    """A control request naming something that does not exist (404) or that cannot act
    now (409)."""

    def __init__(self, message: str, status: int = 404) -> None:
        super().__init__(message)
        self.status = status


def configure_number(
    registry: Registry,
    number: str,
    *,
    voice_url: str | None,
    voice_method: str = "POST",
    status_callback: str | None = None,
    status_callback_method: str = "POST",
    fallback_url: str | None = None,
    fallback_method: str = "POST",
) -> NumberConfig:
    with registry.lock:
        existing = registry.numbers.get(number)
        config = NumberConfig(
            number=number,
            sid=existing.sid if existing else new_sid("PN"),
            voice_url=voice_url,
            voice_method=voice_method.upper(),
            status_callback=status_callback,
            status_callback_method=status_callback_method.upper(),
            fallback_url=fallback_url,
            fallback_method=fallback_method.upper(),
        )
        registry.numbers[number] = config
        registry.touch()
        return config


def incoming_leg(registry: Registry, from_: str, to: str) -> CallLeg:
    """The leg of a call a simulated phone places to one of the account's numbers."""
    with registry.lock:
        config = registry.numbers.get(to)
        if config is None or not config.voice_url:
            raise PhoneError(f"no number {to} with a voice URL is configured")
        now = registry.now()
        leg = CallLeg(
            sid=new_sid("CA"),
            account_sid=registry.account_sid,
            direction="inbound",
            from_=from_,
            to=to,
            date_created=now,
            date_updated=now,
            created_offset=registry.offset(),
            phone_number_sid=config.sid,
            status="ringing",
            initial=DocumentRequest(config.voice_url, config.voice_method, purpose="voice"),
            fallback_url=config.fallback_url,
            fallback_method=config.fallback_method,
            status_callback=config.status_callback,
            status_callback_method=config.status_callback_method,
            status_callback_events=frozenset({"completed"}),
        )
        registry.legs[leg.sid] = leg
        caller = registry.devices.get(from_)
        if caller is not None:
            leg.device = from_
            caller.connected.append(leg.sid)
        return leg


def _live_leg(registry: Registry, call_sid: str) -> CallLeg:
    leg = registry.legs.get(call_sid)
    if leg is None:
        raise PhoneError(f"no call {call_sid}")
    return leg


def send_input(
    registry: Registry,
    call_sid: str,
    *,
    digits: str | None = None,
    speech: str | None = None,
    confidence: float = 0.9,
    wait: float = 5.0,
) -> bool:
    """The remote party presses `digits` or says `speech`; True when a gather took it.

    Waits up to `wait` real seconds for the call to be gathering.
    """
    deadline = time.monotonic() + wait
    with registry.lock:
        leg = _live_leg(registry, call_sid)
        while leg.gathering is None or leg.gathering.complete:
            remaining = deadline - time.monotonic()
            if leg.ended or remaining <= 0:
                registry.note(leg, "input-ignored", digits=digits, speech=speech)
                return False
            registry.changed.wait(remaining)
        offset = registry.offset()
        if digits is not None:
            taken = leg.gathering.feed_digits(digits, offset)
            registry.note(leg, "pressed", digits=digits, taken=taken)
        else:
            taken = leg.gathering.feed_speech(speech or "", confidence, offset)
            registry.note(leg, "spoke", text=speech, confidence=confidence, taken=taken)
        registry.signal(leg)
        return taken


def hang_up(registry: Registry, call_sid: str) -> CallLeg:
    """The remote party hangs up (or, while its phone rings, refuses the call)."""
    with registry.lock:
        leg = _live_leg(registry, call_sid)
        if leg.ended:
            return leg
        if not leg.answered and leg.direction != "inbound":
            device = registry.devices.get(leg.device or "")
            if device is not None and leg.sid in device.ringing:
                device.ringing.remove(leg.sid)
            leg.ring_outcome = "busy"
            registry.note(leg, "rejected", by=leg.remote_party)
            registry.signal(leg)
            return leg
        registry.note(leg, "hangup", by=leg.remote_party)
        registry.end_leg(leg, "completed")
        return leg


def register_device(
    registry: Registry, address: str, *, mode: str = "auto", answer_delay: float = 0.0
) -> Device:
    if mode not in DEVICE_MODES:
        raise ValueError(f"mode must be one of {', '.join(DEVICE_MODES)}")
    with registry.lock:
        device = registry.devices.get(address) or Device(address)
        device.mode = mode
        device.answer_delay = max(0.0, answer_delay)
        registry.devices[address] = device
        registry.signal(*(registry.legs[sid] for sid in device.ringing if sid in registry.legs))
        return device


def unregister_device(registry: Registry, address: str) -> None:
    with registry.lock:
        if registry.devices.pop(address, None) is None:
            raise PhoneError(f"no device {address}")
        registry.touch()


def _device(registry: Registry, address: str) -> Device:
    device = registry.devices.get(address)
    if device is None:
        raise PhoneError(f"no device {address}")
    return device


def _pick(calls: list[str], call_sid: str | None, what: str) -> str:
    if call_sid is not None:
        if call_sid not in calls:
            raise PhoneError(f"call {call_sid} is not {what} on this device", 409)
        return call_sid
    if not calls:
        raise PhoneError(f"no call is {what} on this device", 409)
    return calls[0]


def answer(registry: Registry, address: str, call_sid: str | None = None) -> CallLeg:
    with registry.lock:
        device = _device(registry, address)
        sid = _pick(device.ringing, call_sid, "ringing")
        leg = _live_leg(registry, sid)
        device.ringing.remove(sid)
        device.connected.append(sid)
        registry.note(leg, "answered", by=address)
        registry.answer_leg(leg)
        return leg


def reject(registry: Registry, address: str, call_sid: str | None = None) -> CallLeg:
    with registry.lock:
        device = _device(registry, address)
        sid = _pick(device.ringing, call_sid, "ringing")
        return hang_up(registry, sid)


def device_hang_up(registry: Registry, address: str, call_sid: str | None = None) -> CallLeg:
    with registry.lock:
        device = _device(registry, address)
        sid = _pick(device.connected, call_sid, "connected")
        return hang_up(registry, sid)
