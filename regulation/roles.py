"""Who does what: the staff roles, the queues each role serves, and the Hub codes that go
with regulation.

- ARM (assistant de régulation médicale): answers every call first, qualifies it, escalates
  it to a regulator or closes it.
- AMU regulator (médecin régulateur de l'aide médicale urgente, the SAMU's urgentist) and
  libéral regulator (médecin généraliste régulateur): the second level.
- OSNP (opérateur de soins non programmés): books appointments for the libéral track.
- supervisor and admin: watch the room, declare a surge, manage staff.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ARM = "arm"
    REGULATOR_AMU = "regulator_amu"
    REGULATOR_LIBERAL = "regulator_liberal"
    OSNP = "osnp"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


ROLES: tuple[str, ...] = tuple(r.value for r in Role)
EVERYONE: frozenset[str] = frozenset(ROLES)
REGULATORS: frozenset[str] = frozenset({Role.REGULATOR_AMU, Role.REGULATOR_LIBERAL})
ARM_ROLES: frozenset[str] = frozenset({Role.ARM})
#: Roles that take calls from a queue (and so hold leases).
AGENTS: frozenset[str] = frozenset({Role.ARM}) | REGULATORS
OVERSEERS: frozenset[str] = frozenset({Role.SUPERVISOR, Role.ADMIN})

#: The track each regulator role regulates.
TRACK_OF: dict[str, str] = {Role.REGULATOR_AMU: "amu", Role.REGULATOR_LIBERAL: "liberal"}

ROLE_LABELS: dict[str, str] = {
    Role.ARM: "ARM",
    Role.REGULATOR_AMU: "Régulateur AMU",
    Role.REGULATOR_LIBERAL: "Régulateur libéral",
    Role.OSNP: "OSNP",
    Role.SUPERVISOR: "Superviseur",
    Role.ADMIN: "Administrateur",
}

# HubSante.attribution codes (ansforge SAMU-Hub-Modeles nomenclatures).
ATTRIBUTION_MU = "DRM.MRU.MU"  # an urgentist regulates
ATTRIBUTION_MG = "DRM.MRL.MG"  # a libéral regulates
ATTRIBUTION_INDISPMU = "DRM.MRU.INDISPMU"  # a libéral regulates: no urgentist free
ATTRIBUTION_INDISPMG = "DRM.MRL.INDISPMG"  # an urgentist regulates: no libéral free
ATTRIBUTION_DRARM = "DR.DREG.DRARM"  # no medical regulation: the ARM handles it

#: Closing codes an ARM may use without medical regulation.
CLOSING_CODES: dict[str, str] = {
    "DR.DREG.DRARM": "Traité par l'ARM, sans régulation médicale",
    "DR.DREG.DRINFO": "Demande d'information",
    "D.D-MALV.ERR": "Erreur (faux numéro)",
    "D.D-MALV.NRP": "Ne répond pas",
    "D.D-MALV.MALV": "Appel malveillant",
    "D.D-MALV.FAX": "Fax",
    "D.D-MALV.ITERATIF": "Appel itératif",
}


def queues_for(role: str, *, surge: bool) -> tuple[str, ...]:
    """The queues an agent of `role` takes calls from (none for the other roles)."""
    if role == Role.ARM:
        return ("arm", "callback")
    if role in TRACK_OF:
        own = TRACK_OF[role]
        if surge:
            return (own, "liberal" if own == "amu" else "amu")
        return (own,)
    return ()


def attribution_for(role: str, queue: str) -> str | None:
    """The Hub attribution of a regulator taking a call from `queue`."""
    if role == Role.REGULATOR_AMU:
        return ATTRIBUTION_MU if queue == "amu" else ATTRIBUTION_INDISPMG
    if role == Role.REGULATOR_LIBERAL:
        return ATTRIBUTION_MG if queue == "liberal" else ATTRIBUTION_INDISPMU
    return None
