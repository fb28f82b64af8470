"""What the caller's key press or words mean."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Choice(StrEnum):
    VITAL = "vital"  # 1, or a vital-emergency phrase: someone's life is in danger
    DOCTOR = "doctor"  # 2: a need for a doctor, not life-threatening
    NONE = "none"  # no input: presumed urgent
    INVALID = "invalid"  # a key or words that mean nothing here


#: Initial priority for each choice (domain.md: silence is the default path, as P1).
PRIORITY = {Choice.VITAL: "P0", Choice.DOCTOR: "P2", Choice.NONE: "P1", Choice.INVALID: "P1"}

_SPOKEN_ONE = {"1", "un", "une"}
_SPOKEN_TWO = {"2", "deux"}


def _fold(text: str) -> str:
    """Lower case, accents and apostrophe variants removed, spaces collapsed."""
    text = text.replace("’", "'").lower()
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    return " ".join(text.replace(".", " ").replace(",", " ").replace("!", " ").split())


@dataclass(frozen=True)
class MenuInput:
    digits: str
    speech: str

    @property
    def empty(self) -> bool:
        return not self.digits and not self.speech


def interpret(entry: MenuInput, vital_keywords: tuple[str, ...]) -> Choice:
    if entry.empty:
        return Choice.NONE
    if entry.digits:
        if entry.digits == "1":
            return Choice.VITAL
        if entry.digits == "2":
            return Choice.DOCTOR
        return Choice.INVALID
    spoken = _fold(entry.speech)
    if any(_fold(k) in spoken for k in vital_keywords):
        return Choice.VITAL
    if spoken in _SPOKEN_ONE:
        return Choice.VITAL
    if spoken in _SPOKEN_TWO:
        return Choice.DOCTOR
    return Choice.INVALID


def pro_track(entry: MenuInput) -> str | None:
    """The professionals' line: 1 AMU, 2 libéral, anything else unknown."""
    spoken = _fold(entry.speech) if entry.speech else ""
    if entry.digits == "1" or spoken in _SPOKEN_ONE or "urgen" in spoken:
        return "amu"
    if entry.digits == "2" or spoken in _SPOKEN_TWO or "liberal" in spoken:
        return "liberal"
    return None
