"""Handling times: one call's stages, computed from its timeline alone.

The stages are the contract's (`ivr_s`, `arm_wait_s`, `arm_talk_s`, `regulator_wait_s`,
`regulator_talk_s`, `time_to_decision_s`, `total_s`, `abandoned_after_s`). The rules, also
written out in `docs/dashboards.md`:

- A **wait** belongs to a queue family: `arm` (the ARM queue) or `regulation` (the AMU and
  libéral queues). It starts when the call enters a queue of that family and stops when the
  caller is *connected* to an agent (`connected`); a claim alone is not an answer, the caller
  is still on hold.
- **Returns do not start a new wait.** When a lease expires or an agent releases a call, the
  call goes back to its place with its deadline, and its wait *continues*: the time back on
  hold is added to the same stage (`arm_wait_s` or `regulator_wait_s`), the talk before it to
  the talk stage. A stage's wait is the sum of its hold stretches.
- **Bounces between tracks** (AMU ⇄ libéral) stay in the one regulation wait: hold stretches
  in either regulation queue add up, and talks with either track's regulators add up.
  Compliance is judged on the first entry into regulation (its priority, and the policy in
  force then).
- **Callbacks.** Time waiting for a callback is not time on hold: it is measured apart, from
  the request (the caller accepted the callback, or a deferred decision scheduled one) to the
  first outbound attempt and to the conversation. A caller who accepted a callback has, as
  `arm_wait_s`, their time on hold before accepting; it is reported once the callback
  conversation connects them to an agent.
- **Talk** is the sum of connected stretches with agents of that family, closed by the
  escalation, a decision, a closing, a return to the queue, or the end of the call.
- A **stage not finished** (the caller still waits, or still talks) is `None`, as is a stage
  the call never went through.
- **Abandonment**: `abandoned_after_s` is the caller's wait in the queue they hung up in
  (the same sum of stretches). Under the policy's short-abandon threshold (15 s) it is a
  short abandon; a hang-up in the IVR, before any queue, is a short abandon too.
- The **answer** (for the service level) is the call's first connection to any agent; its
  wait is the stage wait of that family (ARM for the public line, regulation for calls that
  went straight to a regulator) and "within target" is that stage's `met`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from callflow.states import TERMINAL, CallStatus

from . import timeline as ev
from .policy import PolicyHistory

STAGES = (
    "ivr_s",
    "arm_wait_s",
    "arm_talk_s",
    "regulator_wait_s",
    "regulator_talk_s",
    "time_to_decision_s",
    "total_s",
    "abandoned_after_s",
)
MET_STAGES = ("arm_wait_s", "regulator_wait_s")

_QUEUE_FAMILY = {"arm": "arm", "callback": "callback", "amu": "regulation", "liberal": "regulation"}
_STATUS_VALUES = frozenset(s.value for s in CallStatus)
_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)


class CallFacts(Protocol):
    """What the arithmetic needs of a call (a `callflow.models.Call` has it)."""

    id: int
    call_sid: str
    line: str
    status: str
    priority: str
    track: str | None
    arrived_at: datetime


class EventFacts(Protocol):
    """What the arithmetic needs of a timeline event (a `CallEvent` has it)."""

    id: int
    type: str
    at: datetime
    actor: str | None
    data: dict[str, Any]


@dataclass
class _Family:
    """One queue family's part of the call."""

    entered_at: datetime | None = None
    priority: str | None = None
    wait_s: float = 0.0
    talk_s: float = 0.0
    answered_at: datetime | None = None
    agent: str | None = None


@dataclass
class HandlingTimes:
    """The computed row for one call (the columns of `HandlingTime`)."""

    call_id: int
    call_sid: str
    arrived_at: datetime
    status: str
    priority: str
    track: str | None
    line: str | None
    stages: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(STAGES))
    arm_entered_at: datetime | None = None
    arm_target_s: int | None = None
    arm_met: bool | None = None
    regulation_entered_at: datetime | None = None
    regulation_priority: str | None = None
    regulator_target_s: int | None = None
    regulator_met: bool | None = None
    answered_at: datetime | None = None
    answer_wait_s: float | None = None
    answer_met: bool | None = None
    abandon_kind: str | None = None
    abandoned_at: datetime | None = None
    abandoned_queue: str | None = None
    abandon_met: bool | None = None
    escalated_track: str | None = None
    track_changes: int = 0
    decision: str | None = None
    urgency: str | None = None
    decided_at: datetime | None = None
    snp: bool = False
    arm_agent: str | None = None
    regulator_agent: str | None = None
    callback_requested_at: datetime | None = None
    callback_attempts: int = 0
    callback_first_attempt_s: float | None = None
    callback_connected_s: float | None = None
    ended_at: datetime | None = None
    last_event_id: int = 0

    @property
    def met(self) -> dict[str, bool]:
        """`met` as the report shows it: only the wait stages that have a value."""
        judged: dict[str, bool] = {}
        if self.arm_met is not None:
            judged["arm_wait_s"] = self.arm_met
        if self.regulator_met is not None:
            judged["regulator_wait_s"] = self.regulator_met
        return judged

    def columns(self) -> dict[str, Any]:
        """The values of a `HandlingTime` row."""
        values = {k: v for k, v in vars(self).items() if k != "stages"}
        values.update(self.stages)
        return values


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max((end - start).total_seconds(), 0.0), 3)


