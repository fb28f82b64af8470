"""The Message resource: create (https://www.twilio.com/docs/messaging/api/message-resource).

`To` is required (21604) and must be E.164 (21211); `From` or `MessagingServiceSid` (21603);
`Body` (21602) unless `MediaUrl` is given, at most 1600 characters (21617). The message answers
`201` with status `queued` (`accepted` through a Messaging Service), is recorded for the control
API (`GET /emulator/messages`), and is then `sent` and `delivered` at once; a `StatusCallback`
gets `MessageStatus` = `sent`, then `delivered`, with `MessageSid`, `SmsSid`, `SmsStatus`,
`From`, `To`, `AccountSid`, `ApiVersion`. `num_segments` counts 160 GSM-7 characters (153 per
part when split) or 70 UCS-2 characters (67 per part).
"""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, request

from ..ids import API_VERSION, is_e164, new_sid
from ..models import Message
from ..state import EmulatorState
from . import forms
from .errors import ApiError
from .representations import message_json

_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)


def segments(body: str) -> int:
    if all(char in _GSM7 for char in body):
        single, part = 160, 153
    else:
        single, part = 70, 67
    if len(body) <= single:
        return 1
    return math.ceil(len(body) / part)


def register(blueprint: Blueprint, state: EmulatorState) -> None:
    @blueprint.post("/Messages.json")
    def create_message(account_sid: str) -> tuple[dict[str, Any], int]:
        to = forms.value("To")
        if to is None:
            raise ApiError(400, 21604, "A 'To' phone number is required.")
        if not is_e164(to.removeprefix("whatsapp:")):
            raise ApiError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        from_, service = forms.value("From"), forms.value("MessagingServiceSid")
        if from_ is None and service is None:
            raise ApiError(400, 21603, "A 'From' phone number is required.")
        body = forms.value("Body") or ""
        media = request.form.getlist("MediaUrl")
        if not body and not media:
            raise ApiError(400, 21602, "Message body is required.")
        if len(body) > 1600:
            raise ApiError(
                400, 21617, "The concatenated message body exceeds the 1600 character limit."
            )
        callback = forms.url("StatusCallback")
        now = state.now()
        message = Message(
            sid=new_sid("SM"),
            to=to,
            from_=from_,
            messaging_service_sid=service,
            body=body,
            num_segments=segments(body),
            status="accepted" if from_ is None else "queued",
            date_created=now,
            date_updated=now,
            date_sent=None,
            status_callback=callback,
            media_urls=media,
        )
        with state.lock:
            state.messages[message.sid] = message
            answer = message_json(state, message)
            message.status, message.date_sent = "delivered", now
            state.touch()
        if callback:
            for status in ("sent", "delivered"):
                params = {
                    "AccountSid": state.account_sid,
                    "ApiVersion": API_VERSION,
                    "From": from_ or "",
                    "MessageSid": message.sid,
                    "MessageStatus": status,
                    "SmsSid": message.sid,
                    "SmsStatus": status,
                    "To": to,
                }
                state.post_async(callback, "POST", params, "message-status")
        return answer, 201
