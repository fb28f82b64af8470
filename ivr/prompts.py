"""Everything the caller hears, in French first. Short: the IVR must never delay a
life-threatening call (domain.md, "Pre-answer")."""

from __future__ import annotations

GREETING = "Service d'accès aux soins, bonjour."
MENU = (
    "Si la vie d'une personne est en danger, appuyez sur 1 ou dites-le. "
    "Pour un besoin de médecin sans danger vital, appuyez sur 2. "
    "Sinon, restez en ligne."
)
MENU_AGAIN = "Choix non reconnu."
PRO_MENU = (
    "Ligne des professionnels de santé. "
    "Pour le régulateur de l'aide médicale urgente, appuyez sur 1. "
    "Pour le médecin régulateur libéral, appuyez sur 2."
)
QUEUED = "Un assistant de régulation médicale va vous répondre. Restez en ligne."
QUEUED_URGENT = "Restez en ligne, nous vous répondons en priorité."
QUEUED_PRO = "Restez en ligne, un médecin régulateur va vous répondre."
CALLBACK_OFFER = "Pour être rappelé sans perdre votre place, appuyez sur 1. Sinon, restez en ligne."
CALLBACK_ACCEPTED = (
    "C'est noté. Nous vous rappellerons à ce numéro dès que possible. "
    "En cas d'aggravation, rappelez le 15. Au revoir."
)
OVERFLOW = "Tous nos assistants sont occupés. Nous transférons votre appel."
FALLBACK = "Veuillez patienter, nous allons vous répondre."
ALREADY_ENDED = "Cet appel est terminé."


def position(rank: int) -> str:
    if rank <= 1:
        return "Vous êtes le prochain appel."
    return f"Vous êtes le {rank}e appel en attente."


def estimated_wait(seconds: int | None) -> str:
    if seconds is None:
        return "Nous vous répondons dès que possible."
    if seconds < 60:
        return "Temps d'attente estimé : moins d'une minute."
    minutes = (seconds + 59) // 60
    return f"Temps d'attente estimé : environ {minutes} minute{'s' if minutes > 1 else ''}."