def _status_to(data: Mapping[str, Any]) -> str | None:
    """The status an event moved the call to, when it is a status move."""
    target = data.get("to")
    if isinstance(target, str) and target in _STATUS_VALUES and data.get("from") is not None:
        return target
    return None


def _agent(event: EventFacts) -> str | None:
    data = event.data or {}
    agent = data.get("agent_id", event.actor)
    return str(agent)[:64] if agent not in (None, "") else None


class _Walk:
    """The timeline read in order: a small state machine over holds, talks and callbacks."""

    def __init__(self, call: CallFacts) -> None:
        self.call = call
        self.phase = "ivr"  # ivr, waiting, held, talking, decided, callback, callback_held, ended
        self.family: str | None = None
        self.stretch_start: datetime | None = None
        self.claimed_at: datetime | None = None
        self.families = {"arm": _Family(), "regulation": _Family()}
        self.first_queue_at: datetime | None = None
        self.priority = "NR"
        self.regulation_queue: str | None = None
        self.queue: str | None = None
        self.callback_origin: str | None = None
        self.abandoned_family: str | None = None
        self.abandoned_after_s: float | None = None
        self.end_status: str | None = None
        self.ended_at: datetime | None = None
        self.first_decision_at: datetime | None = None
        self.decision: str | None = None
        self.urgency: str | None = None
        self.orientation: str | None = None
        self.snp_requested = False
        self.escalated_track: str | None = None
        self.track_changes = 0
        self.callback_requested_at: datetime | None = None
        self.callback_first_attempt_at: datetime | None = None
        self.callback_connected_at: datetime | None = None
        self.callback_attempt_numbers: set[Any] = set()

    # -- stretches ------------------------------------------------------------------------

    def _close_stretch(self, at: datetime) -> None:
        """End the running hold or talk stretch, adding it to its family."""
        if self.family not in self.families or self.stretch_start is None:
            self.stretch_start = None
            return
        elapsed = max((at - self.stretch_start).total_seconds(), 0.0)
        part = self.families[self.family]
        if self.phase in ("waiting", "held"):
            part.wait_s += elapsed
        elif self.phase == "talking":
            part.talk_s += elapsed
        self.stretch_start = None

    def _connect(self, at: datetime, agent: str | None) -> None:
        if self.phase in ("waiting", "held"):
            self._close_stretch(at)
        elif self.phase == "callback_held":
            if self.callback_connected_at is None:
                self.callback_connected_at = at
        else:
            return  # already talking, or nothing to answer: a repeated event
        family = self.family if self.family in self.families else None
        if family is None:
            return
        part = self.families[family]
        if part.answered_at is None:
            part.answered_at = at
        if agent is not None:
            part.agent = agent
        self.phase = "talking"
        self.stretch_start = at

    # -- events ---------------------------------------------------------------------------

    def read(self, event: EventFacts) -> None:
        data = event.data or {}
        at = event.at
        if isinstance(data.get("priority"), str):
            self.priority = data["priority"]
        if event.type == ev.CONNECTED:
            self._connect(at, _agent(event))
        elif event.type in ev.TALK_PROOF and self.phase in ("held", "callback_held"):
            # The agent talked with the caller though no `connected` was written: the
            # answer is taken as the claim.
            self._connect(self.claimed_at or at, _agent(event))
        if event.type == ev.DECISION:
            self._decide(at, data)
        elif event.type == ev.CALLBACK_ATTEMPT:
            # One attempt writes several events (placed, answered, its end): count attempts.
            self.callback_attempt_numbers.add(
                data.get("attempt", len(self.callback_attempt_numbers) + 1)
            )
            if self.callback_first_attempt_at is None:
                self.callback_first_attempt_at = at
        elif event.type == ev.CALLBACK_DUE and data.get("kind") == "decision":
            # A callback scheduled by a decision is owed from its due time, not before.
            if self.callback_first_attempt_at is None:
                self.callback_requested_at = at
        elif event.type == ev.SNP_REQUESTED:
            self.snp_requested = True
        target = _status_to(data)
        if event.type == ev.OVERFLOWED:
            target = CallStatus.OVERFLOWED.value
        elif event.type == ev.ENDED_BEFORE_ARRIVAL:
            # Opened already ended (a late status callback for a call never seen).
            final = self.call.status
            target = final if final in _TERMINAL_VALUES else CallStatus.ABANDONED.value
        if target is not None:
            self._move(event, target, data)

    def _decide(self, at: datetime, data: Mapping[str, Any]) -> None:
        if self.first_decision_at is None:
            self.first_decision_at = at
        outcome = data.get("outcome")
        if isinstance(outcome, str):
            self.decision = outcome[:16]
        urgency = data.get("urgency")
        if isinstance(urgency, str):
            self.urgency = urgency[:4]
        orientation = data.get("orientation")
        self.orientation = orientation if isinstance(orientation, str) else None
        if self.phase == "talking" and self.family == "regulation":
            self._close_stretch(at)
            self.phase = "decided"

    def _queue_of(self, target: str, data: Mapping[str, Any]) -> str:
        queue = data.get("queue")
        if isinstance(queue, str) and queue in _QUEUE_FAMILY:
            return queue
        track = data.get("track")
        if target == CallStatus.QUEUED_REGULATION and track in ("amu", "liberal"):
            return str(track)
        if target == CallStatus.QUEUED_ARM:
            return "arm"
        if target == CallStatus.CALLBACK_PENDING:
            return "callback"
        return self.regulation_queue or self.call.track or "amu"

    def _move(self, event: EventFacts, target: str, data: Mapping[str, Any]) -> None:
        at = event.at
        if target in (CallStatus.QUEUED_ARM, CallStatus.QUEUED_REGULATION):
            self._enter(event, target, self._queue_of(target, data), data)
        elif target == CallStatus.CALLBACK_PENDING:
            if self.phase in ("waiting", "held", "talking"):
                self._close_stretch(at)
            self.callback_origin = self.family if self.family in self.families else "arm"
            if self.callback_requested_at is None:
                self.callback_requested_at = at
            if self.first_queue_at is None:
                self.first_queue_at = at
            self.phase = "callback"
            self.queue = "callback"
        elif target in (CallStatus.WITH_ARM, CallStatus.WITH_REGULATOR):
            self.claimed_at = at
            if self.phase == "waiting":
                self.phase = "held"  # the wait goes on until the caller is connected
            elif self.phase in ("callback", "callback_held"):
                self.phase = "callback_held"
                self.family = "arm" if target == CallStatus.WITH_ARM else "regulation"
        elif target in _TERMINAL_VALUES:
            self._end(at, target)

    def _enter(self, event: EventFacts, target: str, queue: str, data: Mapping[str, Any]) -> None:
        at = event.at
        family = "arm" if target == CallStatus.QUEUED_ARM else "regulation"
        if family == "regulation":
            if (
                event.type == ev.ESCALATED or data.get("from") == CallStatus.WITH_ARM
            ) and self.escalated_track is None:
                self.escalated_track = queue
            if self.regulation_queue is not None and queue != self.regulation_queue:
                self.track_changes += 1
            self.regulation_queue = queue
        self.queue = queue
        if self.phase in ("waiting", "held") and self.family == family:
            self.phase = "waiting"  # a move inside the family: the same wait goes on
            return
        if self.phase in ("waiting", "held", "talking"):
            self._close_stretch(at)
        if self.first_queue_at is None:
            self.first_queue_at = at
        part = self.families[family]
        if part.entered_at is None:
            part.entered_at = at
            part.priority = self.priority
        self.family = family
        self.phase = "waiting"
        self.stretch_start = at

    def _end(self, at: datetime, target: str) -> None:
        if target == CallStatus.ABANDONED and self.phase in ("waiting", "held"):
            part = self.families[self.family or "arm"]
            assert self.stretch_start is not None
            self.abandoned_after_s = round(
                part.wait_s + max((at - self.stretch_start).total_seconds(), 0.0), 3
            )
            self.abandoned_family = self.family
        if self.phase in ("waiting", "held", "talking"):
            self._close_stretch(at)
        if self.ended_at is None:
            self.ended_at = at
            self.end_status = target
        self.phase = "ended"

    def in_family(self, family: str) -> bool:
        """Whether that family's part is still going on (waiting, held or talking)."""
        return self.family == family and self.phase in ("waiting", "held", "talking")


