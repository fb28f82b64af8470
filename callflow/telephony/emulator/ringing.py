"""Ringing outbound legs until someone answers: REST-created calls and `<Dial>` children.

Who answers depends on the far end:
- a registered device (`client:<identity>` or a claimed number) rings as its mode says:
  `auto` answers after its delay when idle, `manual` waits for the control API, `busy`
  refuses at once, `no-answer` never picks up;
- a phone number no simulated phone has claimed is answered at once by a silent callee
  (the project's contract for the built-in emulator);
- a client identity nobody registered rings until the timeout (`no-answer`).

Status callbacks follow each leg's `StatusCallbackEvent`s: `initiated`, `ringing`,
`answered`, `completed` (Call resource page; Number and Client noun pages).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .flow import CallEnded, Redirected
from .ids import is_e164
from .models import CallLeg

if TYPE_CHECKING:
    from .engine import Executor


def ring(ex: Executor, legs: list[CallLeg], timeout: float) -> CallLeg | None:
    """Ring `legs` at once for `timeout` emulated seconds; the first to answer wins.

    The losers end `canceled`, the unanswered `no-answer`, the refused `busy`; each gets its
    `completed` status callback. A CallEnded of the executor's own leg propagates after the
    legs are cleaned up, unless the executor's leg is one of those ringing.
    """
    registry = ex.registry
    for leg in legs:
        ex.post_status(leg, "initiated")
    with registry.lock:
        silent = [leg for leg in legs if _start_ringing(ex, leg)]
    for leg in legs:
        if leg.status == "ringing":
            ex.post_status(leg, "ringing")
    with registry.lock:
        for leg in silent:
            if leg.status == "ringing":
                registry.note(leg, "answered", by="silent callee")
                registry.answer_leg(leg)
    winner: CallLeg | None = None
    deadline = registry.offset() + timeout
    try:
        with registry.watching(ex.waker, legs):
            while True:
                remaining = deadline - registry.offset()
                if remaining <= 0:
                    break
                outcome = ex.wait(lambda: _settled(ex, legs), min(remaining, _next_due(ex, legs)))
                if isinstance(outcome, CallLeg):
                    winner = outcome
                    break
                if outcome == "all-refused":
                    break
    except (CallEnded, Redirected) as stop:
        # The dialling call hung up or was redirected: nobody is left to answer for.
        if not (isinstance(stop, CallEnded) and stop.leg in legs):
            _give_up(ex, legs, None, "canceled")
            raise
    _give_up(ex, legs, winner, "no-answer")
    if winner is not None:
        ex.post_status(winner, "answered")
    return winner


def _start_ringing(ex: Executor, leg: CallLeg) -> bool:
    """Make the far end ring (lock held); True when a silent callee will pick up at once."""
    registry = ex.registry
    device = registry.devices.get(leg.to)
    if device is None:
        leg.status = "ringing"
        registry.signal(leg)
        return is_e164(leg.to)
    leg.device = device.address
    if device.mode == "busy":
        leg.ring_outcome = "busy"
        return False
    leg.status = "ringing"
    device.ringing.append(leg.sid)
    registry.signal(leg)
    return False


def _next_due(ex: Executor, legs: list[CallLeg]) -> float:
    """Emulated seconds until an auto-answering device may pick up."""
    registry = ex.registry
    soonest = float("inf")
    with registry.lock:
        for leg in legs:
            device = registry.devices.get(leg.device or "")
            idle = device is not None and not device.connected
            if idle and device is not None and device.mode == "auto" and leg.status == "ringing":
                due = leg.created_offset + device.answer_delay - registry.offset()
                soonest = min(soonest, max(due, 0.0))
    return soonest


def _settled(ex: Executor, legs: list[CallLeg]) -> CallLeg | str | None:
    """The answering leg, "all-refused", or None while still ringing (lock held)."""
    registry = ex.registry
    for leg in legs:
        if leg.status == "in-progress":
            return leg
    for leg in legs:
        device = registry.devices.get(leg.device or "")
        if device is None or device.mode != "auto" or leg.status != "ringing":
            continue
        due = leg.created_offset + device.answer_delay
        if registry.offset() >= due and not device.connected:
            registry.note(leg, "answered", by=device.address)
            registry.answer_leg(leg)
            if leg.sid in device.ringing:
                device.ringing.remove(leg.sid)
            device.connected.append(leg.sid)
            return leg
    if all(leg.ring_outcome is not None or leg.ended for leg in legs):
        return "all-refused"
    return None


def _give_up(ex: Executor, legs: list[CallLeg], winner: CallLeg | None, default: str) -> None:
    """End every leg but the winner, then post their final callbacks."""
    registry = ex.registry
    finished: list[CallLeg] = []
    with registry.lock:
        for leg in legs:
            if leg is winner or leg.ended:
                if leg is not winner and leg.ended:
                    finished.append(leg)
                continue
            status = leg.ring_outcome or ("canceled" if winner is not None else default)
            registry.end_leg(leg, status)
            finished.append(leg)
    for leg in finished:
        ex.post_status(leg, "completed")
