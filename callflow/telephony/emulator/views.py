"""What the control API shows: a call's status, what it is doing now and its transcript;
devices, numbers, messages. JSON-ready dicts, built under the registry's lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .models import CallLeg, Device, Message, NumberConfig, TranscriptEntry, WebhookRecord
from .registry import Registry


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment else None


def _entry(entry: TranscriptEntry) -> dict[str, Any]:
    return {"at": _iso(entry.at), "t": entry.offset, "kind": entry.kind, **entry.detail}


def _webhook(record: WebhookRecord) -> dict[str, Any]:
    return {
        "at": _iso(record.at),
        "purpose": record.purpose,
        "method": record.method,
        "url": record.url,
        "params": record.params,
        "status": record.status,
        "error_code": record.error_code,
    }


def call_summary(leg: CallLeg) -> dict[str, Any]:
    return {
        "call_sid": leg.sid,
        "parent_call_sid": leg.parent_sid,
        "direction": leg.direction,
        "from": leg.from_,
        "to": leg.to,
        "status": leg.status,
        "start_time": _iso(leg.start_time),
        "end_time": _iso(leg.end_time),
        "duration": leg.duration,
    }


def call_view(registry: Registry, leg: CallLeg) -> dict[str, Any]:
    """Everything about one call: where it is, what it hears, what it heard."""
    with registry.lock:
        view = call_summary(leg)
        now = registry.offset()
        queue = None
        if leg.queue is not None and leg.queue_member is not None:
            members = leg.queue.members
            member = leg.queue_member
            queue = {
                "name": leg.queue.friendly_name,
                "queue_sid": leg.queue.sid,
                "position": members.index(member) + 1 if member in members else None,
                "size": len(members),
                "waited_s": int(now - member.enqueued_offset),
            }
        bridged = None
        if leg.bridge is not None and leg.bridge.ended is None:
            other = leg.bridge.other(leg)
            bridged = {"call_sid": other.sid, "party": other.remote_party}
        conference = None
        if leg.participant is not None:
            found = registry.conferences.get(leg.participant.conference_sid)
            conference = {
                "conference_sid": leg.participant.conference_sid,
                "name": found.friendly_name if found else None,
                "status": found.status if found else None,
                "hold": leg.participant.hold,
                "muted": leg.participant.muted,
            }
        gathering = None
        if leg.gathering is not None and not leg.gathering.complete:
            gathering = {
                "input": sorted(leg.gathering.inputs),
                "num_digits": leg.gathering.num_digits,
                "finish_on_key": leg.gathering.finish_on_key,
                "digits_so_far": leg.gathering.digits,
            }
        view.update(
            {
                "remote_party": leg.remote_party,
                "activity": dict(leg.activity) if leg.activity else None,
                "gathering": gathering,
                "queue": queue,
                "bridged_with": bridged,
                "conference": conference,
                "dialing": dict(leg.dialing) if leg.dialing else None,
                "heard_application_error": leg.heard_application_error,
                "transcript": [_entry(e) for e in leg.transcript],
                "webhooks": [_webhook(w) for w in leg.webhooks],
            }
        )
        return view


def device_view(registry: Registry, device: Device) -> dict[str, Any]:
    with registry.lock:

        def party(sid: str) -> dict[str, Any]:
            leg = registry.legs[sid]
            return {
                "call_sid": sid,
                "from": leg.from_,
                "to": leg.to,
                "status": leg.status,
                "other_party": _other(registry, leg),
            }

        return {
            "address": device.address,
            "mode": device.mode,
            "answer_delay": device.answer_delay,
            "ringing": [party(sid) for sid in device.ringing if sid in registry.legs],
            "connected": [party(sid) for sid in device.connected if sid in registry.legs],
        }


def _other(registry: Registry, leg: CallLeg) -> str | list[str] | None:
    """Who the device's user hears through this leg: the bridged party, or the other
    conference participants (lock held)."""
    if leg.bridge is not None and leg.bridge.ended is None:
        return leg.bridge.other(leg).remote_party
    if leg.participant is not None:
        conference = registry.conferences.get(leg.participant.conference_sid)
        if conference is None:
            return None
        return [
            registry.legs[p.call_sid].remote_party
            for p in conference.participants.values()
            if p.present and p.call_sid != leg.sid and p.call_sid in registry.legs
        ]
    parent = registry.legs.get(leg.parent_sid or "")
    if parent is not None and parent.bridge is not None and parent.bridge.ended is None:
        return parent.remote_party
    return None


def number_view(config: NumberConfig) -> dict[str, Any]:
    return {
        "number": config.number,
        "sid": config.sid,
        "voice_url": config.voice_url,
        "voice_method": config.voice_method,
        "status_callback": config.status_callback,
        "status_callback_method": config.status_callback_method,
        "fallback_url": config.fallback_url,
        "fallback_method": config.fallback_method,
    }


def message_view(message: Message) -> dict[str, Any]:
    return {
        "sid": message.sid,
        "to": message.to,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "body": message.body,
        "num_segments": message.num_segments,
        "status": message.status,
        "date_created": _iso(message.date_created),
        "media_urls": message.media_urls,
    }


def async_webhooks_view(registry: Registry) -> list[dict[str, Any]]:
    with registry.lock:
        return [_webhook(w) for w in registry.async_webhooks]
