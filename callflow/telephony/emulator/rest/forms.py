"""Reading Twilio's form-encoded request bodies: optional values, booleans, methods, URLs,
and list parameters sent as repeated keys (or space-separated, which Twilio also takes)."""

from __future__ import annotations

from flask import request

from ..webhooks import is_absolute_http_url
from .errors import bad_parameter


def value(name: str) -> str | None:
    """The parameter, or None when absent or empty."""
    found = request.form.get(name)
    return found if found not in (None, "") else None


def flag(name: str) -> bool | None:
    found = value(name)
    if found is None:
        return None
    lowered = found.strip().lower()
    if lowered not in ("true", "false"):
        raise bad_parameter(name, "must be true or false")
    return lowered == "true"


def method(name: str, default: str = "POST") -> str:
    found = (value(name) or default).upper()
    if found not in ("GET", "POST"):
        raise bad_parameter(name, "must be GET or POST")
    return found


def url(name: str) -> str | None:
    found = value(name)
    if found is not None and not is_absolute_http_url(found):
        raise bad_parameter(name, f"{found!r} is not an absolute http(s) URL")
    return found


def integer(name: str, default: int, lowest: int, highest: int) -> int:
    found = value(name)
    if found is None:
        return default
    try:
        number = int(found)
    except ValueError:
        raise bad_parameter(name, "must be an integer") from None
    return min(max(number, lowest), highest)


def words(name: str) -> frozenset[str]:
    """A list parameter: repeated keys, each possibly space- or comma-separated."""
    collected: set[str] = set()
    for item in request.form.getlist(name):
        collected.update(part for part in item.replace(",", " ").split() if part)
    return frozenset(collected)
