"""Producers for the dashboards' tests: what the regulation part writes when agents take,
answer, escalate and decide calls, written through `callflow` and the queue store exactly as
a producer does (commit, then Redis)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask

from callflow.models import Call
from callflow.service import get_call, move, record_event
from callflow.states import CallStatus
from queues.access import call_queues
from queues.placement import new_place, place_call
from runtime.clock import now
from runtime.db import db

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def take(app: Flask, call_id: int, *, agent_id: int, connect: bool = True) -> None:
    """An agent claims the call (lease) and, unless told not to, is connected to the caller."""
    with app.app_context():
        session = db.session
        call = get_call(session, call_id=call_id, for_update=True)
        queue = call.queue or "arm"
        held = CallStatus.WITH_ARM if queue in ("arm", "callback") else CallStatus.WITH_REGULATOR
        call_queues().claim(queues=[queue], agent_id=str(agent_id), now=now(), lease_seconds=30)
        move(
            session,
            call,
            held,
            event="claimed",
            actor=str(agent_id),
            agent_id=agent_id,
            data={"agent_id": agent_id, "queue": queue},
        )
        session.commit()
        if connect:
            record_event(
                session,
                call,
                type="connected",
                actor=str(agent_id),
                data={"agent_id": agent_id, "queue": queue},
            )
            if call.answered_at is None:
                call.answered_at = now()
            session.commit()
        db.session.remove()


def escalate(app: Flask, call_id: int, *, track: str, priority: str) -> None:
    with app.app_context():
        session = db.session
        settings = app.extensions["sas_settings"]
        call = get_call(session, call_id=call_id, for_update=True)
        agent = str(call.agent_id)
        place = new_place(settings, queue=track, priority=priority)
        move(
            session,
            call,
            CallStatus.QUEUED_REGULATION,
            event="escalated",
            actor=agent,
            data={"track": track, "priority": priority, "queue": track},
            queue=track,
            track=track,
            priority=priority,
            enqueued_at=place.enqueued_at,
            deadline=place.deadline,
            agent_id=None,
        )
        session.commit()
        call_queues().transfer(
            call_id=call.id,
            agent_id=agent,
            queue=track,
            priority=priority,
            enqueued_at=place.enqueued_at,
            deadline=place.deadline,
        )
        db.session.remove()


def decide(app: Flask, call_id: int, *, outcome: str = "CONSEIL", orientation: str | None = None):
    with app.app_context():
        session = db.session
        call = get_call(session, call_id=call_id, for_update=True)
        agent = str(call.agent_id)
        move(
            session,
            call,
            CallStatus.COMPLETED,
            event="decision",
            actor=agent,
            data={"outcome": outcome, "urgency": "R4", "orientation": orientation},
            left_queue=call.queue,
            queue=None,
        )
        session.commit()
        call_queues().finish(call_id=call.id)
        db.session.remove()


def call_id_of(app: Flask, sid: str) -> int:
    with app.app_context():
        from sqlalchemy import select

        found = db.session.scalars(select(Call.id).where(Call.call_sid == sid)).one()
        db.session.remove()
        return int(found)


@dataclass
class Step:
    """A hand-built timeline event (what `compute_handling` reads of a `CallEvent`)."""

    type: str
    at: datetime
    data: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    id: int = 0


@dataclass
class FakeCall:
    id: int = 1
    call_sid: str = "CA" + "0" * 32
    line: str = "public"
    status: str = "ivr"
    priority: str = "NR"
    track: str | None = None
    arrived_at: datetime = T0


class Timeline:
    """Builds steps at offsets (seconds after T0), numbering them in order."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, seconds: float, type: str, actor: str | None = None, **data: Any) -> Timeline:
        self.steps.append(
            Step(type, T0 + timedelta(seconds=seconds), data, actor, id=len(self.steps) + 1)
        )
        return self

    def move(self, seconds: float, type: str, source: str, target: str, **data: Any) -> Timeline:
        return self.add(seconds, type, **{"from": source, "to": target}, **data)


__all__ = [
    "T0",
    "FakeCall",
    "Step",
    "Timeline",
    "call_id_of",
    "decide",
    "escalate",
    "place_call",
    "take",
]
