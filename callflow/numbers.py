"""The caller's number at the edge: E.164 with `phonenumbers`, region FR by default.

Withheld numbers (Twilio sends `anonymous`, `restricted`, `unknown`, `+266696687`, or
nothing) and numbers that are not valid become `None`, with a flag saying which.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers
from phonenumbers import PhoneNumberType

DEFAULT_REGION = "FR"

#: What Twilio puts in `From` when the caller hides their number (Twilio's docs on
#: anonymous callers; +266696687 is the "ANONYMOUS" number some carriers pass).
WITHHELD = frozenset({"anonymous", "restricted", "unknown", "private", "unavailable", "+266696687"})


class CallerFlag(StrEnum):
    WITHHELD = "withheld"
    INVALID = "invalid"


class NumberKind(StrEnum):
    MOBILE = "mobile"
    FIXED = "fixed"
    OTHER = "other"


@dataclass(frozen=True)
class CallerNumber:
    e164: str | None
    display: str | None
    kind: NumberKind | None
    flag: CallerFlag | None

    @property
    def callable(self) -> bool:
        """Can we call this person back (a real mobile or fixed line)?"""
        return self.e164 is not None and self.kind in (NumberKind.MOBILE, NumberKind.FIXED)


_KINDS = {
    PhoneNumberType.MOBILE: NumberKind.MOBILE,
    PhoneNumberType.FIXED_LINE: NumberKind.FIXED,
    PhoneNumberType.FIXED_LINE_OR_MOBILE: NumberKind.FIXED,
    PhoneNumberType.VOIP: NumberKind.FIXED,
}


def parse_caller(raw: str | None, region: str = DEFAULT_REGION) -> CallerNumber:
    """Normalise what Twilio sent as `From`."""
    text = (raw or "").strip()
    if not text or text.lower() in WITHHELD or text.startswith("client:"):
        return CallerNumber(None, None, None, CallerFlag.WITHHELD)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return CallerNumber(None, None, None, CallerFlag.INVALID)
    if not phonenumbers.is_valid_number(number):
        return CallerNumber(None, None, None, CallerFlag.INVALID)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    if e164 in WITHHELD:
        return CallerNumber(None, None, None, CallerFlag.WITHHELD)
    national = number.country_code == phonenumbers.country_code_for_region(region)
    display = phonenumbers.format_number(
        number,
        phonenumbers.PhoneNumberFormat.NATIONAL
        if national
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL,
    )
    kind = _KINDS.get(phonenumbers.number_type(number), NumberKind.OTHER)
    return CallerNumber(e164, display, kind, None)


@functools.lru_cache(maxsize=256)
def normalise_dialled(raw: str | None, region: str = DEFAULT_REGION) -> str | None:
    """The dialled (`To`) number in E.164, or None when it is not a number. The service's
    own few numbers come back at every webhook: parsed once each."""
    try:
        number = phonenumbers.parse((raw or "").strip(), region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask(e164: str | None) -> str:
    """A number fit for logs: country code and last two digits only."""
    if not e164:
        return "-"
    return e164[:3] + "*" * max(0, len(e164) - 5) + e164[-2:]
