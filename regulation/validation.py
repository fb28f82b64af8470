"""Checking the staff API's JSON bodies: the first offending field is named in a 400
`{"error", "field"}`, with a French reason. Unknown fields are refused too, so a typo never
passes silently."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .access import ApiError

PRIORITIES = ("P0", "P1", "P2", "P3")
SEXES = ("M", "F", "U")
TRACKS = ("amu", "liberal")
OUTCOMES = ("CONSEIL", "PMT", "INTER", "ORIENT", "PASPLUS")
URGENCIES = ("R1", "R2", "R3", "R4")
AGE_GROUPS = ("nourrisson", "enfant", "adolescent", "adulte", "senior", "inconnu")
POSTCODE = re.compile(r"^(?:0[1-9]|[1-8]\d|9[0-8])\d{3}$")
INSEE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")


def bad(field: str, message: str) -> ApiError:
    return ApiError(400, message, field=field)


def body_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise bad("body", "le corps doit être un objet JSON")
    return raw


def only(data: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    allowed_set = set(allowed)
    for key in data:
        if key not in allowed_set:
            raise bad(prefix + str(key), "champ inconnu")


def text(
    data: Mapping[str, Any],
    name: str,
    *,
    prefix: str = "",
    required: bool = True,
    max_length: int = 2000,
    allow_empty: bool = False,
) -> str | None:
    field = prefix + name
    if name not in data or data[name] is None:
        if required:
            raise bad(field, "champ obligatoire")
        return None
    value = data[name]
    if not isinstance(value, str):
        raise bad(field, "doit être une chaîne")
    value = value.strip()
    if not value and not allow_empty:
        raise bad(field, "ne doit pas être vide")
    if len(value) > max_length:
        raise bad(field, f"au plus {max_length} caractères")
    return value


def choice(
    data: Mapping[str, Any],
    name: str,
    options: Iterable[str],
    *,
    prefix: str = "",
    required: bool = True,
) -> str | None:
    field = prefix + name
    values = tuple(options)
    if name not in data or data[name] is None:
        if required:
            raise bad(field, "champ obligatoire")
        return None
    value = data[name]
    if not isinstance(value, str) or value not in values:
        raise bad(field, "valeur attendue : " + ", ".join(values))
    return value


@dataclass(frozen=True)
class Qualification:
    priority: str
    reason: str
    location: dict[str, str]
    patient: dict[str, Any]
    notes: str | None


def qualification(raw: Any) -> Qualification:
    data = body_object(raw)
    only(data, ("priority", "reason", "location", "patient", "notes"))
    priority = choice(data, "priority", PRIORITIES)
    reason = text(data, "reason", max_length=500)
    location_raw = data.get("location")
    if not isinstance(location_raw, dict):
        raise bad("location", "champ obligatoire (objet)")
    only(location_raw, ("address", "postcode", "insee", "floor", "door_code"), "location.")
    location: dict[str, str] = {
        "address": text(location_raw, "address", prefix="location.", max_length=300) or ""
    }
    postcode = text(location_raw, "postcode", prefix="location.", required=False, max_length=5)
    insee = text(location_raw, "insee", prefix="location.", required=False, max_length=5)
    if postcode is None and insee is None:
        raise bad("location.postcode", "code postal ou code INSEE obligatoire")
    if postcode is not None:
        if not POSTCODE.match(postcode):
            raise bad("location.postcode", "code postal à 5 chiffres")
        location["postcode"] = postcode
    if insee is not None:
        if not INSEE.match(insee.upper()):
            raise bad("location.insee", "code INSEE à 5 caractères")
        location["insee"] = insee.upper()
    for optional in ("floor", "door_code"):
        value = text(location_raw, optional, prefix="location.", required=False, max_length=50)
        if value is not None:
            location[optional] = value
    patient_raw = data.get("patient")
    if not isinstance(patient_raw, dict):
        raise bad("patient", "champ obligatoire (objet)")
    only(patient_raw, ("age", "age_group", "sex"), "patient.")
    patient: dict[str, Any] = {}
    if patient_raw.get("age") is not None:
        age = patient_raw["age"]
        if isinstance(age, bool) or not isinstance(age, int) or not 0 <= age <= 130:
            raise bad("patient.age", "âge entier entre 0 et 130")
        patient["age"] = age
    if patient_raw.get("age_group") is not None:
        patient["age_group"] = choice(patient_raw, "age_group", AGE_GROUPS, prefix="patient.")
    if not patient:
        raise bad("patient.age", "âge ou tranche d'âge obligatoire")
    patient["sex"] = choice(patient_raw, "sex", SEXES, prefix="patient.")
    notes = text(data, "notes", required=False, max_length=4000, allow_empty=True)
    assert priority is not None and reason is not None
    return Qualification(priority, reason, location, patient, notes or None)


@dataclass(frozen=True)
class Escalation:
    track: str
    priority: str


def escalation(raw: Any) -> Escalation:
    data = body_object(raw)
    only(data, ("track", "priority"))
    track = choice(data, "track", TRACKS)
    priority = choice(data, "priority", PRIORITIES)
    assert track is not None and priority is not None
    if priority == "P0" and track != "amu":
        raise bad("track", "un P0 est transféré à l'AMU, accompagné")
    return Escalation(track, priority)


@dataclass(frozen=True)
class DecisionBody:
    outcome: str
    urgency: str
    notes: str
    resource: str | None
    orientation: str | None
    callback_at: datetime | None
    snp: bool


def parse_instant(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise bad(field, "date ISO 8601 avec fuseau attendue")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise bad(field, "date ISO 8601 avec fuseau attendue") from None
    if moment.tzinfo is None:
        raise bad(field, "la date doit porter son fuseau (Z ou +01:00)")
    return moment.astimezone(UTC)


def decision(raw: Any) -> DecisionBody:
    data = body_object(raw)
    only(data, ("outcome", "urgency", "notes", "resource", "orientation", "callback_at", "snp"))
    outcome = choice(data, "outcome", OUTCOMES)
    urgency = choice(data, "urgency", URGENCIES)
    notes = text(data, "notes", max_length=4000, allow_empty=True)
    resource = text(data, "resource", required=False, max_length=64)
    orientation = text(data, "orientation", required=False, max_length=64)
    callback_at = (
        parse_instant(data["callback_at"], "callback_at")
        if data.get("callback_at") is not None
        else None
    )
    snp = data.get("snp", False)
    if not isinstance(snp, bool):
        raise bad("snp", "booléen attendu")
    assert outcome is not None and urgency is not None and notes is not None
    return DecisionBody(outcome, urgency, notes, resource, orientation, callback_at, snp)


@dataclass(frozen=True)
class Closing:
    code: str
    notes: str | None


def closing(raw: Any, codes: Iterable[str]) -> Closing:
    data = body_object(raw)
    only(data, ("code", "notes"))
    code = choice(data, "code", codes)
    notes = text(data, "notes", required=False, max_length=4000, allow_empty=True)
    assert code is not None
    return Closing(code, notes or None)


def presence(raw: Any) -> tuple[str, str | None]:
    data = body_object(raw)
    only(data, ("status", "reason"))
    status = choice(data, "status", ("available", "paused", "offline"))
    reason = text(data, "reason", required=False, max_length=200)
    if status == "paused" and not reason:
        raise bad("reason", "une pause demande un motif")
    assert status is not None
    return status, reason if status == "paused" else None


def track_change(raw: Any) -> tuple[str, str | None]:
    data = body_object(raw)
    only(data, ("track", "notes"))
    track = choice(data, "track", TRACKS)
    notes = text(data, "notes", required=False, max_length=2000, allow_empty=True)
    assert track is not None
    return track, notes or None
