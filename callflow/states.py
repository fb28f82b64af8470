"""The legal moves of a call between statuses: one explicit state machine.

The status values are those of the contract. An illegal move raises `IllegalTransition`
before anything is written, so a record is never corrupted.
"""

from __future__ import annotations

from enum import StrEnum


class CallStatus(StrEnum):
    IVR = "ivr"
    QUEUED_ARM = "queued_arm"
    WITH_ARM = "with_arm"
    QUEUED_REGULATION = "queued_regulation"
    WITH_REGULATOR = "with_regulator"
    CALLBACK_PENDING = "callback_pending"
    COMPLETED = "completed"
    ABANDONED = "abandoned"
    OVERFLOWED = "overflowed"
    FAILED = "failed"


S = CallStatus

TERMINAL: frozenset[CallStatus] = frozenset({S.COMPLETED, S.ABANDONED, S.OVERFLOWED, S.FAILED})
WAITING: frozenset[CallStatus] = frozenset({S.QUEUED_ARM, S.QUEUED_REGULATION})
HELD: frozenset[CallStatus] = frozenset({S.WITH_ARM, S.WITH_REGULATOR})

#: from -> the statuses it may move to. Terminal statuses have no way out: a caller who
#: dials again is a new call, linked to this one.
MOVES: dict[CallStatus, frozenset[CallStatus]] = {
    S.IVR: frozenset({S.QUEUED_ARM, S.QUEUED_REGULATION, S.OVERFLOWED, S.ABANDONED, S.FAILED}),
    S.QUEUED_ARM: frozenset({S.WITH_ARM, S.CALLBACK_PENDING, S.ABANDONED, S.FAILED}),
    # -> CALLBACK_PENDING: a callback taken by an ARM goes back to the callback queue
    # (released, lease expired, the patient did not answer).
    S.WITH_ARM: frozenset(
        {
            S.QUEUED_ARM,
            S.QUEUED_REGULATION,
            S.CALLBACK_PENDING,
            S.COMPLETED,
            S.ABANDONED,
            S.FAILED,
        }
    ),
    S.QUEUED_REGULATION: frozenset({S.WITH_REGULATOR, S.CALLBACK_PENDING, S.ABANDONED, S.FAILED}),
    S.WITH_REGULATOR: frozenset(
        {S.QUEUED_REGULATION, S.COMPLETED, S.CALLBACK_PENDING, S.ABANDONED, S.FAILED}
    ),
    S.CALLBACK_PENDING: frozenset({S.WITH_ARM, S.WITH_REGULATOR, S.COMPLETED, S.FAILED}),
    S.COMPLETED: frozenset(),
    S.ABANDONED: frozenset(),
    S.OVERFLOWED: frozenset(),
    S.FAILED: frozenset(),
}


class IllegalTransition(Exception):
    """A move the state machine does not allow; nothing was changed."""

    def __init__(self, current: str, target: str) -> None:
        super().__init__(f"a call cannot go from {current} to {target}")
        self.current = current
        self.target = target


def check_move(current: str, target: str) -> CallStatus:
    """Return the target status if `current -> target` is legal, else raise."""
    try:
        source, destination = CallStatus(current), CallStatus(target)
    except ValueError:
        raise IllegalTransition(current, target) from None
    if destination not in MOVES[source]:
        raise IllegalTransition(current, target)
    return destination


def is_terminal(status: str) -> bool:
    return status in TERMINAL
