"""Which line a call came in on, from the dialled (`To`) number."""

from __future__ import annotations

from callflow.numbers import normalise_dialled
from runtime.settings import Settings

PUBLIC = "public"
PRO = "pro"


def line_for(settings: Settings, dialled: str | None) -> str:
    """The professionals' line when `To` is one of its numbers; otherwise the public line
    (an unknown number is served as the public line, so no caller is turned away)."""
    number = normalise_dialled(dialled)
    if number is not None and number in {normalise_dialled(n) for n in settings.pro_numbers}:
        return PRO
    return PUBLIC
