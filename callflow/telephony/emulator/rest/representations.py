"""The JSON of each resource, shaped like the examples of Twilio's OpenAPI description
(`shared/specs/twilio_api_v2010_subset.json`): every property present, `null` when empty,
RFC 2822 dates, SIDs, `uri` relative to the API root, and Twilio's list pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ..ids import API_VERSION, rfc2822
from ..models import CallLeg, Conference, Message, Participant, Queue, QueueMember
from ..registry import Registry

ROOT = "/2010-04-01/Accounts/{account}"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def call_json(registry: Registry, leg: CallLeg) -> dict[str, Any]:
    base = f"{ROOT.format(account=leg.account_sid)}/Calls/{leg.sid}"
    subresources = (
        "notifications",
        "recordings",
        "payments",
        "events",
        "siprec",
        "streams",
        "transcriptions",
        "user_defined_message_subscriptions",
        "user_defined_messages",
    )
    names = {
        "user_defined_message_subscriptions": "UserDefinedMessageSubscriptions",
        "user_defined_messages": "UserDefinedMessages",
    }
    return {
        "account_sid": leg.account_sid,
        "answered_by": None,
        "api_version": API_VERSION,
        "caller_name": None,
        "date_created": rfc2822(leg.date_created),
        "date_updated": rfc2822(leg.date_updated),
        "direction": leg.direction,
        "duration": str(leg.duration) if leg.ended and leg.duration is not None else None,
        "end_time": rfc2822(leg.end_time),
        "forwarded_from": None,
        "from": leg.from_,
        "from_formatted": leg.from_,
        "group_sid": None,
        "parent_call_sid": leg.parent_sid,
        "phone_number_sid": leg.phone_number_sid,
        "price": None,
        "price_unit": "USD",
        "sid": leg.sid,
        "start_time": rfc2822(leg.start_time),
        "status": leg.status,
        "subresource_uris": {
            name: f"{base}/{names.get(name, name.capitalize())}.json" for name in subresources
        },
        "to": leg.to,
        "to_formatted": leg.to,
        "trunk_sid": None,
        "uri": f"{base}.json",
        "queue_time": "0",
    }


def queue_json(registry: Registry, queue: Queue) -> dict[str, Any]:
    now = registry.offset()
    waits = [now - m.enqueued_offset for m in queue.members]
    return {
        "account_sid": registry.account_sid,
        "average_wait_time": int(sum(waits) / len(waits)) if waits else 0,
        "current_size": len(queue.members),
        "date_created": rfc2822(queue.date_created),
        "date_updated": rfc2822(queue.date_updated),
        "friendly_name": queue.friendly_name,
        "max_size": queue.max_size,
        "sid": queue.sid,
        "uri": f"{ROOT.format(account=registry.account_sid)}/Queues/{queue.sid}.json",
    }


def member_json(
    registry: Registry, queue: Queue, member: QueueMember, position: int | None = None
) -> dict[str, Any]:
    if position is None:
        position = queue.members.index(member) + 1 if member in queue.members else 0
    root = ROOT.format(account=registry.account_sid)
    return {
        "queue_sid": queue.sid,
        "call_sid": member.call_sid,
        "date_enqueued": rfc2822(member.date_enqueued),
        "position": position,
        "uri": f"{root}/Queues/{queue.sid}/Members/{member.call_sid}.json",
        "wait_time": int(registry.offset() - member.enqueued_offset),
    }


def conference_json(registry: Registry, conference: Conference) -> dict[str, Any]:
    base = f"{ROOT.format(account=registry.account_sid)}/Conferences/{conference.sid}"
    return {
        "account_sid": registry.account_sid,
        "api_version": API_VERSION,
        "call_sid_ending_conference": conference.call_sid_ending_conference,
        "date_created": rfc2822(conference.date_created),
        "date_updated": rfc2822(conference.date_updated),
        "friendly_name": conference.friendly_name,
        "reason_conference_ended": conference.reason_conference_ended,
        "region": "us1",
        "sid": conference.sid,
        "status": conference.status,
        "subresource_uris": {
            "participants": f"{base}/Participants.json",
            "recordings": f"{base}/Recordings.json",
        },
        "uri": f"{base}.json",
    }


def participant_json(registry: Registry, participant: Participant) -> dict[str, Any]:
    root = ROOT.format(account=registry.account_sid)
    status = participant.status
    leg = registry.legs.get(participant.call_sid)
    if not participant.present and status == "queued" and leg is not None:
        status = {"ringing": "ringing", "in-progress": "connecting"}.get(leg.status, status)
    return {
        "account_sid": registry.account_sid,
        "call_sid": participant.call_sid,
        "call_sid_to_coach": None,
        "coaching": False,
        "conference_sid": participant.conference_sid,
        "date_created": rfc2822(participant.date_created),
        "date_updated": rfc2822(participant.date_updated),
        "end_conference_on_exit": participant.end_conference_on_exit,
        "hold": participant.hold,
        "label": participant.label,
        "muted": participant.muted,
        "queue_time": None,
        "start_conference_on_enter": participant.start_conference_on_enter,
        "status": status,
        "uri": (
            f"{root}/Conferences/{participant.conference_sid}"
            f"/Participants/{participant.call_sid}.json"
        ),
    }


def message_json(registry: Registry, message: Message) -> dict[str, Any]:
    base = f"{ROOT.format(account=registry.account_sid)}/Messages/{message.sid}"
    return {
        "account_sid": registry.account_sid,
        "api_version": API_VERSION,
        "body": message.body,
        "date_created": rfc2822(message.date_created),
        "date_sent": rfc2822(message.date_sent),
        "date_updated": rfc2822(message.date_updated),
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": message.from_,
        "messaging_service_sid": message.messaging_service_sid,
        "num_media": str(len(message.media_urls)),
        "num_segments": str(message.num_segments),
        "price": None,
        "price_unit": None,
        "sid": message.sid,
        "status": message.status,
        "subresource_uris": {"media": f"{base}/Media.json"},
        "to": message.to,
        "uri": f"{base}.json",
    }


def page(
    items: list[dict[str, Any]],
    *,
    key: str,
    path: str,
    args: Mapping[str, str],
    filters: Mapping[str, str],
) -> dict[str, Any]:
    """One page of a list, with Twilio's paging properties (`PageSize`, `Page`)."""
    try:
        size = min(max(int(args.get("PageSize", DEFAULT_PAGE_SIZE)), 1), MAX_PAGE_SIZE)
    except ValueError:
        size = DEFAULT_PAGE_SIZE
    try:
        number = max(int(args.get("Page", 0)), 0)
    except ValueError:
        number = 0
    start = number * size
    chunk = items[start : start + size]

    def uri(page_number: int, token: str | None = None) -> str:
        query = {**filters, "PageSize": str(size), "Page": str(page_number)}
        if token:
            query["PageToken"] = token
        return f"{path}?{urlencode(query)}"

    has_next = start + size < len(items)
    last_sid = chunk[-1].get("sid") or chunk[-1].get("call_sid") if chunk else None
    return {
        key: chunk,
        "end": max(start, start + len(chunk) - 1),
        "first_page_uri": uri(0),
        "next_page_uri": uri(number + 1, f"PA{last_sid}") if has_next else None,
        "page": number,
        "page_size": size,
        "previous_page_uri": uri(number - 1, f"PB{chunk[0].get('sid') or ''}")
        if number > 0 and chunk
        else None,
        "start": start,
        "uri": uri(number),
    }
