"""The targets policy: one object, stored with its history, each default with its source.

Two sets of figures live here (`domain.md`, "Scales" and "Front-office targets"):

- the *ordering* targets, per queue family and priority, which give each waiting call its
  deadline (and so its place, and what counts as a live breach);
- the *compliance* targets, against which reports mark each stage met or missed: in the ARM
  queue every call against the 60 s answer target whatever its priority; in the regulation
  queues against the ordering targets, except that a P0 ("0 s, always first") is met when a
  regulator takes it within 60 s.

A change is a new version in force from the moment it is saved: a call is judged against the
version in force when it entered the queue, so a change never rewrites the past.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from runtime.clock import now
from runtime.settings import DEFAULT_ARM_TARGETS, DEFAULT_REGULATION_TARGETS, Settings

from .models import TargetPolicy

PRIORITIES = ("P0", "P1", "P2", "P3", "NR")
#: The beginning of time for the defaults (version 0).
ORIGIN = datetime(1970, 1, 1, tzinfo=UTC)
#: No target may exceed a day: a larger figure is a typing error.
MAX_TARGET_S = 86_400

_FRONT_OFFICE = "domain.md, « Front-office targets »"
_SUDF = f"SAMU-Urgences de France (F. Braun, francetvinfo.fr, 2018) — {_FRONT_OFFICE}"
_QRAARM = f"étude QRAARM, Annales françaises de médecine d'urgence, 2018 — {_FRONT_OFFICE}"
_PROJECT = (
    "défaut du projet, aucune cible officielle par priorité — domain.md, « Scales » (configurable)"
)

#: Each field of the policy: its French label, unit and the source of its default.
FIELDS: dict[str, dict[str, str]] = {
    "arm_answer_s": {
        "label": "Décroché ARM : délai cible (tout appel, quelle que soit la priorité)",
        "unit": "s",
        "source": _SUDF,
    },
    "answer_goal": {
        "label": "Part des appels décrochés dans le délai cible",
        "unit": "fraction",
        "source": _SUDF + " : 99 % en 60 s",
    },
    "short_abandon_s": {
        "label": "Abandon compté à partir de (en deçà : abandon court, hors taux)",
        "unit": "s",
        "source": _QRAARM,
    },
    "arm_order_s": {
        "label": "File ARM : ordre de service par priorité (échéance)",
        "unit": "s",
        "source": _PROJECT
        + " ; P1 30 s rejoint la cible locale de décroché en 30 s (page SAS de la CPTS Metz)",
    },
    "regulation_order_s": {
        "label": "Régulation AMU ou libérale : délai cible par priorité",
        "unit": "s",
        "source": _PROJECT,
    },
    "regulation_p0_s": {
        "label": "Régulation : un P0 est conforme s'il est pris en moins de",
        "unit": "s",
        "source": "domain.md, « Scales » : P0 « toujours premier », conforme sous 60 s",
    },
}


class PolicyError(ValueError):
    """A refused policy change: `field` names the first offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Targets:
    """One version of the policy. Seconds unless said otherwise."""

    arm_answer_s: int = 60
    answer_goal: float = 0.99
    short_abandon_s: int = 15
    arm_order_s: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_ARM_TARGETS))
    regulation_order_s: Mapping[str, int] = field(
        default_factory=lambda: dict(DEFAULT_REGULATION_TARGETS)
    )
    regulation_p0_s: int = 60
    #: 0 for the defaults, else the `target_policies` row id.
    version: int = 0
    effective_from: datetime = ORIGIN
    changed_by: str = "défauts du projet"
    note: str | None = None

    @classmethod
    def defaults(cls, settings: Settings | None = None) -> Targets:
        """The defaults; the ordering targets follow the service's settings, so the policy
        and the queues agree until someone changes one of them."""
        if settings is None:
            return cls()
        return cls(
            arm_order_s=dict(settings.arm_targets),
            regulation_order_s=dict(settings.regulation_targets),
        )

    def compliance_s(self, family: str, priority: str) -> int:
        """The target a wait in `family` (`arm` or `regulation`) is judged against."""
        if family == "arm":
            return self.arm_answer_s
        if priority == "P0":
            return self.regulation_p0_s
        return int(self.regulation_order_s.get(priority, self.regulation_order_s["NR"]))

    def values(self) -> dict[str, Any]:
        return {
            "arm_answer_s": self.arm_answer_s,
            "answer_goal": self.answer_goal,
            "short_abandon_s": self.short_abandon_s,
            "arm_order_s": dict(self.arm_order_s),
            "regulation_order_s": dict(self.regulation_order_s),
            "regulation_p0_s": self.regulation_p0_s,
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "effective_from": self.effective_from.isoformat().replace("+00:00", "Z"),
            "changed_by": self.changed_by,
            "note": self.note,
            "values": self.values(),
        }


class PolicyHistory:
    """Every version, oldest first; `at(moment)` is the one in force then."""

    def __init__(self, versions: Sequence[Targets]) -> None:
        self.versions = sorted(versions, key=lambda v: (v.effective_from, v.version))
        self._starts = [v.effective_from for v in self.versions]

    def at(self, moment: datetime | None) -> Targets:
        if moment is None:
            return self.current
        index = bisect.bisect_right(self._starts, moment) - 1
        return self.versions[max(index, 0)]

    @property
    def current(self) -> Targets:
        return self.versions[-1]