def compute_handling(
    call: CallFacts, events: Iterable[EventFacts], policies: PolicyHistory
) -> HandlingTimes:
    """The call's handling times from its timeline, judged against `policies`."""
    ordered = sorted(events, key=lambda e: (e.at, e.id))
    walk = _Walk(call)
    for event in ordered:
        walk.read(event)
    result = HandlingTimes(
        call_id=call.id,
        call_sid=call.call_sid,
        arrived_at=call.arrived_at,
        status=call.status,
        priority=call.priority,
        track=call.track,
        line=call.line,
        last_event_id=max((e.id for e in ordered if e.type not in ev.INERT), default=0),
    )
    arrival = call.arrived_at
    stages = result.stages
    stages["ivr_s"] = _seconds(arrival, walk.first_queue_at)
    stages["time_to_decision_s"] = _seconds(arrival, walk.first_decision_at)
    stages["total_s"] = _seconds(arrival, walk.ended_at)
    stages["abandoned_after_s"] = walk.abandoned_after_s
    result.ended_at = walk.ended_at

    arm, reg = walk.families["arm"], walk.families["regulation"]
    if arm.entered_at is not None and arm.answered_at is not None:
        stages["arm_wait_s"] = round(arm.wait_s, 3)
    if arm.answered_at is not None and not walk.in_family("arm"):
        stages["arm_talk_s"] = round(arm.talk_s, 3)
    if reg.entered_at is not None and reg.answered_at is not None:
        stages["regulator_wait_s"] = round(reg.wait_s, 3)
    if reg.answered_at is not None and not walk.in_family("regulation"):
        stages["regulator_talk_s"] = round(reg.talk_s, 3)

    if arm.entered_at is not None:
        policy = policies.at(arm.entered_at)
        result.arm_entered_at = arm.entered_at
        result.arm_target_s = policy.compliance_s("arm", arm.priority or "NR")
        if stages["arm_wait_s"] is not None:
            result.arm_met = stages["arm_wait_s"] <= result.arm_target_s
    if reg.entered_at is not None:
        policy = policies.at(reg.entered_at)
        result.regulation_entered_at = reg.entered_at
        result.regulation_priority = reg.priority or "NR"
        result.regulator_target_s = policy.compliance_s("regulation", result.regulation_priority)
        if stages["regulator_wait_s"] is not None:
            result.regulator_met = stages["regulator_wait_s"] <= result.regulator_target_s

    answered = [
        (part.answered_at, name)
        for name, part in walk.families.items()
        if part.answered_at is not None and part.entered_at is not None
    ]
    if answered:
        answered_at, family = min(answered)
        result.answered_at = answered_at
        result.answer_wait_s = stages["arm_wait_s" if family == "arm" else "regulator_wait_s"]
        result.answer_met = result.arm_met if family == "arm" else result.regulator_met

    if walk.end_status == CallStatus.ABANDONED:
        result.abandoned_at = walk.ended_at
        if walk.abandoned_after_s is not None and walk.abandoned_family in walk.families:
            part = walk.families[walk.abandoned_family]
            policy = policies.at(part.entered_at)
            long_enough = walk.abandoned_after_s >= policy.short_abandon_s
            result.abandon_kind = "long" if long_enough else "short"
            result.abandoned_queue = walk.queue
            target = policy.compliance_s(walk.abandoned_family, part.priority or "NR")
            result.abandon_met = walk.abandoned_after_s <= target
        else:
            result.abandon_kind = "short"  # hung up in the IVR, before any queue
    result.escalated_track = walk.escalated_track
    result.track_changes = walk.track_changes
    result.decision = walk.decision
    result.urgency = walk.urgency
    result.decided_at = walk.first_decision_at
    result.snp = walk.snp_requested or (
        walk.decision == "ORIENT" and walk.orientation in ev.SNP_ORIENTATIONS
    )
    result.arm_agent = arm.agent
    result.regulator_agent = reg.agent
    result.callback_requested_at = walk.callback_requested_at
    result.callback_attempts = len(walk.callback_attempt_numbers)
    result.callback_first_attempt_s = _seconds(
        walk.callback_requested_at, walk.callback_first_attempt_at
    )
    result.callback_connected_s = _seconds(walk.callback_requested_at, walk.callback_connected_at)
    return result
