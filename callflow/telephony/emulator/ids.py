"""Identifiers and formats of Twilio's REST API: SIDs, RFC 2822 dates, E.164 numbers.

SIDs are two letters and 32 lowercase hex digits (`CA…` calls, `QU…` queues, `CF…`
conferences, `SM…` messages, `PN…` phone numbers, `AC…` accounts), as Twilio's OpenAPI
description requires (`^CA[0-9a-fA-F]{32}$`).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from email.utils import format_datetime

API_VERSION = "2010-04-01"

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$")


def new_sid(prefix: str) -> str:
    """A fresh SID with the given two-letter prefix."""
    if len(prefix) != 2 or not prefix.isalpha() or not prefix.isupper():
        raise ValueError(f"SID prefix must be two capital letters, not {prefix!r}")
    return prefix + secrets.token_hex(16)


def looks_like_sid(value: str, prefix: str) -> bool:
    return bool(_SID.match(value)) and value.startswith(prefix)


def rfc2822(moment: datetime | None) -> str | None:
    """`Tue, 31 Aug 2010 20:36:28 +0000`, or None."""
    if moment is None:
        return None
    return format_datetime(moment.replace(microsecond=0), usegmt=False)


def is_e164(value: str) -> bool:
    return bool(_E164.match(value))


def is_client_address(value: str) -> bool:
    """`client:alice`: a Twilio Client identity, as Twilio writes it in To and From."""
    return value.startswith("client:") and len(value) > len("client:")


def is_dialable(value: str) -> bool:
    """A phone number in E.164 or a client identity."""
    return is_e164(value) or is_client_address(value)