def _from_row(row: TargetPolicy, base: Targets) -> Targets:
    values = row.values or {}
    return replace(
        base,
        arm_answer_s=int(values.get("arm_answer_s", base.arm_answer_s)),
        answer_goal=float(values.get("answer_goal", base.answer_goal)),
        short_abandon_s=int(values.get("short_abandon_s", base.short_abandon_s)),
        arm_order_s=dict(values.get("arm_order_s", base.arm_order_s)),
        regulation_order_s=dict(values.get("regulation_order_s", base.regulation_order_s)),
        regulation_p0_s=int(values.get("regulation_p0_s", base.regulation_p0_s)),
        version=row.id,
        effective_from=row.effective_from,
        changed_by=row.changed_by,
        note=row.note,
    )


#: Versions are only ever added (the table is append-only), so their number, highest id and
#: latest start say whether a history read earlier is still whole (the start tells a version
#: saved after a rolled-back one apart, where SQLite gives it the same id). As columns, so
#: that a statement of another table can return them too: `dashboards.refresh`'s upsert
#: does, and a commit learns whether its cached history is still whole without a query.
FINGERPRINT_COLUMNS = (
    select(func.count()).select_from(TargetPolicy).scalar_subquery().label("policy_versions"),
    select(func.max(TargetPolicy.id)).scalar_subquery().label("policy_last_id"),
    select(func.max(TargetPolicy.effective_from)).scalar_subquery().label("policy_latest"),
)
_FINGERPRINT = select(*FINGERPRINT_COLUMNS)
_CACHE_SIZE = 8
Fingerprint = tuple[int, Any, Any]
_histories: list[tuple[Any, Settings | None, Fingerprint, PolicyHistory]] = []


def fingerprint_of(row: Any) -> Fingerprint:
    """The fingerprint carried by a row that has the `FINGERPRINT_COLUMNS`."""
    return (int(row.policy_versions), row.policy_last_id, row.policy_latest)


def load_history(session: Session, settings: Settings | None = None) -> PolicyHistory:
    """The defaults (version 0, in force from the beginning) and every saved version.

    Every commit that touches a call needs it (`dashboards.refresh`), and a policy changes a
    few times a year: the versions are read again only when their fingerprint, one cheap
    query, differs from the one they were read with.
    """
    return history_for(session, settings, fingerprint_of(session.execute(_FINGERPRINT).one()))


def cached_history(
    session: Session, settings: Settings | None = None
) -> tuple[Fingerprint, PolicyHistory] | None:
    """The history last read for this database and settings, with its fingerprint (no
    query: the caller checks the fingerprint)."""
    bind = session.get_bind()
    for cached_bind, cached_settings, fingerprint, history in _histories:
        if cached_bind is bind and cached_settings is settings:
            return fingerprint, history
    return None


def history_for(
    session: Session, settings: Settings | None, fingerprint: Fingerprint
) -> PolicyHistory:
    """The history as it is when the versions have this fingerprint: the cached one, or
    read again."""
    known = cached_history(session, settings)
    if known is not None and known[0] == fingerprint:
        return known[1]
    bind = session.get_bind()
    history = _read_history(session, settings)
    _histories[:] = [e for e in _histories if not (e[0] is bind and e[1] is settings)]
    _histories.insert(0, (bind, settings, fingerprint, history))
    del _histories[_CACHE_SIZE:]
    return history


def _read_history(session: Session, settings: Settings | None) -> PolicyHistory:
    versions = [Targets.defaults(settings)]
    rows = session.scalars(
        select(TargetPolicy).order_by(TargetPolicy.effective_from, TargetPolicy.id)
    )
    for row in rows:
        versions.append(_from_row(row, versions[0]))
    return PolicyHistory(versions)


def _seconds(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(name, f"{name} must be a whole number of seconds")
    if not 0 <= value <= MAX_TARGET_S:
        raise PolicyError(name, f"{name} must be between 0 and {MAX_TARGET_S} s")
    return value


def _per_priority(name: str, value: Any, base: Mapping[str, int]) -> dict[str, int]:
    if not isinstance(value, Mapping):
        raise PolicyError(name, f"{name} must be an object of priorities to seconds")
    merged = dict(base)
    for priority, seconds in value.items():
        if priority not in PRIORITIES:
            raise PolicyError(f"{name}.{priority}", f"unknown priority {priority!r}")
        merged[priority] = _seconds(f"{name}.{priority}", seconds)
    return merged


def validated_values(changes: Mapping[str, Any], base: Targets) -> dict[str, Any]:
    """The whole policy after `changes` (any subset of the fields), or `PolicyError`."""
    values = base.values()
    for name, value in changes.items():
        if name == "note":
            continue
        if name not in FIELDS:
            raise PolicyError(name, f"unknown field {name!r}")
        if name == "answer_goal":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise PolicyError(name, "answer_goal must be a fraction between 0 and 1")
            if not 0 < float(value) <= 1:
                raise PolicyError(name, "answer_goal must be a fraction between 0 and 1")
            values[name] = float(value)
        elif name in ("arm_order_s", "regulation_order_s"):
            values[name] = _per_priority(name, value, base.values()[name])
        else:
            values[name] = _seconds(name, value)
    if values["short_abandon_s"] > values["arm_answer_s"]:
        raise PolicyError("short_abandon_s", "short_abandon_s cannot exceed arm_answer_s")
    return values


def change_policy(
    session: Session,
    *,
    changes: Mapping[str, Any],
    changed_by: str,
    settings: Settings | None = None,
) -> Targets:
    """Save a new version, in force from now on; the caller commits."""
    note = changes.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 500):
        raise PolicyError("note", "note must be a text of at most 500 characters")
    current = load_history(session, settings).current
    values = validated_values(changes, current)
    row = TargetPolicy(effective_from=now(), changed_by=changed_by[:64], note=note, values=values)
    session.add(row)
    session.flush()
    return _from_row(row, current)
